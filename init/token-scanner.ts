/**
 * Splits a byte stream into plain bytes and reference tokens, chunk by chunk, whatever the chunk boundaries.
 * Works on Buffers only (Buffer.indexOf for `[[tlr:`); holds back at most REFERENCE_MAX_LENGTH bytes when a token
 * may continue in the next chunk, so memory does not grow with the input.
 */
import { parseReference, REFERENCE_MAX_LENGTH, type Reference } from '../src/core/reference.js';
import { TlrError } from '../src/errors.js';
import { matchToken, OPENING } from './token-matcher.js';

export type Segment =
  | { readonly kind: 'bytes'; readonly data: Buffer }
  | { readonly kind: 'reference'; readonly reference: Reference; readonly token: string; readonly offset: number };

export class TokenScanner {
  /** Bytes held back from the previous chunk (a possible token start). */
  private carry: Buffer = Buffer.alloc(0);
  /** Offset in the whole input of carry[0]. */
  private offset = 0;

  /** `source` names the input in error messages (e.g. `Script /tekton/scripts/script-0-abcde`). */
  constructor(private readonly source: string) {}

  /** Feeds one chunk; returns the segments that are complete. */
  push(chunk: Buffer): Segment[] {
    const data = this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk]);
    return this.scan(data, false);
  }

  /** Ends the input; returns the remaining segments. Throws when the input ends inside a v1 reference. */
  end(): Segment[] {
    return this.scan(this.carry, true);
  }

  private scan(data: Buffer, eof: boolean): Segment[] {
    const out: Segment[] = [];
    let pos = 0;
    const emit = (to: number): void => {
      if (to > pos) out.push({ kind: 'bytes', data: data.subarray(pos, to) });
      pos = to;
    };
    for (;;) {
      const at = data.indexOf(OPENING, pos);
      if (at === -1) {
        emit(eof ? data.length : data.length - partialOpeningLength(data, pos));
        break;
      }
      emit(at);
      const match = matchToken(data, at);
      if (match.kind === 'reference') {
        const token = data.toString('latin1', at, at + match.length);
        out.push({ kind: 'reference', reference: this.parse(token, at), token, offset: this.offset + at });
        pos = at + match.length;
      } else if (match.kind === 'need-more' && !(eof && !match.inBody)) {
        if (eof) throw this.malformed(data, at);
        break;
      } else if (match.kind === 'unknown-version') {
        throw new TlrError(
          'E_INPUT',
          `${this.source} contains a reference of unknown version ${match.version} at byte ${this.offset + at}: ` +
            'this tlr-init understands only v1 references; ' +
            'use the tlr-init image of the same release as the controller',
        );
      } else if (match.kind === 'malformed') {
        throw this.malformed(data, at);
      } else {
        emit(at + OPENING.length); // not a reference (or an unfinished opening at the end): plain text
      }
    }
    this.carry = Buffer.from(data.subarray(pos));
    this.offset += pos;
    if (this.carry.length > REFERENCE_MAX_LENGTH) throw new Error('token scanner held back too much'); // invariant
    return out;
  }

  private parse(token: string, at: number): Reference {
    let reference: Reference | undefined;
    try {
      reference = parseReference(token);
    } catch (error) {
      throw new TlrError(
        'E_RESULT_UNSAFE',
        `${this.source} contains a reference with an unsafe path at byte ${this.offset + at}: ${token}: ` +
          `${(error as Error).message}`,
      );
    }
    if (reference === undefined) throw this.malformed(Buffer.from(token, 'latin1'), 0);
    return reference;
  }

  private malformed(data: Buffer, at: number): TlrError {
    const snippet = data.toString('latin1', at, Math.min(data.length, at + 120)).replace(/[^\x20-\x7e]/g, '?');
    return new TlrError(
      'E_INPUT',
      `${this.source} contains a malformed reference at byte ${this.offset + at}: "${snippet}"; expected ` +
        '[[tlr:v1:sha256=<64 hex digits>:size=<bytes>:path=<run-dir>/<producer>/<result>]]',
    );
  }
}

/** Length of the longest suffix of data[from..] that is a proper prefix of `[[tlr:` (so it may continue). */
function partialOpeningLength(data: Buffer, from: number): number {
  for (let k = Math.min(OPENING.length - 1, data.length - from); k > 0; k--) {
    if (data.subarray(data.length - k).equals(OPENING.subarray(0, k))) return k;
  }
  return 0;
}
