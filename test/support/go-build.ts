/**
 * Builds the commands of one of the repository's wrapper Go modules (test/cluster/{binaries,tekton,node}) from the Go
 * module proxy, once, into a per-user cache:
 *
 *   ${TLR_KUBE_CACHE:-${XDG_CACHE_HOME:-~/.cache}/tlr-kube}/<name>-<version>-<inputs hash>/
 *
 * The hash covers everything the build depends on in this repository (go.mod, go.sum, every .go file of the module,
 * the build flags), so a change rebuilds into a new directory and two checkouts with different inputs never
 * overwrite each other's binaries. Builds are serialised across processes (ava runs test files in parallel processes)
 * by an O_EXCL lock file that holds the builder's pid; a lock whose process is gone is stale and taken over.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const STAMP = 'tlr-build-stamp.json';

/** One `go build` of a wrapper module. */
export interface GoBuild {
  /** Short name, the cache directory's prefix: `kubernetes`, `tekton`, `node`. */
  readonly name: string;
  /** Absolute path of the wrapper module (holds go.mod). */
  readonly moduleDir: string;
  /** The upstream version these binaries are, for messages and the directory name (`v1.35.4`). */
  readonly version: string;
  /** Package paths given to `go build` (`./cmd/kubelet`, `github.com/tektoncd/pipeline/cmd/controller`). */
  readonly packages: readonly string[];
  /** The binaries `go build -o dir/` writes (the last path element of each package). */
  readonly binaries: readonly string[];
  readonly ldflags: string;
  /** Extra environment, e.g. `CGO_ENABLED=0` for static binaries that go into images. */
  readonly env?: Readonly<Record<string, string>>;
  /** What to tell the user when Go is missing or the build fails. */
  readonly whatToDo: string;
}

export type GoBuildErrorCode = 'GO_MISSING' | 'BUILD_FAILED';

export class GoBuildError extends Error {
  override readonly name = 'GoBuildError';
  constructor(readonly code: GoBuildErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface GoBuildOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Progress lines (default: stderr). */
  readonly log?: (line: string) => void;
}

export interface BuiltBinaries {
  readonly dir: string;
  readonly source: 'cache' | 'build';
  /** Absolute path of each binary, by name. */
  readonly paths: Readonly<Record<string, string>>;
}

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TLR_KUBE_CACHE) return env.TLR_KUBE_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tlr-kube');
}

export function goBuildArgs(build: GoBuild, outDir: string): string[] {
  return ['build', '-trimpath', '-ldflags', build.ldflags, '-o', `${outDir}/`, ...build.packages];
}

/** The lock file a build of `build` with these inputs takes (exported for tests). */
export async function lockPath(build: GoBuild, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return join(cacheRoot(env), `${await cacheName(build)}.lock`);
}

export async function ensureGoBuild(build: GoBuild, options: GoBuildOptions = {}): Promise<BuiltBinaries> {
  const env = { ...(options.env ?? process.env), ...build.env };
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const root = cacheRoot(env);
  const name = await cacheName(build);
  const dir = join(root, name);
  if (await isCurrent(dir, build)) return found(dir, build, 'cache');
  await mkdir(root, { recursive: true });
  const release = await acquireLock(join(root, `${name}.lock`), build, log);
  try {
    if (await isCurrent(dir, build)) return found(dir, build, 'cache'); // another process built it while we waited
    await runBuild(build, { env, log, root, dir, name });
    await pruneOlder(root, build, name);
    return found(dir, build, 'build');
  } finally {
    await release();
  }
}

function found(dir: string, build: GoBuild, source: BuiltBinaries['source']): BuiltBinaries {
  return { dir, source, paths: Object.fromEntries(build.binaries.map((b) => [b, join(dir, b)])) };
}

async function cacheName(build: GoBuild): Promise<string> {
  return `${build.name}-${build.version}-${(await inputsHash(build)).slice(0, 12)}`;
}

/** go.mod, go.sum, every .go file of the module (sorted by path) and the build arguments. */
async function inputsHash(build: GoBuild): Promise<string> {
  const hash = createHash('sha256');
  const files = ['go.mod', 'go.sum', ...(await goFiles(build.moduleDir))];
  for (const file of files) {
    hash.update(`${file}\0`).update(await readFile(join(build.moduleDir, file))).update('\0');
  }
  hash.update(goBuildArgs(build, 'OUT').join('\0')).update(JSON.stringify(build.env ?? {}));
  return hash.digest('hex');
}

async function goFiles(moduleDir: string): Promise<string[]> {
  const entries = await readdir(moduleDir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.go'))
    .map((e) => relative(moduleDir, join(e.parentPath, e.name)))
    .sort();
}

async function isCurrent(dir: string, build: GoBuild): Promise<boolean> {
  try {
    const recorded = JSON.parse(await readFile(join(dir, STAMP), 'utf8')) as { inputs?: unknown };
    if (recorded.inputs !== (await inputsHash(build))) return false;
    for (const name of build.binaries) await access(join(dir, name), constants.X_OK);
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
  readonly name: string;
}

/** Builds into a fresh directory beside the final one, then swaps it in with rename (atomic on one filesystem). */
async function runBuild(build: GoBuild, plan: BuildPlan): Promise<void> {
  const { log, root, dir, name } = plan;
  // We hold the lock, so any other build directory of these inputs is a leftover of a process that died mid-build.
  for (const entry of await readdir(root)) {
    if (entry.startsWith(`.${name}-build-`)) await rm(join(root, entry), { recursive: true, force: true });
  }
  const out = await mkdtemp(join(root, `.${name}-build-`));
  const started = Date.now();
  const what = `${build.binaries.join(', ')} ${build.version}`;
  const ticker = setInterval(() => log(`  still building ${build.name} (${Math.round((Date.now() - started) / 1000)} s)…`), 60_000);
  try {
    log(`building ${what} from the Go module proxy (first time only, takes minutes)…`);
    await runGo(build, goBuildArgs(build, out), plan.env);
    const stamp = { inputs: await inputsHash(build), version: build.version, builtAt: new Date().toISOString(), by: 'test/support/go-build.ts' };
    await writeFile(join(out, STAMP), `${JSON.stringify(stamp, null, 2)}\n`);
    await rm(dir, { recursive: true, force: true });
    await rename(out, dir);
    log(`built ${what} in ${Math.round((Date.now() - started) / 1000)} s into ${dir}`);
  } finally {
    clearInterval(ticker);
    await rm(out, { recursive: true, force: true });
  }
}

/** Removes builds of the same name made from other inputs (older checkouts), so the cache does not grow forever. */
async function pruneOlder(root: string, build: GoBuild, keep: string): Promise<void> {
  for (const entry of await readdir(root)) {
    if (entry !== keep && entry.startsWith(`${build.name}-`) && !entry.endsWith('.lock')) {
      const lock = join(root, `${entry}.lock`);
      if (await access(lock).then(() => true, () => false)) continue; // being built by someone right now
      await rm(join(root, entry), { recursive: true, force: true });
    }
  }
}

async function runGo(build: GoBuild, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const tail: string[] = [];
  const keep = (chunk: Buffer): void => {
    tail.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    tail.splice(0, Math.max(0, tail.length - 30));
  };
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn('go', args, { cwd: build.moduleDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', resolve);
  }).catch((cause: unknown) => {
    const missing = (cause as NodeJS.ErrnoException).code === 'ENOENT';
    throw new GoBuildError(
      missing ? 'GO_MISSING' : 'BUILD_FAILED',
      `${missing ? '`go` was not found on PATH' : `could not run \`go\`: ${String(cause)}`}; ${build.binaries.join(', ')} ` +
        `cannot be built. ${build.whatToDo}`,
      { cause },
    );
  });
  if (code !== 0) {
    throw new GoBuildError(
      'BUILD_FAILED',
      `\`go ${args.slice(0, 2).join(' ')} … ${build.packages.join(' ')}\` in ${build.moduleDir} exited with ` +
        `${code === null ? 'a signal' : `code ${code}`}; last lines of its output:\n  ${tail.join('\n  ')}\n${build.whatToDo}`,
    );
  }
}

/** Takes `file` (O_EXCL), waiting while a live process holds it; returns the release function. */
async function acquireLock(file: string, build: GoBuild, log: (line: string) => void): Promise<() => Promise<void>> {
  let reported = false;
  for (;;) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return () => rm(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await lockHolder(file);
    if (holder === 'stale') {
      await rm(file, { force: true });
      continue;
    }
    if (!reported && holder !== 'gone') {
      log(`waiting for process ${holder} that is building ${build.name} (lock ${file})…`);
      reported = true;
    }
    await sleep(1000);
  }
}

/** The pid holding the lock, `stale` when that process is gone, `gone` when the lock vanished meanwhile. */
async function lockHolder(file: string): Promise<number | 'stale' | 'gone'> {
  let text: string;
  let age: number;
  try {
    [text, age] = await Promise.all([readFile(file, 'utf8'), stat(file).then((s) => Date.now() - s.mtimeMs)]);
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
