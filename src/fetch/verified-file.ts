import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { selectElement } from '../core/structured-json.js';
import type { Reference } from '../core/reference.js';
import type { Selector } from '../core/structured.js';
import { TlrError } from '../errors.js';

export interface VerifiedSink {
  /** Where the bytes go (the exec's stdout). Refuses more bytes than the reference's size as soon as they arrive. */
  readonly stream: Writable;
  /** After the stream ended: checks size and sha256, then renames into place; on any mismatch removes the file. */
  finish(): Promise<{ bytes: number; sha256: string }>;
  /** Removes the partial file (after a failed transfer). */
  abort(): Promise<void>;
}

/**
 * A file written from a stream and verified against a reference before it appears under its name: bytes go to
 * `<dest>.partial`, sha256 and size are computed on the way, and only a match is renamed to `dest`. Nothing
 * unverified is ever left at `dest`. `onProgress` gets the byte count as it grows.
 */
/**
 * Fewer bytes arrived than the reference records: the stream ended early (the exec stream can end before its last
 * output: the API server may send the command's exit status first, and the client closes on it). Worth a retry; a
 * complete transfer with another digest is not.
 */
export class ShortTransfer extends TlrError {
  constructor(dest: string, reference: Reference, readonly bytes: number, sha256: string) {
    super(
      'E_DIGEST_MISMATCH',
      `${dest}: expected ${reference.size} bytes with sha256 ${reference.sha256} (as the producer sealed it), ` +
        `received ${bytes} bytes with sha256 ${sha256}; nothing was written`,
    );
  }
}

export function verifiedFile(dest: string, reference: Reference, onProgress?: (bytes: number) => void): VerifiedSink {
  const partial = `${dest}.partial`;
  const file = createWriteStream(partial, { mode: 0o644 });
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback): void {
      bytes += chunk.length;
      if (bytes > reference.size) {
        callback(new TlrError('E_DIGEST_MISMATCH', `${dest}: received more than the ${reference.size} bytes the reference records`));
        return;
      }
      hash.update(chunk);
      onProgress?.(bytes);
      if (file.write(chunk)) callback();
      else file.once('drain', () => callback());
    },
    final(callback): void {
      file.end(() => callback());
    },
  });
  return {
    stream,
    async finish() {
      await new Promise<void>((resolve, reject) => {
        if (file.closed) return resolve();
        file.once('close', () => resolve());
        file.once('error', reject);
      });
      const sha256 = hash.digest('hex');
      if (bytes < reference.size) {
        await rm(partial, { force: true });
        throw new ShortTransfer(dest, reference, bytes, sha256);
      }
      if (bytes !== reference.size || sha256 !== reference.sha256) {
        await rm(partial, { force: true });
        throw new TlrError(
          'E_DIGEST_MISMATCH',
          `${dest}: expected ${reference.size} bytes with sha256 ${reference.sha256} (as the producer sealed it), ` +
            `received ${bytes} bytes with sha256 ${sha256}; nothing was written`,
        );
      }
      await rename(partial, dest);
      return { bytes, sha256 };
    },
    async abort() {
      // Writes may still be in flight (the exec stream, interrupted): their errors are this abort's, not news.
      stream.on('error', () => undefined);
      file.on('error', () => undefined);
      stream.destroy();
      file.destroy();
      if (!file.closed) await new Promise<void>((resolve) => file.once('close', () => resolve()));
      await rm(partial, { force: true });
    },
  };
}

/**
 * One element of a verified value, into `dest`: the value at `whole` (already checked against its reference) read as
 * the structured JSON its producer sealed, the element written out decoded (its exact bytes), through
 * `<dest>.partial`, renamed into place only when the whole value was read and the element found. `whole` is removed
 * either way; on failure nothing is left at `dest`.
 */
export async function selectVerified(whole: string, dest: string, selector: Selector, subject: string): Promise<{ bytes: number; sha256: string }> {
  const partial = `${dest}.partial`;
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    const element = selectElement(createReadStream(whole), { type: 'key' in selector ? 'object' : 'array', subject, select: selector });
    const counted = async function* (): AsyncGenerator<Buffer> {
      for await (const chunk of element) {
        bytes += chunk.length;
        hash.update(chunk);
        yield chunk;
      }
    };
    await pipeline(counted, createWriteStream(partial, { mode: 0o644 }));
    await rename(partial, dest);
    return { bytes, sha256: hash.digest('hex') };
  } catch (error) {
    await rm(partial, { force: true });
    throw error instanceof TlrError ? new TlrError(error.code, `${dest}: ${error.message}; nothing was written`, { cause: error }) : error;
  } finally {
    await rm(whole, { force: true });
  }
}
