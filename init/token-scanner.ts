/**
 * Splits a byte stream into plain bytes and the reference tokens this task declared (its `tlr-refs`), chunk by
 * chunk, whatever the chunk boundaries. Everything else is plain bytes, whatever it looks like: a token that was not
 * declared, a malformed `[[tlr:v1:…`, an unknown version — a commit message in a param may hold any of them, and
 * acting on it would let text choose what gets substituted (or fail the pod). Never throws on its input.
 * Works on Buffers only (Buffer.indexOf for `[[tlr:`); holds back at most the longest declared token when one may
 * continue in the next chunk, so memory does not grow with the input.
 */
import { REFERENCE_OPENING, type Reference } from '../src/core/reference.js';

export const OPENING = Buffer.from(REFERENCE_OPENING, 'latin1');

export type Segment =
  | { readonly kind: 'bytes'; readonly data: Buffer }
  | { readonly kind: 'reference'; readonly reference: Reference; readonly token: string; readonly offset: number };

/** A declared token: its bytes, for matching, and what it refers to. */
interface Declared {
  readonly bytes: Buffer;
  readonly token: string;
  readonly reference: Reference;
}

export class TokenScanner {
  /** Bytes held back from the previous chunk (a possible token start). */
  private carry: Buffer = Buffer.alloc(0);
  /** Offset in the whole input of carry[0]. */
  private offset = 0;
  private readonly declared: readonly Declared[];

  /** `declared`: token text -> reference, the only tokens acted on. */
  constructor(declared: ReadonlyMap<string, Reference>) {
    this.declared = [...declared].map(([token, reference]) => ({ bytes: Buffer.from(token, 'latin1'), token, reference }));
  }

  /** Feeds one chunk; returns the segments that are complete. */
  push(chunk: Buffer): Segment[] {
    const data = this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk]);
    return this.scan(data, false);
  }

  /** Ends the input; returns the remaining segments. */
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
      const at = this.declared.length === 0 ? -1 : data.indexOf(OPENING, pos);
      if (at === -1) {
        emit(eof ? data.length : data.length - partialOpeningLength(data, pos));
        break;
      }
      emit(at);
      const match = this.match(data, at, eof);
      if (match === 'need-more') break;
      if (match === undefined) {
        emit(at + OPENING.length); // not a declared token: plain text
        continue;
      }
      out.push({ kind: 'reference', reference: match.reference, token: match.token, offset: this.offset + at });
      pos = at + match.bytes.length;
    }
    this.carry = Buffer.from(data.subarray(pos));
    this.offset += pos;
    return out;
  }

  /** The declared token at `at`, `need-more` when the data ends inside what may still become one. */
  private match(data: Buffer, at: number, eof: boolean): Declared | 'need-more' | undefined {
    let partial = false;
    for (const candidate of this.declared) {
      const available = Math.min(candidate.bytes.length, data.length - at);
      if (data.compare(candidate.bytes, 0, available, at, at + available) !== 0) continue;
      if (available === candidate.bytes.length) return candidate;
      partial = true;
    }
    return partial && !eof ? 'need-more' : undefined;
  }
}

/** Length of the longest suffix of data[from..] that is a proper prefix of `[[tlr:` (so it may continue). */
function partialOpeningLength(data: Buffer, from: number): number {
  for (let k = Math.min(OPENING.length - 1, data.length - from); k > 0; k--) {
    if (data.subarray(data.length - k).equals(OPENING.subarray(0, k))) return k;
  }
  return 0;
}
