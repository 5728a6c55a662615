/**
 * Opening the file a reference names, for a consumer: every check before the first byte (path inside this run's
 * directory, no symlink from the volume root down, a regular file with one link, the right size), then sha256 and
 * byte count while the bytes flow, compared with the reference after the last byte. The file is read once, and never
 * past the reference's size: a file that grows after the check is refused, not copied to its end.
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type { Reference } from '../src/core/reference.js';
import { TlrError } from '../src/errors.js';
import { CHUNK_SIZE, hasByteAt, hashHandle, readChunks, type Digest } from './hash-file.js';
import { WorkerReader, WORKER_MIN_BYTES } from './worker-reader.js';
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
  const ring = WRITES_IN_FLIGHT + 2;
  return (async function* verified(): AsyncGenerator<Buffer> {
    // Large values: hashed on a second thread while this one reads and writes (./worker-reader.ts).
    const reader = reference.size >= WORKER_MIN_BYTES ? new WorkerReader(handle, reference.size, ring, CHUNK_SIZE) : undefined;
    try {
      let digest: Digest;
      if (reader) {
        yield* reader.chunks();
        digest = reader.digest;
      } else {
        const hash = createHash('sha256');
        let bytes = 0;
        for await (const chunk of readChunks(handle, { ring, length: reference.size })) {
          hash.update(chunk);
          bytes += chunk.length;
          yield chunk;
        }
        digest = { sha256: hash.digest('hex'), bytes };
      }
      await requireNoMore(handle, path, reference);
      requireMatch(path, reference, digest);
      onVerified?.(path, digest);
    } finally {
      try {
        await reader?.close();
      } finally {
        await handle.close();
      }
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
