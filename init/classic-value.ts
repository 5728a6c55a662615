/**
 * A result a step wrote the classic way, to /tekton/results/<name>, instead of to the result volume. Whatever is
 * there is a value — text that looks like a reference too: seal publishes only references it wrote itself, so a
 * hand-made `[[tlr:…]]` is sealed as the text it is and can never alias another task's file. It is copied onto the
 * volume (exactly the bytes that were checked, after its size was checked against the limit) and sealed like any
 * other value.
 */
import { constants, type Stats } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { TlrError } from '../src/errors.js';
import { hasByteAt, readChunks } from './hash-file.js';
import { isNoSpace, resultVolumeFull } from './no-space.js';
import { openChecked, requireSingleRegularFile } from './safe-path.js';

/**
 * Copies `classicPath` (lstat `stats`) to `volumePath`, which must not exist. Refuses anything but a regular file with
 * one link, a value over `maxSize`, and a file that changes size while it is copied.
 */
export async function moveClassicValue(
  classicPath: string,
  stats: Stats,
  volumePath: string,
  subject: string,
  maxSize: number,
): Promise<void> {
  await requireSingleRegularFile(classicPath, stats, subject);
  if (stats.size > maxSize) {
    throw new TlrError(
      'E_RESULT_TOO_LARGE',
      `${subject}: ${classicPath} is ${stats.size} bytes, over the limit of ${maxSize} bytes (config key ` +
        'maxResultSize); nothing was copied. Write less or ask your admin to raise the limit',
    );
  }
  const source = await openChecked(classicPath, stats, subject);
  try {
    const target = await open(volumePath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    try {
      let copied = 0;
      for await (const chunk of readChunks(source, { length: stats.size })) {
        await target.write(chunk);
        copied += chunk.length;
      }
      if (copied !== stats.size || (await hasByteAt(source, stats.size))) {
        throw new TlrError(
          'E_RESULT_UNSAFE',
          `${subject}: ${classicPath} changed while it was being moved onto the result volume: expected ${stats.size} ` +
            `bytes, found ${copied === stats.size ? 'more' : `${copied}`}; make sure nothing still writes to it when ` +
            "the task's steps end",
        );
      }
    } catch (error) {
      await unlink(volumePath).catch(() => undefined);
      throw isNoSpace(error) ? resultVolumeFull(volumePath, error) : error;
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

/** The text of a small classic file (for comparing it with a reference), or undefined when it is larger. */
export async function readSmall(path: string, stats: Stats, subject: string, max: number): Promise<string | undefined> {
  if (!stats.isFile() || stats.size > max) return undefined;
  const handle = await openChecked(path, stats, subject);
  try {
    const parts: Buffer[] = [];
    for await (const chunk of readChunks(handle, { length: max + 1 })) parts.push(chunk);
    const data = Buffer.concat(parts);
    return data.length > max ? undefined : data.toString('latin1');
  } finally {
    await handle.close();
  }
}
