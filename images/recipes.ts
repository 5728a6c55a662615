/**
 * Every image the project builds, and what is in each: the single source of truth for what a release ships (`tlr`,
 * `tlr-init`) and for what the test cluster runs (Tekton's own images from its sources, the sandbox, and stand-ins
 * for the tool images the examples name, with the published images' layout: a tool image `FROM scratch` has no
 * shell here either, so an example that needs one fails here as it would on a real cluster).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { importClosure, copyPackages, copyProjectFiles, javascriptUnder, packageClosure, productionPackages, readLockfile } from './node-app.js';
import { EXEC_IMAGE_PATH } from '../src/api/names.js';
import { TEKTON_COMMANDS } from '../test/support/go-builds.js';
import type { ImageConfig } from './oci-archive.js';
import type { RootFs } from './rootfs.js';

export interface BuildContext {
  readonly projectDir: string;
  /** The project's version (package.json), the tag of the release images. */
  readonly version: string;
  /** Directories holding the built Go commands, by build name (`tekton`, `node`). */
  readonly goBinaries: Readonly<Record<'tekton' | 'node' | 'exec', string>>;
  /** A copy of the Node binary to ship (from the `node` package), stripped of debug information when possible. */
  readonly nodeBinary: string;
}

export type ImageGroup = 'release' | 'tekton' | 'cluster' | 'stand-in';

export interface ImageRecipe {
  /** Short name, for `npm run images -- <name>…` and the archive's file name. */
  readonly name: string;
  readonly ref: string;
  readonly group: ImageGroup;
  readonly description: string;
  /** Debian packages the host must have installed to build it. */
  readonly debianPackages: readonly string[];
  readonly config: ImageConfig;
  readonly owners?: Readonly<Record<string, { uid: number; gid: number }>>;
  /** Fills the root filesystem. */
  stage(fs: RootFs, ctx: BuildContext): Promise<void>;
  /** Run under chroot in the staged root filesystem after staging; each must exit 0. */
  readonly checks?: readonly (readonly string[])[];
  /** Likewise, each must fail: proves the image lacks what the published one lacks. */
  readonly mustFail?: readonly (readonly string[])[];
}

/** Registry-less names (`localhost/…`, as podman names local builds) for what we build ourselves: nothing is pulled. */
export const RELEASE_REPOSITORY = 'localhost/tekton-large-results';
export const TEKTON_REPOSITORY = 'localhost/tektoncd/pipeline';
const NONROOT = 65532;
/** The non-root user's home belongs to it, as in distroless images (client-go stats ~/.kube/config at start). */
const NONROOT_HOME = { '/home/nonroot': { uid: NONROOT, gid: NONROOT } };

async function accounts(fs: RootFs): Promise<void> {
  await fs.writeFile('/etc/passwd', `root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:${NONROOT}:${NONROOT}:nonroot:/home/nonroot:/sbin/nologin\n`);
  await fs.writeFile('/etc/group', `root:x:0:\nnonroot:x:${NONROOT}:\n`);
  await fs.mkdir('/home/nonroot', 0o700);
  await fs.mkdir('/tmp', 0o1777);
}

/** Alpine-like: busybox for /bin/sh and the usual applets (Debian's busybox-static; Debian's merged /usr layout). */
async function busyboxBase(fs: RootFs): Promise<void> {
  await fs.copyHostPath('/bin/busybox');
  await fs.addBusyboxApplets('/usr/bin/busybox', '/usr/bin');
  await fs.mkdir('/tmp', 0o1777);
  await fs.mkdir('/root', 0o700);
  await fs.writeFile('/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n');
  await fs.writeFile('/etc/group', 'root:x:0:\nnobody:x:65534:\n');
}

async function nodeRuntime(fs: RootFs, ctx: BuildContext): Promise<void> {
  await accounts(fs);
  await fs.copyFileAs(ctx.nodeBinary, '/nodejs/bin/node', 0o755);
  await fs.addElfDependencies();
}

const NODE_ENV = ['PATH=/nodejs/bin:/usr/local/bin:/usr/bin:/bin', 'NODE_ENV=production'];
const labels = (title: string, description: string): Record<string, string> => ({
  'org.opencontainers.image.title': title,
  'org.opencontainers.image.description': description,
  'org.opencontainers.image.licenses': 'Apache-2.0',
});

function tlr(version: string): ImageRecipe {
  const description = 'Tekton Large Results: the tlr CLI, controller and admission webhook';
  return {
    name: 'tlr', ref: `${RELEASE_REPOSITORY}/tlr:v${version}`, group: 'release', description, debianPackages: [], owners: NONROOT_HOME,
    config: {
      User: `${NONROOT}:${NONROOT}`, Env: NODE_ENV, WorkingDir: '/app', Labels: labels('tlr', description),
      Entrypoint: ['/nodejs/bin/node', '/app/dist/src/cli/main.js'],
    },
    async stage(fs, ctx) {
      await nodeRuntime(fs, ctx);
      await fs.copyFileAs(join(ctx.projectDir, 'package.json'), '/app/package.json', 0o644);
      await copyProjectFiles(fs, ctx.projectDir, await javascriptUnder(join(ctx.projectDir, 'dist/src')), '/app');
      await copyPackages(fs, ctx.projectDir, productionPackages(await readLockfile(ctx.projectDir)), '/app');
    },
    checks: [['/nodejs/bin/node', '/app/dist/src/cli/main.js', '--help']],
  };
}

function tlrInit(version: string): ImageRecipe {
  const description = 'Tekton Large Results: prepares, seals and substitutes results in Tekton pods';
  return {
    name: 'tlr-init', ref: `${RELEASE_REPOSITORY}/tlr-init:v${version}`, group: 'release', description, debianPackages: [], owners: NONROOT_HOME,
    config: {
      User: `${NONROOT}:${NONROOT}`, Env: NODE_ENV, WorkingDir: '/app', Labels: labels('tlr-init', description),
      Entrypoint: ['/nodejs/bin/node', '/app/dist/init/main.js'],
    },
    async stage(fs, ctx) {
      await nodeRuntime(fs, ctx);
      await fs.copyFileAs(join(ctx.projectDir, 'package.json'), '/app/package.json', 0o644);
      // Only what dist/init/main.js loads: the rewrite gives Tekton steps `command: [tlr-init]`, so it is also on PATH.
      const main = join(ctx.projectDir, 'dist/init/main.js');
      const closure = await importClosure(main);
      await copyProjectFiles(fs, ctx.projectDir, closure.files.filter((f) => f !== main), '/app');
      const source = await readFile(main, 'utf8');
      await fs.writeFile('/app/dist/init/main.js', source.replace(/^#!.*\n/, '#!/nodejs/bin/node\n'), 0o755);
      await copyPackages(fs, ctx.projectDir, packageClosure(await readLockfile(ctx.projectDir), closure.packages), '/app');
      await fs.symlink('/usr/local/bin/tlr-init', '/app/dist/init/main.js');
      // The exec helper (exec/): copied by `substitute --install-exec` into consumer pods whose steps need it.
      await fs.copyFileAs(join(ctx.goBinaries.exec, 'tlr-exec'), EXEC_IMAGE_PATH, 0o755);
    },
    // The second: the static helper starts in the image and execs a command (no references declared: unchanged).
    checks: [['/usr/local/bin/tlr-init', '--help'], [EXEC_IMAGE_PATH, '--root', '/', '--', '/usr/local/bin/tlr-init', '--help']],
  };
}

/**
 * Tekton's images as `ko` builds them from its `.ko.yaml`: the static command at /ko-app/<name>, non-root, on a static
 * distroless base; the resolvers' base (`plumbing/tini-git`) adds tini as /sbin/tini (its Deployment's command) and
 * git (the git resolver runs it), here from Debian's tini and git packages.
 */
function tekton(command: string): ImageRecipe {
  const tiniGit = command === 'resolvers';
  return {
    name: `tekton-${command}`, ref: `${TEKTON_REPOSITORY}/${command}:v1.15.0`, group: 'tekton',
    description: `Tekton Pipelines v1.15.0 ${command}, built from its sources`, owners: NONROOT_HOME,
    debianPackages: tiniGit ? ['tini', 'git'] : [],
    config: { User: `${NONROOT}`, Env: ['PATH=/ko-app:/usr/bin:/bin', 'KO_DATA_PATH=/var/run/ko'], Entrypoint: [`/ko-app/${command}`] },
    async stage(fs, ctx) {
      await accounts(fs);
      await fs.mkdir('/var/run/ko');
      await fs.copyFileAs(join(ctx.goBinaries.tekton, command), `/ko-app/${command}`, 0o755);
      if (tiniGit) {
        await fs.copyFileAs('/usr/bin/tini-static', '/sbin/tini', 0o755);
        await fs.addDebianPackages(['git']);
        await fs.addElfDependencies();
      }
    },
    // (git itself opens /dev/null at start, which a chroot of the staged tree lacks; its libraries are checked above.)
    ...(tiniGit ? { checks: [['/sbin/tini', '--version']] } : {}),
  };
}

const pause: ImageRecipe = {
  name: 'pause', ref: 'registry.k8s.io/pause:3.10', group: 'cluster', debianPackages: [],
  description: 'The pods\' sandbox: sleeps, reaps zombies (test/cluster/node/cmd/pause)',
  config: { User: '65535:65535', Entrypoint: ['/pause'] },
  async stage(fs, ctx) {
    await fs.copyFileAs(join(ctx.goBinaries.node, 'pause'), '/pause', 0o755);
  },
};

function busybox(name: string, ref: string, description: string): ImageRecipe {
  return {
    name, ref, group: 'stand-in', description, debianPackages: ['busybox-static'],
    config: { Env: ['PATH=/usr/local/bin:/usr/bin:/bin'], Cmd: ['sh'] },
    stage: busyboxBase,
    checks: [['/bin/sh', '-c', 'echo ok | base64 | base64 -d']],
  };
}

const python: ImageRecipe = {
  name: 'python', ref: 'docker.io/library/python:3.13-alpine', group: 'stand-in', debianPackages: ['busybox-static', 'python3-minimal', 'libpython3.11-stdlib'],
  description: 'Stand-in for python:3.13-alpine: busybox and Python 3 (Debian\'s python3.11)',
  config: { Env: ['PATH=/usr/local/bin:/usr/bin:/bin', 'LANG=C.UTF-8'], Cmd: ['python3'] },
  async stage(fs) {
    await fs.addDebianPackages(['python3-minimal', 'python3.11-minimal', 'libpython3.11-minimal', 'libpython3.11-stdlib']);
    await busyboxBase(fs);
    await fs.addElfDependencies();
  },
  checks: [['/usr/bin/env', 'python3', '-c', 'import json, hashlib, sys; json.dump({"ok": hashlib.sha256(b"").hexdigest()}, sys.stdout)']],
};

const bash: ImageRecipe = {
  name: 'bash', ref: 'docker.io/library/bash:5.2', group: 'stand-in', debianPackages: ['busybox-static', 'bash'],
  description: 'Stand-in for bash:5.2 (Alpine with bash): busybox and Debian\'s bash 5.2',
  config: { Env: ['PATH=/usr/local/bin:/usr/bin:/bin'], Cmd: ['bash'] },
  async stage(fs) {
    await fs.addDebianPackages(['bash']);
    await busyboxBase(fs);
    await fs.addElfDependencies();
  },
  checks: [['/usr/bin/env', 'bash', '-c', 'set -euo pipefail; [[ $(printf %s x | sha256sum) == 2d711642* ]]']],
};

/** ghcr.io/jqlang/jq is `FROM scratch` with only /jq: no shell, so `script:` steps cannot run in it. */
const jq: ImageRecipe = {
  name: 'jq', ref: 'ghcr.io/jqlang/jq:1.7.1', group: 'stand-in', debianPackages: ['jq'],
  description: 'Stand-in for ghcr.io/jqlang/jq:1.7.1 (FROM scratch, only /jq): Debian\'s jq and the libraries it loads, no shell',
  config: { Entrypoint: ['/jq'] },
  async stage(fs) {
    await fs.copyFileAs('/usr/bin/jq', '/jq', 0o755);
    await fs.addElfDependencies();
  },
  checks: [['/jq', '-n', '1+1']],
  mustFail: [['/bin/sh', '-c', 'true']],
};

/**
 * Every program the public catalog's Tasks run (their steps' commands and their scripts' interpreters, tektoncd/catalog
 * at 55dd80e; `ls`, the readiness probe of docker-build's and dockerslim-build's sidecars, which exits 0 as the
 * recorder), and the usual shells: in the recorder image each is a symlink to the recorder (test/catalog/on-cluster.ts).
 */
export const RECORDER_PROGRAMS = [
  '/bin/ls', '/bin/sh', '/bin/bash', '/usr/bin/env', '/usr/bin/sh', '/usr/bin/bash', '/usr/bin/python', '/usr/bin/python3', '/bin/shellcheck',
  '/cnb/lifecycle/analyzer', '/cnb/lifecycle/builder', '/cnb/lifecycle/creator', '/cnb/lifecycle/detector',
  '/cnb/lifecycle/exporter', '/cnb/lifecycle/extender', '/gke-deploy', '/ko-app/kn', '/ko-app/kubeconfigwriter',
  '/ko-app/pullrequest-init', '/ko-app/git-init', '/makisu-internal/makisu', '/pluto', '/usr/bin/tower-cli',
  '/usr/libexec/platform-python', '/usr/local/bin/s2i',
  ...['az', 'bentoml', 'buildctl', 'buildctl-daemonless.sh', 'checkmake', 'conftest', 'curl', 'entrypoint', 'gsutil', 'helm',
    'ibmcloud', 'kubeval', 'mdl', 'npm', 'orka-full', 'prettier', 'rubocop', 'sendevent', 'sonar-scanner', 'terraform',
    'tslint', 'wget', 'yamllint'].map((c) => `/usr/local/bin/${c}`),
] as const;

/**
 * Test only: a catalog Task's steps run in this image in place of their own (which this offline machine cannot pull)
 * and record what they were started with instead of doing their work (test/cluster/node/cmd/tlr-recorder).
 */
const recorder: ImageRecipe = {
  name: 'recorder', ref: 'localhost/tlr-test/recorder:1', group: 'cluster', debianPackages: [],
  description: 'Test only: every program the catalog\'s Tasks run, each the recorder, which logs its argv, cwd, env and scripts',
  // The entrypoint a step naming no command runs (Tekton looks it up in the test registry, which serves this image).
  config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Entrypoint: ['/tlr-recorder'] },
  async stage(fs, ctx) {
    await fs.copyFileAs(join(ctx.goBinaries.node, 'tlr-recorder'), '/tlr-recorder', 0o755);
    await accounts(fs);
    for (const program of RECORDER_PROGRAMS) await fs.symlink(program, '/tlr-recorder');
  },
  checks: [['/bin/sh', '-c', 'true']],
};

export function recipes(version: string): ImageRecipe[] {
  return [
    tlr(version), tlrInit(version),
    ...TEKTON_COMMANDS.map(tekton),
    pause,
    // Tekton's release names its shell image by digest, which a local build cannot match: the harness puts this tag in
    // its place (test/support/node/tekton.ts). Tagged with the busybox version it is, never `latest` (always pulled).
    busybox('tekton-shell', 'cgr.dev/chainguard/busybox:1.35', 'Stand-in for Tekton\'s shell image (chainguard busybox): Debian\'s busybox-static'),
    busybox('busybox', 'docker.io/library/busybox:1.35', 'Stand-in for busybox:1.35: Debian\'s busybox-static 1.35'),
    python, bash, jq,
    recorder,
  ];
}
