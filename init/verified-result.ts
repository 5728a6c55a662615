/**
 * Opening the file a reference names, for a consumer: every check before the first byte (path inside this run's
 * directory, no symlink from the volume root down, a regular file with one link, the right size), then sha256 and
 * byte count while the bytes flow, compared with the reference after the last byte. The file is read once, and never
 * past the reference's size: a file that grows after the check is refused, not copied to its end.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Reference } from '../src/core/reference.js';
import { TlrError } from '../src/errors.js';
import { CHUNK_SIZE, hasByteAt, hashHandle, type Digest } from './hash-file.js';
import { chunkHasher } from './parallel-hash.js';
import { WRITES_IN_FLIGHT } from './stream-substitute.js';
import { lstatBelowRoot, openChecked, requireInside, requireSingleRegularFile } from './safe-path.js';
import { locate, type VolumeView } from './volume-view.js';

/** Where reference paths are resolved: the result volume's mount (or the run directory's) and the run's directory. */
export type ResultVolume = VolumeView;

/** Checks a referenced file and opens it; the caller must close the handle. */
export async function openReferencedFile(
  reference: Reference,
  volume: ResultVolume,
): Promise<{ path: string; handle: FileHandle }> {
  const segments = reference.path.split('/');
  const subject = `Reference to ${reference.path}`;
  if (segments[0] !== volume.runDir || segments.length < 2) {
    throw new TlrError(
      'E_RESULT_UNSAFE',
      `${subject} points outside this run's directory: expected a path starting with "${volume.runDir}/", ` +
        `found "${reference.path}"`,
    );
  }
  const { base, rel, path, runDirPath } = locate(volume, reference.path);
  const stats = await lstatBelowRoot(base, rel, subject);
  if (stats === undefined) {
    throw new TlrError(
      'E_RESULT_MISSING',
      `${subject}: ${path} does not exist; the producing task sealed it, but it is no longer on the result volume ` +
        '(deleted, or another volume is mounted)',
    );
  }
  await requireSingleRegularFile(path, stats, subject);
  await requireInside(path, runDirPath, subject);
  if (stats.size !== reference.size) throw mismatch(path, reference, { bytes: stats.size });
  return { path, handle: await openChecked(path, stats, subject) };
}

/**
 * The referenced file's bytes, verified: throws E_DIGEST_MISMATCH after the last chunk when sha256 or size
 * differ (so whoever consumed the chunks must discard them). `onVerified` is called after a successful check.
 * Chunks come from a ring of WRITES_IN_FLIGHT + 2 buffers: see ReferenceOpener for when a consumer is done with one.
 */
export async function openVerifiedResult(
  reference: Reference,
  volume: ResultVolume,
  onVerified?: (path: string, digest: Digest) => void,
): Promise<AsyncIterable<Buffer>> {
  const { path, handle } = await openReferencedFile(reference, volume);
  return (async function* verified(): AsyncGenerator<Buffer> {
    // The hash runs beside the copy (a second thread for large values): a slot is read into again only once the
    // hasher is done with it and the consumer with the chunk it held (the ring rule of readChunks).
    const ring = WRITES_IN_FLIGHT + 2;
    const hasher = chunkHasher(reference.size, ring, CHUNK_SIZE);
    const hashed: Array<Promise<void> | undefined> = [];
    let position = 0;
    let turn = 0;
    const readNext = async (): Promise<{ slot: number; chunk: Buffer }> => {
      const slot = turn++ % ring;
      await hashed[slot];
      const buffer = hasher.slots[slot] as Buffer;
      const want = Math.min(CHUNK_SIZE, reference.size - position);
      if (want <= 0) return { slot, chunk: buffer.subarray(0, 0) };
      const { bytesRead } = await handle.read(buffer, 0, want, position);
      position += bytesRead;
      return { slot, chunk: buffer.subarray(0, bytesRead) };
    };
    let pending = readNext();
    try {
      for (;;) {
        const { slot, chunk } = await pending;
        if (chunk.length === 0) break;
        hashed[slot] = hasher.update(slot, chunk.length);
        pending = readNext();
        yield chunk;
      }
      for (const h of hashed) await h;
      const digest = { sha256: await hasher.digest(), bytes: position };
      await requireNoMore(handle, path, reference);
      requireMatch(path, reference, digest);
      onVerified?.(path, digest);
    } finally {
      await pending.catch(() => undefined);
      for (const h of hashed) await h?.catch(() => undefined);
      await hasher.close();
      await handle.close();
    }
  })();
}

/** Verifies a referenced file completely (checks and full hash) without copying it anywhere. */
export async function verifyResult(reference: Reference, volume: ResultVolume): Promise<{ path: string } & Digest> {
  const { path, handle } = await openReferencedFile(reference, volume);
  try {
    const digest = await hashHandle(handle, reference.size);
    await requireNoMore(handle, path, reference);
    requireMatch(path, reference, digest);
    return { path, ...digest };
  } finally {
    await handle.close();
  }
}

/** Refuses a file that has bytes past the reference's size (it grew after it was checked). */
async function requireNoMore(handle: FileHandle, path: string, reference: Reference): Promise<void> {
  if (!(await hasByteAt(handle, reference.size))) return;
  throw new TlrError(
    'E_DIGEST_MISMATCH',
    `Result file ${path} does not match its reference: expected ${reference.size} bytes, found more (it grew while ` +
      'it was being read); only the expected bytes were read. Something still writes to it after the producing ' +
      'task sealed it',
  );
}

function requireMatch(path: string, reference: Reference, found: Digest): void {
  if (found.sha256 !== reference.sha256 || found.bytes !== reference.size) throw mismatch(path, reference, found);
}

function mismatch(path: string, reference: Reference, found: { sha256?: string; bytes: number }): TlrError {
  const what = found.sha256 === undefined ? `${found.bytes} bytes` : `sha256 ${found.sha256} and ${found.bytes} bytes`;
  return new TlrError(
    'E_DIGEST_MISMATCH',
    `Result file ${path} does not match its reference: expected sha256 ${reference.sha256} and ` +
      `${reference.size} bytes, found ${what}; the file was changed after the producing task sealed it`,
  );
}
