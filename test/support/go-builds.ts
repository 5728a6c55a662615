/**
 * The three wrapper Go modules under test/cluster/ and how each is built (see ./go-build.ts for the cache):
 *
 * - `kubernetes` (test/cluster/binaries): kube-apiserver, etcd, kubelet, kube-controller-manager, kube-scheduler,
 *   kube-proxy and kubectl at the pinned Kubernetes release, version-stamped like a release build so `--version`
 *   tells the truth.
 * - `tekton` (test/cluster/tekton): Tekton Pipelines' controller, webhook and the images' commands, static.
 * - `node` (test/cluster/node): the CSI external-provisioner, the test CSI driver, the pods' sandbox and the catalog
 *   run's recorder (test/catalog/on-cluster.ts), static.
 *
 * And the project's own Go module, `exec/`: the exec helper `tlr-exec` the tlr-init image ships (static, no
 * dependency: it runs in any step image).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ensureGoBuild, type GoBuild } from './go-build.js';

/** This file runs as dist/test/support/go-builds.js, three levels below the project root. */
const moduleDir = (name: string): string => fileURLToPath(new URL(`../../../test/cluster/${name}/`, import.meta.url));

export const KUBERNETES_MODULE_DIR = moduleDir('binaries');

/** The version a wrapper module requires of `modulePath`, e.g. `v1.35.4` for k8s.io/kubernetes. */
export function requiredVersion(goMod: string, modulePath: string): string {
  const escaped = modulePath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(`^\\s*(?:require\\s+)?${escaped}\\s+(v\\d+\\.\\d+\\.\\d+\\S*)`, 'm').exec(goMod);
  if (!match?.[1]) throw new Error(`go.mod does not require ${modulePath} at a version`);
  return match[1];
}

function version(dir: string, modulePath: string): string {
  return requiredVersion(readFileSync(`${dir}go.mod`, 'utf8'), modulePath);
}

const GO_HELP =
  'Install Go >= 1.26 with access to the Go module proxy (https://proxy.golang.org or your GOPROXY); the first build ' +
  'downloads the modules and takes minutes, later runs reuse the cache (TLR_KUBE_CACHE, default ~/.cache/tlr-kube).';

export const KUBERNETES_BINARIES = [
  'kube-apiserver', 'etcd', 'kubelet', 'kube-controller-manager', 'kube-scheduler', 'kube-proxy', 'kubectl',
] as const;

export function kubernetesBuild(whatToDo = GO_HELP): GoBuild {
  const v = version(KUBERNETES_MODULE_DIR, 'k8s.io/kubernetes');
  const [major, minor] = v.replace(/^v/, '').split('.');
  const base = 'k8s.io/component-base/version';
  const ldflags = [
    '-s -w',
    `-X ${base}.gitVersion=${v}`,
    `-X ${base}.gitMajor=${major}`,
    `-X ${base}.gitMinor=${minor}`,
    `-X ${base}.gitTreeState=clean`,
    `-X k8s.io/client-go/pkg/version.gitVersion=${v}`,
  ].join(' ');
  return {
    name: 'kubernetes', moduleDir: KUBERNETES_MODULE_DIR, version: v, ldflags, whatToDo,
    binaries: KUBERNETES_BINARIES, packages: KUBERNETES_BINARIES.map((b) => `./cmd/${b}`),
  };
}

/** Every command Tekton's release `config/` names (`ko://github.com/tektoncd/pipeline/cmd/<name>`). */
export const TEKTON_COMMANDS = ['controller', 'webhook', 'events', 'resolvers', 'entrypoint', 'nop', 'workingdirinit', 'sidecarlogresults'] as const;

export function tektonBuild(): GoBuild {
  const dir = moduleDir('tekton');
  return {
    name: 'tekton', moduleDir: dir, version: version(dir, 'github.com/tektoncd/pipeline'), ldflags: '-s -w',
    env: { CGO_ENABLED: '0' }, whatToDo: GO_HELP,
    binaries: TEKTON_COMMANDS, packages: TEKTON_COMMANDS.map((c) => `github.com/tektoncd/pipeline/cmd/${c}`),
  };
}

export function nodeBuild(): GoBuild {
  const dir = moduleDir('node');
  return {
    name: 'node', moduleDir: dir, version: version(dir, 'github.com/kubernetes-csi/external-provisioner/v5'),
    ldflags: '-s -w', env: { CGO_ENABLED: '0' }, whatToDo: GO_HELP,
    binaries: ['csi-provisioner', 'tlr-csi-hostpath', 'pause', 'tlr-recorder'],
    packages: ['github.com/kubernetes-csi/external-provisioner/v5/cmd/csi-provisioner', './cmd/tlr-csi-hostpath', './cmd/pause', './cmd/tlr-recorder'],
  };
}

/** The project's exec helper (exec/): static, copied into the tlr-init image at /usr/local/bin/tlr-exec. */
export function execBuild(): GoBuild {
  const dir = fileURLToPath(new URL('../../../exec/', import.meta.url));
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as { version: string };
  return {
    name: 'tlr-exec', moduleDir: dir, version: `v${pkg.version}`, ldflags: '-s -w', env: { CGO_ENABLED: '0' }, whatToDo: GO_HELP,
    binaries: ['tlr-exec'], packages: ['.'],
  };
}

let execHelper: Promise<string> | undefined;
/** The exec helper's binary, built once per process (cached across processes by ensureGoBuild). */
export function builtExecHelper(): Promise<string> {
  execHelper ??= ensureGoBuild(execBuild(), { log: () => undefined }).then((b) => b.paths['tlr-exec'] as string);
  return execHelper;
}
