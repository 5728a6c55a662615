/**
 * Path checks for files on the result volume. A result file must be a regular file with one link, reached from the
 * volume root through real directories only (no symlink anywhere below the root), inside the run's directory.
 * Every message names the subject (which result), the path, what was expected and what was found.
 */
import type { Stats } from 'node:fs';
import { constants } from 'node:fs';
import { lstat, open, readlink, realpath, type FileHandle } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { checkRelativePath } from '../src/core/reference.js';
import { TlrError } from '../src/errors.js';

const NAME = /^[A-Za-z0-9._-]+$/;

/** A single path segment of [A-Za-z0-9._-], not `.` or `..`; `what` names it in the message. */
export function checkSegment(value: string, what: string): string {
  if (!NAME.test(value) || value === '.' || value === '..') {
    throw new TlrError('E_INPUT', `${what} must be a name of [A-Za-z0-9._-] other than "." and "..", got "${value}"`);
  }
  return value;
}

/** Splits `<runDir>/<producer>` (validated by checkRelativePath, exactly two segments). */
export function splitProducerDir(dir: string): { runDir: string; producer: string } {
  const segments = checkRelativePath(dir).split('/');
  if (segments.length !== 2) {
    throw new TlrError('E_INPUT', `--dir must be <run-dir>/<producer> (two segments), got "${dir}"`);
  }
  const [runDir, producer] = segments as [string, string];
  return { runDir, producer };
}

/** What a file is, in words, for messages. */
export function describeKind(stats: Stats): string {
  if (stats.isSymbolicLink()) return 'symbolic link';
  if (stats.isDirectory()) return 'directory';
  if (stats.isFile()) return 'regular file';
  if (stats.isFIFO()) return 'FIFO';
  if (stats.isSocket()) return 'socket';
  if (stats.isCharacterDevice()) return 'character device';
  if (stats.isBlockDevice()) return 'block device';
  return 'special file';
}

/**
 * lstats every component of `relPath` below `root`: each directory component must be a real directory (not a
 * symlink). Returns the final component's lstat, or undefined when some component does not exist.
 */
export async function lstatBelowRoot(root: string, relPath: string, subject: string): Promise<Stats | undefined> {
  const segments = checkRelativePath(relPath).split('/');
  let current = root;
  for (const [i, segment] of segments.entries()) {
    current = join(current, segment);
    const stats = await lstatOrUndefined(current);
    if (stats === undefined) return undefined;
    if (i === segments.length - 1) return stats;
    if (!stats.isDirectory()) {
      throw new TlrError(
        'E_RESULT_UNSAFE',
        `${subject}: ${current} is a ${describeKind(stats)}, expected a directory; the directories on the result ` +
          'volume must be real directories, not links',
      );
    }
  }
  return undefined;
}

/** Refuses anything but a regular file with exactly one hard link. */
export async function requireSingleRegularFile(path: string, stats: Stats, subject: string): Promise<void> {
  if (stats.isSymbolicLink()) {
    const target = await readlink(path).catch(() => '?');
    throw new TlrError(
      'E_RESULT_UNSAFE',
      `${subject}: ${path} is a symbolic link (to ${target}), expected a regular file; ` +
        'write the content into the file itself, not a link to it',
    );
  }
  if (!stats.isFile()) {
    throw new TlrError('E_RESULT_UNSAFE', `${subject}: ${path} is a ${describeKind(stats)}, expected a regular file`);
  }
  if (stats.nlink !== 1) {
    throw new TlrError(
      'E_RESULT_UNSAFE',
      `${subject}: ${path} has ${stats.nlink} hard links, expected 1; a hard-linked file can be changed through ` +
        'its other names, so copy the content instead of linking it',
    );
  }
}

/** Refuses a path whose realpath is not strictly inside `dir` (the run's directory). */
export async function requireInside(path: string, dir: string, subject: string): Promise<void> {
  const [real, realDir] = await Promise.all([realpath(path), realpath(dir)]);
  if (!real.startsWith(realDir + sep)) {
    throw new TlrError(
      'E_RESULT_UNSAFE',
      `${subject}: ${path} resolves to ${real}, expected a file inside this run's directory ${realDir}`,
    );
  }
}

/**
 * Opens a checked file for reading without following a symlink (nor blocking, should it have become a named pipe),
 * and makes sure it is still the file that was
 * checked (same device and inode, still one link): a swap between check and open is refused.
 */
export async function openChecked(path: string, checked: Stats, subject: string): Promise<FileHandle> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    // Swapped for a symlink since it was checked: say so the same way.
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') {
      await requireSingleRegularFile(path, await lstat(path), subject);
    }
    throw error;
  }
  const now = await handle.stat().catch(async (error: unknown) => {
    await handle.close();
    throw error;
  });
  if (now.dev !== checked.dev || now.ino !== checked.ino || now.nlink !== 1 || !now.isFile()) {
    await handle.close();
    throw new TlrError(
      'E_RESULT_UNSAFE',
      `${subject}: ${path} was replaced while it was being checked, expected the same regular file throughout`,
    );
  }
  return handle;
}

/** lstat, or undefined when nothing is there (ENOENT, or a path component that is not a directory). */
export async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}
