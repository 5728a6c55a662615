/**
 * A result a step wrote the classic way, to /tekton/results/<name>, instead of to the result volume: a small value
 * is moved onto the volume so it can be sealed like any other (consumers then get it the same way).
 */
import { constants } from 'node:fs';
import { copyFile, lstat, open } from 'node:fs/promises';
import { REFERENCE_MAX_LENGTH, REFERENCE_OPENING } from '../src/core/reference.js';
import { isNoSpace, resultVolumeFull } from './no-space.js';
import { requireSingleRegularFile } from './safe-path.js';

/**
 * Copies `classicPath` to `volumePath` (which must not exist) when it is a value, not a reference.
 * Returns false when there is nothing to move (no file, or it already holds a reference).
 */
export async function moveClassicValue(classicPath: string, volumePath: string, subject: string): Promise<boolean> {
  const stats = await lstat(classicPath).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (stats === undefined) return false;
  await requireSingleRegularFile(classicPath, stats, subject);
  if (await holdsReference(classicPath, stats.size)) return false;
  try {
    await copyFile(classicPath, volumePath, constants.COPYFILE_EXCL);
  } catch (error) {
    throw isNoSpace(error) ? resultVolumeFull(volumePath, error) : error;
  }
  return true;
}

async function holdsReference(path: string, size: number): Promise<boolean> {
  // A reference is at most REFERENCE_MAX_LENGTH bytes; allow some surrounding whitespace. Anything that starts
  // like a reference (even a broken one) is left alone: it was not written as a value.
  if (size > REFERENCE_MAX_LENGTH + 64) return false;
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const text = await handle.readFile('latin1');
    return text.trimStart().startsWith(REFERENCE_OPENING);
  } finally {
    await handle.close();
  }
}
