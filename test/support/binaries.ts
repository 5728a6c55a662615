/**
 * Where the test control plane's `kube-apiserver` and `etcd` come from.
 *
 * 1. `KUBEBUILDER_ASSETS` (controller-runtime's convention, e.g. `setup-envtest use 1.35.x -p path`): both binaries
 *    must be in that directory; nothing is built.
 * 2. Otherwise a per-user cache, `${TLR_KUBE_CACHE:-${XDG_CACHE_HOME:-~/.cache}/tlr-kube}/<version>/`, filled once by
 *    `go build` of the wrapper module in `test/cluster/binaries` (sources from the Go module proxy). A stamp file
 *    records the hash of that module's inputs; a change to go.mod, go.sum or the mains rebuilds.
 *
 * Builds are serialised across processes (ava runs test files in parallel processes) by an O_EXCL lock file that
 * holds the builder's pid; a lock whose process is gone is stale and taken over.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** The wrapper Go module; this file runs as dist/test/support/binaries.js, three levels below the project root. */
export const MODULE_DIR = fileURLToPath(new URL('../../../test/cluster/binaries/', import.meta.url));
const BINARIES = ['kube-apiserver', 'etcd'] as const;
const STAMP = 'tlr-build-stamp.json';
const WHAT_TO_DO =
  'Install Go >= 1.25 with access to the Go module proxy (https://proxy.golang.org or your GOPROXY), or set ' +
  'KUBEBUILDER_ASSETS to a directory holding kube-apiserver and etcd, e.g. the output of ' +
  '`setup-envtest use 1.35.x -p path` (sigs.k8s.io/controller-runtime/tools/setup-envtest).';

export interface ControlPlaneBinaries {
  readonly kubeApiserver: string;
  readonly etcd: string;
  /** Where they came from: the KUBEBUILDER_ASSETS directory, the cache as found, or a build that just ran. */
  readonly source: 'KUBEBUILDER_ASSETS' | 'cache' | 'build';
  readonly dir: string;
}

export type BinariesErrorCode = 'ASSETS_MISSING' | 'GO_MISSING' | 'BUILD_FAILED';

export class BinariesError extends Error {
  override readonly name = 'BinariesError';
  constructor(readonly code: BinariesErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface BinariesOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Progress lines (default: stderr). */
  readonly log?: (line: string) => void;
}

/** The Kubernetes version the wrapper module pins, e.g. `v1.35.4` (the `k8s.io/kubernetes` requirement in go.mod). */
export function kubernetesVersion(goMod: string): string {
  const match = /^\s*k8s\.io\/kubernetes\s+(v\d+\.\d+\.\d+\S*)/m.exec(goMod);
  if (!match?.[1]) throw new Error(`${MODULE_DIR}go.mod does not require k8s.io/kubernetes at a version`);
  return match[1];
}

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TLR_KUBE_CACHE) return env.TLR_KUBE_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tlr-kube');
}

/** The `go build` arguments, version-stamped like a release build so `kube-apiserver --version` tells the truth. */
export function goBuildArgs(version: string, outDir: string): string[] {
  const [major, minor] = version.replace(/^v/, '').split('.');
  const base = 'k8s.io/component-base/version';
  const ldflags = [
    '-s -w',
    `-X ${base}.gitVersion=${version}`,
    `-X ${base}.gitMajor=${major}`,
    `-X ${base}.gitMinor=${minor}`,
    `-X ${base}.gitTreeState=clean`,
    `-X k8s.io/client-go/pkg/version.gitVersion=${version}`,
  ].join(' ');
  return ['build', '-trimpath', '-ldflags', ldflags, '-o', `${outDir}/`, './cmd/kube-apiserver', './cmd/etcd'];
}

export async function ensureBinaries(options: BinariesOptions = {}): Promise<ControlPlaneBinaries> {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (env.KUBEBUILDER_ASSETS) return fromAssets(env.KUBEBUILDER_ASSETS);
  const goMod = await readFile(join(MODULE_DIR, 'go.mod'), 'utf8');
  const version = kubernetesVersion(goMod);
  const root = cacheRoot(env);
  const dir = join(root, version);
  const stamp = await moduleStamp(version);
  if (await isCurrent(dir, stamp)) return found(dir, 'cache');
  await mkdir(root, { recursive: true });
  const release = await acquireLock(join(root, `${version}.lock`), log);
  try {
    if (await isCurrent(dir, stamp)) return found(dir, 'cache'); // another process built it while we waited
    await build({ env, log, root, dir, version, stamp });
    return found(dir, 'build');
  } finally {
    await release();
  }
}

async function fromAssets(assets: string): Promise<ControlPlaneBinaries> {
  for (const name of BINARIES) {
    const file = join(assets, name);
    try {
      await access(file, constants.X_OK);
    } catch (cause) {
      throw new BinariesError(
        'ASSETS_MISSING',
        `KUBEBUILDER_ASSETS=${assets} but ${file} is missing or not executable. ` +
          'Point KUBEBUILDER_ASSETS at a directory holding both kube-apiserver and etcd ' +
          '(`setup-envtest use 1.35.x -p path`), or unset it to build them with Go.',
        { cause },
      );
    }
  }
  return found(assets, 'KUBEBUILDER_ASSETS');
}

function found(dir: string, source: ControlPlaneBinaries['source']): ControlPlaneBinaries {
  return { kubeApiserver: join(dir, 'kube-apiserver'), etcd: join(dir, 'etcd'), source, dir };
}

/** The hash of everything the build depends on in this repository: go.mod, go.sum, the mains and the build flags. */
async function moduleStamp(version: string): Promise<string> {
  const hash = createHash('sha256');
  const files = ['go.mod', 'go.sum', ...BINARIES.map((b) => `cmd/${b}/main.go`)];
  for (const file of files) hash.update(`${file}\0`).update(await readFile(join(MODULE_DIR, file))).update('\0');
  hash.update(goBuildArgs(version, 'OUT').join('\0'));
  return hash.digest('hex');
}

async function isCurrent(dir: string, stamp: string): Promise<boolean> {
  try {
    const recorded = JSON.parse(await readFile(join(dir, STAMP), 'utf8')) as { inputs?: unknown };
    if (recorded.inputs !== stamp) return false;
    for (const name of BINARIES) await access(join(dir, name), constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

interface BuildPlan {
  readonly env: NodeJS.ProcessEnv;
  readonly log: (line: string) => void;
  readonly root: string;
  readonly dir: string;
  readonly version: string;
  readonly stamp: string;
}

/** Builds into a fresh directory beside the final one, then swaps it in with rename (atomic on one filesystem). */
async function build(plan: BuildPlan): Promise<void> {
  const { log, root, dir, version } = plan;
  // We hold the lock, so any other build directory is a leftover of a process that died mid-build.
  for (const name of await readdir(root)) {
    if (name.startsWith(`.${version}-build-`)) await rm(join(root, name), { recursive: true, force: true });
  }
  const out = await mkdtemp(join(root, `.${version}-build-`));
  const started = Date.now();
  const ticker = setInterval(() => log(`  still building (${Math.round((Date.now() - started) / 1000)} s)…`), 60_000);
  try {
    log(`building kube-apiserver and etcd ${version} from the Go module proxy (first time only, takes minutes)…`);
    await runGo(goBuildArgs(version, out), plan.env);
    const stamp = { inputs: plan.stamp, version, builtAt: new Date().toISOString(), by: 'test/support/binaries.ts' };
    await writeFile(join(out, STAMP), `${JSON.stringify(stamp, null, 2)}\n`);
    await rm(dir, { recursive: true, force: true });
    await rename(out, dir);
    log(`built kube-apiserver and etcd ${version} in ${Math.round((Date.now() - started) / 1000)} s into ${dir}`);
  } finally {
    clearInterval(ticker);
    await rm(out, { recursive: true, force: true });
  }
}

async function runGo(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const tail: string[] = [];
  const keep = (chunk: Buffer): void => {
    tail.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    tail.splice(0, Math.max(0, tail.length - 30));
  };
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn('go', args, { cwd: MODULE_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', resolve);
  }).catch((cause: unknown) => {
    const missing = (cause as NodeJS.ErrnoException).code === 'ENOENT';
    throw new BinariesError(
      missing ? 'GO_MISSING' : 'BUILD_FAILED',
      `${missing ? '`go` was not found on PATH' : `could not run \`go\`: ${String(cause)}`}; the test API server ` +
        `cannot be built. ${WHAT_TO_DO}`,
      { cause },
    );
  });
  if (code !== 0) {
    throw new BinariesError(
      'BUILD_FAILED',
      `\`go ${args.slice(0, 2).join(' ')} … ./cmd/kube-apiserver ./cmd/etcd\` in ${MODULE_DIR} exited with ` +
        `${code === null ? 'a signal' : `code ${code}`}; last lines of its output:\n  ${tail.join('\n  ')}\n${WHAT_TO_DO}`,
    );
  }
}

/** Takes `lockPath` (O_EXCL), waiting while a live process holds it; returns the release function. */
async function acquireLock(lockPath: string, log: (line: string) => void): Promise<() => Promise<void>> {
  let reported = false;
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return () => rm(lockPath, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await lockHolder(lockPath);
    if (holder === 'stale') {
      await rm(lockPath, { force: true });
      continue;
    }
    if (!reported && holder !== 'gone') {
      log(`waiting for process ${holder} that is building the test control plane (lock ${lockPath})…`);
      reported = true;
    }
    await sleep(1000);
  }
}

/** The pid holding the lock, `stale` when that process is gone, `gone` when the lock vanished meanwhile. */
async function lockHolder(lockPath: string): Promise<number | 'stale' | 'gone'> {
  let text: string;
  let age: number;
  try {
    [text, age] = await Promise.all([readFile(lockPath, 'utf8'), stat(lockPath).then((s) => Date.now() - s.mtimeMs)]);
  } catch {
    return 'gone';
  }
  const pid = Number.parseInt(text, 10);
  // An empty lock is one being written right now, unless it has been empty for long (its writer died).
  if (!Number.isInteger(pid) || pid <= 0) return age > 10_000 ? 'stale' : 0;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : 'stale';
  }
}
