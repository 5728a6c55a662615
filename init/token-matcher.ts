/**
 * Recognises a reference token in bytes, without converting them to a string: the streaming scanner calls it at
 * every `[[tlr:` it finds. Equivalent to REFERENCE_PATTERN anchored at the opening (the scanner double-checks each
 * match with parseReference), but it can also tell "not enough bytes yet" apart from "not a reference".
 */
import { REFERENCE_OPENING } from '../src/core/reference.js';

export const OPENING = Buffer.from(REFERENCE_OPENING, 'latin1');

export type TokenMatch =
  /** A complete v1 reference of `length` bytes. */
  | { readonly kind: 'reference'; readonly length: number }
  /** The bytes so far could still become a reference; `inBody` once `[[tlr:v1:` has been seen. */
  | { readonly kind: 'need-more'; readonly inBody: boolean }
  /** `[[tlr:` followed by something that is not `v<digits>:`: ordinary text. */
  | { readonly kind: 'not-reference' }
  /** `[[tlr:v<n>:` with n other than 1. */
  | { readonly kind: 'unknown-version'; readonly version: string }
  /** `[[tlr:v1:` followed by something that is not a well-formed v1 reference. */
  | { readonly kind: 'malformed'; readonly length: number };

const MAX_VERSION_DIGITS = 9;
const MAX_SIZE_DIGITS = 16;
const MAX_PATH = 1024;
const NEED_BODY: TokenMatch = { kind: 'need-more', inBody: true };

const isDigit = (b: number): boolean => b >= 0x30 && b <= 0x39;
const isLowerHex = (b: number): boolean => isDigit(b) || (b >= 0x61 && b <= 0x66);
// [A-Za-z0-9._/-]
const isLetter = (b: number): boolean => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
const isPathChar = (b: number): boolean =>
  isDigit(b) || isLetter(b) || b === 0x2e || b === 0x5f || b === 0x2f || b === 0x2d;

/** Matches at `start`, where `buf` holds `[[tlr:` (the caller found it with indexOf). */
export function matchToken(buf: Buffer, start: number): TokenMatch {
  let p = start + OPENING.length;
  if (p >= buf.length) return { kind: 'need-more', inBody: false };
  if (buf[p] !== 0x76 /* v */) return { kind: 'not-reference' };
  const versionStart = ++p;
  while (p < buf.length && isDigit(buf[p]!) && p - versionStart <= MAX_VERSION_DIGITS) p++;
  if (p >= buf.length) return { kind: 'need-more', inBody: false };
  if (p === versionStart || buf[p] !== 0x3a /* : */) return { kind: 'not-reference' };
  const version = buf.toString('latin1', versionStart, p);
  if (version !== '1') return { kind: 'unknown-version', version: `v${version}` };
  return matchV1Body(buf, start, p + 1);
}

/** Each step returns the next position, or a final TokenMatch. */
type Step = (buf: Buffer, p: number) => number | TokenMatch;

function matchV1Body(buf: Buffer, start: number, from: number): TokenMatch {
  let p = from;
  for (const step of V1_STEPS) {
    const next = step(buf, p);
    if (typeof next !== 'number') return next.kind === 'malformed' ? { kind: 'malformed', length: p - start } : next;
    p = next;
  }
  return { kind: 'reference', length: p - start };
}

function literal(text: string): Step {
  const bytes = Buffer.from(text, 'latin1');
  return (buf, p) => {
    for (const byte of bytes) {
      if (p >= buf.length) return NEED_BODY;
      if (buf[p++] !== byte) return MALFORMED;
    }
    return p;
  };
}

const MALFORMED: TokenMatch = { kind: 'malformed', length: 0 };

const sha256Step: Step = (buf, p) => {
  for (let i = 0; i < 64; i++, p++) {
    if (p >= buf.length) return NEED_BODY;
    if (!isLowerHex(buf[p]!)) return MALFORMED;
  }
  return p;
};

// (0|[1-9][0-9]{0,15}) followed by ':'
const sizeStep: Step = (buf, p) => {
  const first = p;
  if (p >= buf.length) return NEED_BODY;
  if (buf[p] === 0x30) return p + 1;
  while (p < buf.length && isDigit(buf[p]!) && p - first < MAX_SIZE_DIGITS) p++;
  if (p === first && p < buf.length) return MALFORMED;
  return p;
};

// [A-Za-z0-9._/-]{1,1024}
const pathStep: Step = (buf, p) => {
  const first = p;
  while (p < buf.length && isPathChar(buf[p]!)) {
    if (++p - first > MAX_PATH) return MALFORMED;
  }
  if (p >= buf.length) return NEED_BODY;
  return p === first ? MALFORMED : p;
};

const V1_STEPS: readonly Step[] = [
  literal('sha256='),
  sha256Step,
  literal(':size='),
  sizeStep,
  literal(':path='),
  pathStep,
  literal(']]'),
];
