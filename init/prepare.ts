/**
 * Preparing, the first step of a producer task. View `run` (a PipelineRun's task, which mounts only its own
 * directory): check that directory and make it writable for every step. View `volume`: create `<root>/<runDir>` (mode 01777: sticky like /tmp, so
 * producers running as different non-root UIDs can each create their own directory but not touch the others') and
 * `<root>/<runDir>/<producer>` (mode 0777, so every step of the task can write its result files, whatever its UID).
 * Idempotent; refuses a symlink or non-directory anywhere below the root.
 *
 * The producer directory belongs to one pipeline task of one run. Anything already in it comes from an earlier,
 * failed attempt of that task (Tekton `retries`: a new pod, the same run and task): it is removed, so the seal step
 * can never seal a stale value the new attempt did not write.
 */
import { mkdirSync, statSync } from 'node:fs';
import { constants } from 'node:fs';
import { access, chmod, lstat, readdir, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { TlrError } from '../src/errors.js';
import { isNoSpace, resultVolumeFull } from './no-space.js';
import { describeKind, lstatOrUndefined, splitProducerDir } from './safe-path.js';
import type { View } from './volume-view.js';

export const RUN_DIR_MODE = 0o1777;
export const PRODUCER_DIR_MODE = 0o777;

export interface PreparedDirs {
  readonly runDirPath: string;
  readonly producerDirPath: string;
  /** Entries an earlier attempt left in the producer directory, now removed. */
  readonly removed: readonly string[];
}

/**
 * Creates (or checks) the run and producer directories for `dir` = `<runDir>/<producer>` below `root`. In view `run`
 * the producer's own directory is what is mounted at `<root>/<producer>` (the kubelet created it, with the volume
 * root's mode and owner): nothing is created, the directory is made writable for every step when this process may
 * change its mode, and must be writable by this process otherwise.
 */
export async function prepareResultDirs(root: string, dir: string, view: View = 'volume'): Promise<PreparedDirs> {
  const { runDir, producer } = splitProducerDir(dir);
  const rootStats = await stat(root).catch(() => undefined);
  if (!rootStats?.isDirectory()) {
    throw new TlrError(
      'E_INPUT',
      `The result volume root ${root} is ${rootStats ? `a ${describeKind(rootStats)}` : 'missing'}, expected a ` +
        'directory (is the result workspace mounted there?)',
    );
  }
  if (view === 'run') {
    const producerDirPath = join(root, producer);
    await ownDirectory(producerDirPath);
    return { runDirPath: root, producerDirPath, removed: await clearStale(producerDirPath) };
  }
  const runDirPath = join(root, runDir);
  const producerDirPath = join(runDirPath, producer);
  await ensureDirectory(runDirPath, RUN_DIR_MODE);
  await ensureDirectory(producerDirPath, PRODUCER_DIR_MODE);
  const removed = await clearStale(producerDirPath);
  return { runDirPath, producerDirPath, removed };
}

/**
 * The producer's own directory, mounted by Tekton (workspace tlr-output): made 0777 when this process owns it (or is
 * root), so steps of any uid can write; otherwise it must at least be writable by this process (the pod's fsGroup
 * on a group-writable volume gives every step the same group).
 */
async function ownDirectory(path: string): Promise<void> {
  const stats = await lstatOrUndefined(path);
  if (stats === undefined || !stats.isDirectory()) {
    throw new TlrError(
      'E_INPUT',
      `${path} is ${stats ? `a ${describeKind(stats)}` : 'missing'}, expected this task's own result directory ` +
        '(the workspace tlr-output the rewrite adds; is it mounted there?)',
    );
  }
  const uid = process.getuid?.();
  if ((stats.mode & 0o7777) !== PRODUCER_DIR_MODE && (uid === 0 || uid === stats.uid)) {
    await chmod(path, PRODUCER_DIR_MODE);
    return;
  }
  try {
    await access(path, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw notWritable(`write results into ${path}`, path, error);
  }
}

/** Removes what an earlier attempt left in the producer directory (links are removed, never followed). */
async function clearStale(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  for (const name of names) await rm(join(dir, name), { recursive: true, force: true });
  return names;
}

async function ensureDirectory(path: string, mode: number): Promise<void> {
  let stats = await lstatOrUndefined(path);
  const created = stats === undefined && mkdirWithMode(path, mode);
  stats ??= await lstat(path);
  if (!stats.isDirectory()) {
    throw new TlrError(
      'E_RESULT_UNSAFE',
      `${path} is a ${describeKind(stats)}, expected a directory; refusing to write results through it`,
    );
  }
  // chmod explicitly when we created it: whatever the umask and the file system did.
  if (!created && (stats.mode & 0o7777) === mode) return;
  try {
    await chmod(path, mode);
  } catch (error) {
    throw new TlrError(
      'E_RESULT_UNSAFE',
      `${path} has mode ${octal(stats.mode)}, expected ${octal(mode)}, and this process (uid ${process.getuid?.()}) ` +
        `cannot change it (owner uid ${stats.uid}): ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/**
 * mkdir with the umask cleared for that one synchronous call, so the directory has its final mode from the start:
 * a parallel producer that finds it a moment later never sees a narrower mode it could not change (not its owner).
 * An existing directory (created by that parallel producer) is fine. Returns whether it created the directory.
 */
function mkdirWithMode(path: string, mode: number): boolean {
  const previous = process.umask(0);
  try {
    mkdirSync(path, { mode });
    return true;
  } catch (error) {
    if (isNoSpace(error)) throw resultVolumeFull(path, error);
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw notWritable(`create ${path}`, dirname(path), error);
    if (code !== 'EEXIST') throw error;
    return false;
  } finally {
    process.umask(previous);
  }
}

/**
 * The result volume (or the run directory) is not writable by this step's user: say whose it is and why that
 * happens (the kubelet applies a pod's fsGroup to a volume only when its CSI driver's fsGroupPolicy allows), and the
 * ways out.
 */
function notWritable(what: string, parent: string, cause: unknown): TlrError {
  let owner = '';
  try {
    const st = statSync(parent);
    owner = ` is owned by uid ${st.uid} gid ${st.gid} with mode ${octal(st.mode)}, and`;
  } catch {
    // described without it
  }
  const groups = process.getgroups?.().join(',') ?? '';
  return new TlrError(
    'E_VOLUME_NOT_WRITABLE',
    `cannot ${what}: ${parent}${owner} this step runs as uid ${process.getuid?.()} gid ${process.getgid?.()} ` +
      `(groups ${groups || 'none'}). A new volume's root belongs to root (and the directories the kubelet creates for a ` +
      "task's workspace subPath get the root's owner and mode); the kubelet makes it writable for the pod's " +
      'fsGroup (tlr-config fsGroup) only if the volume\'s CSI driver applies fsGroup (its CSIDriver fsGroupPolicy: ' +
      'File, or ReadWriteOnceWithFSType for ReadWriteOnce volumes with an fsType). Use a StorageClass whose driver ' +
      'does, or set prepareRunAsRoot: "true" in tlr-config (this step then runs as root without capabilities) where ' +
      'the namespace allows root containers; see docs/install.md, "A writable volume root".',
    { cause },
  );
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8)}`;
}
