import { randomBytes } from 'node:crypto';
import { rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** A temp name next to `path` (same directory, so the final rename is atomic), hidden and unique. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tlr-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Replaces `path` by `content` atomically: readers see the old content or the new one, never a part. The temp file
 * is removed when anything fails; errors are passed on unchanged.
 */
export async function writeFileAtomic(path: string, content: string | Uint8Array, mode = 0o644): Promise<void> {
  const temp = tempPathFor(path);
  try {
    await writeFile(temp, content, { flag: 'wx', mode });
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}
