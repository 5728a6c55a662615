/**
 * The streaming replacer: copies a script to an output, replacing every declared reference token by the bytes of
 * the result it names, and showing every byte, in output order, to a guard that may refuse a value where it sits.
 * Pure of file-system concerns: the caller gives the input, the output and an `open` function that returns the
 * (verified) bytes of a reference. Memory stays bounded and buffers can be recycled: at most WRITES_IN_FLIGHT writes
 * are outstanding at any time.
 */
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Reference } from '../src/core/reference.js';
import type { ValueContext, ValueGuard } from './heredoc-guard.js';
import { TokenScanner, type Segment } from './token-scanner.js';

/**
 * Returns the bytes to insert for a reference. The iterable must throw (after its last chunk at the latest) when
 * the bytes do not match the reference: the replacer then fails and the output must be discarded.
 * Buffer reuse: when the replacer asks for chunk k, chunks up to k-1-WRITES_IN_FLIGHT have been completely
 * written (so a ring of WRITES_IN_FLIGHT + 2 buffers, one being read ahead, one being hashed, the others being
 * written, is safe).
 */
export type ReferenceOpener = (reference: Reference, token: string, context: ValueContext) => Promise<AsyncIterable<Uint8Array>>;

export interface SubstituteStreamOptions {
  /** The tokens to replace (token text -> reference); any other text passes through as it is. */
  readonly declared: ReadonlyMap<string, Reference>;
  readonly open: ReferenceOpener;
  /** Sees the script's bytes and each value's; throws to refuse a value. None: nothing is checked. */
  readonly guard?: ValueGuard;
}

/** Writes queued on the output before the replacer waits for the oldest: keeps the writing thread busy. */
export const WRITES_IN_FLIGHT = 4;

export interface StreamSubstituteResult {
  /** Number of tokens replaced (the same token twice counts twice). */
  readonly substitutions: number;
  /** Bytes written to the output. */
  readonly bytesWritten: number;
}

const NO_GUARD: ValueGuard = {
  template: () => undefined,
  beginValue: () => ({ checked: false, description: 'unchecked' }),
  value: () => undefined,
  endValue: () => undefined,
};

/**
 * Copies `input` to `output`, replacing the declared tokens. Ends the output and resolves once it has finished and
 * closed; on any error (a value refused by the guard included) destroys the output, waits for it to close, and rejects.
 */
export async function substituteStream(
  input: AsyncIterable<Uint8Array>,
  output: Writable,
  options: SubstituteStreamOptions,
): Promise<StreamSubstituteResult> {
  const writer = new SerialWriter(output);
  const scanner = new TokenScanner(options.declared);
  const guard = options.guard ?? NO_GUARD;
  let substitutions = 0;
  const emit = async (segments: Segment[]): Promise<void> => {
    for (const segment of segments) {
      if (segment.kind === 'bytes') {
        guard.template(segment.data);
        await writer.write(segment.data);
        continue;
      }
      const context = guard.beginValue(segment.reference);
      for await (const chunk of await options.open(segment.reference, segment.token, context)) {
        guard.value(asBuffer(chunk));
        await writer.write(chunk);
      }
      guard.endValue();
      substitutions++;
    }
  };
  try {
    for await (const chunk of input) await emit(scanner.push(asBuffer(chunk)));
    await emit(scanner.end());
    await writer.end();
  } catch (error) {
    await writer.abort(error);
    throw error;
  }
  return { substitutions, bytesWritten: writer.bytesWritten };
}

/** Keeps at most WRITES_IN_FLIGHT writes outstanding; `write` returns once the new write has been issued. */
class SerialWriter {
  bytesWritten = 0;
  private readonly outstanding: Array<Promise<void>> = [];
  private failure: Error | undefined;

  constructor(private readonly output: Writable) {
    // Errors also arrive through write callbacks; the listener keeps an 'error' event from crashing the process.
    output.on('error', (error) => (this.failure ??= error));
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (chunk.length === 0) return;
    while (this.outstanding.length >= WRITES_IN_FLIGHT) await this.outstanding.shift();
    if (this.failure !== undefined) throw this.failure;
    this.bytesWritten += chunk.length;
    const written = new Promise<void>((resolve, reject) => {
      this.output.write(chunk, (error) => (error ? reject(error) : resolve()));
    });
    written.catch(() => undefined); // observed when awaited (next writes or end)
    this.outstanding.push(written);
  }

  async end(): Promise<void> {
    while (this.outstanding.length > 0) await this.outstanding.shift();
    this.output.end();
    await finished(this.output);
  }

  async abort(error: unknown): Promise<void> {
    await Promise.allSettled(this.outstanding.splice(0));
    this.output.destroy(error instanceof Error ? error : new Error(String(error)));
    await finished(this.output).catch(() => undefined);
  }
}

function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}
