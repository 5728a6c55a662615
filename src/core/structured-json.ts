/**
 * The JSON of a structured result (an object of strings or an array of strings, as Tekton takes them), read as a
 * stream: checked at seal time against the declared type and properties, and read again in a consumer pod to pick
 * one element (`.key`, `[i]`) out of it. One pass, byte by byte, whatever the chunk boundaries; memory is the current
 * key (at most MAX_KEY_BYTES) plus, at seal time, the set of keys seen (at most MAX_KEYS), never a value.
 *
 * The grammar is Tekton's (pkg/apis/pipeline/v1 ParamValue.UnmarshalJSON, Go's encoding/json into []string or
 * map[string]string), checked more strictly where Go would change the value silently:
 * - the first byte is `{` (object) or `[` (array): Tekton takes anything else as a string and fails the TaskRun;
 * - elements are JSON strings or `null` (Go's empty string); anything else (numbers, nesting) is refused;
 * - strings are valid UTF-8 without lone surrogates (Go would put U+FFFD in their place);
 * - an object has no duplicate key (Go keeps the last; a reader that keeps the first would see another value) and
 *   every declared property;
 * - after the value, only whitespace.
 * A selected element is written out decoded: its exact bytes, escapes resolved.
 */
import { TlrError } from '../errors.js';
import type { ResultType, Selector } from './structured.js';

/** Longest object key read, in bytes (a key is a name, and is held in memory while it is compared). */
export const MAX_KEY_BYTES = 64 * 1024;
/** Most keys an object may have at seal time (each is kept, to refuse duplicates). */
export const MAX_KEYS = 100_000;

const enum S {
  Start,
  /** After `{` or `[`: the first element, or the close. */
  First,
  /** After `,`: an element (object: a key). */
  Next,
  Colon,
  /** An object's value or an array's element. */
  Value,
  /** After an element: `,` or the close. */
  After,
  Done,
  Key,
  Str,
  Null,
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const ESCAPES: Record<number, number> = { 0x22: 0x22, 0x5c: 0x5c, 0x2f: 0x2f, 0x62: 0x08, 0x66: 0x0c, 0x6e: 0x0a, 0x72: 0x0d, 0x74: 0x09 };

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

export interface StructuredOptions {
  /** What the result was declared as. */
  readonly type: Exclude<ResultType, 'string'>;
  /** For messages: `Result "r"`. */
  readonly subject: string;
  /** The element to write out (to `emit`), if any. */
  readonly select?: Selector;
  /** Receives the selected element's bytes, in order (fresh buffers the receiver may keep). */
  readonly emit?: (bytes: Buffer) => void;
  /** Seal: refuse duplicate keys, and require these properties. */
  readonly properties?: readonly string[];
  readonly checkKeys?: boolean;
}

/** A streaming reader of one structured value; `push` each chunk, then `end`. Throws E_RESULT_SHAPE. */
export class StructuredReader {
  private state = S.Start;
  /** Bytes before the current chunk, and the position of the byte being looked at. */
  private offset = 0;
  private at = 0;
  private elements = 0;
  private readonly key: number[] = [];
  private keyTooLong = false;
  private readonly keys = new Set<string>();
  private readonly sampleKeys: string[] = [];
  private selecting = false;
  private found = false;
  /** Pending escape: 0 none, 1 after `\`, 2..5 reading \u hex digits. */
  private escape = 0;
  private hex = 0;
  private highSurrogate = 0;
  /** UTF-8 continuation bytes still expected, and the allowed range of the next one. */
  private utf8Left = 0;
  private utf8Low = 0x80;
  private utf8High = 0xbf;
  private nullMatched = 0;

  constructor(private readonly options: StructuredOptions) {}

  push(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.inString()) {
        i = this.stringBytes(chunk, i);
        continue;
      }
      this.at = this.offset + i;
      this.structural(chunk[i] as number);
      i++;
    }
    this.offset += chunk.length;
  }

  private inString(): boolean {
    return this.state === S.Str || this.state === S.Key;
  }

  /** A byte that is simply part of the string: nothing pending, printable ASCII, not a quote or a backslash. */
  private isPlain(b: number): boolean {
    return this.escape === 0 && this.utf8Left === 0 && this.highSurrogate === 0 && b >= 0x20 && b < 0x80 && b !== QUOTE && b !== BACKSLASH;
  }

  /**
   * Reads string bytes from `from` until the string or the chunk ends; returns where it stopped. The selected
   * element's bytes are emitted in runs (slices copied once), escapes decoded one by one.
   */
  private stringBytes(chunk: Buffer, from: number): number {
    let runStart = -1;
    const flush = (to: number): void => {
      if (runStart >= 0 && to > runStart) this.options.emit?.(Buffer.from(chunk.subarray(runStart, to)));
      runStart = -1;
    };
    let i = from;
    for (; i < chunk.length && this.inString(); i++) {
      const b = chunk[i] as number;
      const run = this.selecting && this.escape === 0 && (b >= 0x80 || this.isPlain(b));
      if (run) {
        // Plain bytes and UTF-8 bytes (lead or continuation, checked below) of the selected element.
        if (runStart < 0) runStart = i;
        if (b < 0x80) continue;
      } else if (this.isPlain(b)) {
        if (this.state === S.Key) this.keyByte(b);
        continue;
      } else {
        flush(i);
      }
      this.at = this.offset + i;
      this.stringByte(b);
    }
    flush(i);
    return i;
  }

  end(): void {
    if (this.state !== S.Done) {
      throw this.fail(this.state === S.Start ? 'is empty' : 'ends before its JSON does (truncated)', this.offset);
    }
    const missing = (this.options.properties ?? []).filter((p) => !this.keys.has(p));
    if (this.options.checkKeys && missing.length > 0) {
      throw this.fail(
        `lacks the declared ${missing.length === 1 ? 'property' : 'properties'} ${missing.map((m) => `"${m}"`).join(', ')} ` +
          `(the task's results[].properties; Tekton fails the TaskRun without them); found keys ${this.describeKeys()}`,
      );
    }
    const select = this.options.select;
    if (select !== undefined && !this.found) {
      throw new TlrError(
        'E_RESULT_SHAPE',
        'key' in select
          ? `${this.options.subject} has no key "${select.key}"; found keys ${this.describeKeys()}`
          : `${this.options.subject} has ${this.elements} element(s), so index [${select.index}] is out of range`,
      );
    }
  }

  private describeKeys(): string {
    if (this.sampleKeys.length === 0) return 'none';
    const more = this.elements - this.sampleKeys.length;
    return this.sampleKeys.map((k) => `"${k}"`).join(', ') + (more > 0 ? ` and ${more} more` : '');
  }

  private structural(b: number): void {
    const at = this.at;
    if (this.state === S.Start) return this.start(b, at);
    if (this.state === S.Null) return this.nullByte(b, at);
    if (isSpace(b)) return undefined;
    switch (this.state) {
      case S.First:
        if (b === this.closer()) this.state = S.Done;
        else this.element(b, at);
        return undefined;
      case S.Next:
        return this.element(b, at);
      case S.Colon:
        if (b !== 0x3a) throw this.fail(`expected ":" after a key, found ${describeByte(b)}`, at);
        this.state = S.Value;
        return undefined;
      case S.Value:
        return this.value(b, at);
      case S.After:
        return this.after(b, at);
      default:
        throw this.fail(`has ${describeByte(b)} after its JSON ended; expected nothing but whitespace`, at);
    }
  }

  private start(b: number, at: number): void {
    const open = this.options.type === 'object' ? 0x7b : 0x5b;
    if (b !== open) {
      throw this.fail(
        `must start with "${String.fromCharCode(open)}" (it is declared an ${this.options.type}; Tekton reads a value ` +
          `starting with anything else as a string), found ${describeByte(b)} at its first byte`,
        at,
      );
    }
    this.state = S.First;
  }

  private nullByte(b: number, at: number): void {
    if (b !== 'null'.charCodeAt(this.nullMatched)) throw this.fail(`expected a string or null, found ${describeByte(b)}`, at);
    if (++this.nullMatched === 4) this.endElement();
  }

  private after(b: number, at: number): void {
    if (b === 0x2c) this.state = S.Next;
    else if (b === this.closer()) this.state = S.Done;
    else throw this.fail(`expected "," or "${String.fromCharCode(this.closer())}", found ${describeByte(b)}`, at);
  }

  private closer(): number {
    return this.options.type === 'object' ? 0x7d : 0x5d;
  }

  /** The start of an element: an object's key, or an array's value. */
  private element(b: number, at: number): void {
    if (this.options.type === 'array') {
      this.value(b, at);
      return;
    }
    if (b !== QUOTE) throw this.fail(`expected a key (a JSON string), found ${describeByte(b)}`, at);
    this.key.length = 0;
    this.keyTooLong = false;
    this.state = S.Key;
  }

  private value(b: number, at: number): void {
    const select = this.options.select;
    this.selecting =
      this.options.type === 'object' ? this.selectingKey : select !== undefined && 'index' in select && select.index === this.elements;
    if (this.selecting) this.found = true;
    if (b === QUOTE) {
      this.state = S.Str;
      return;
    }
    if (b === 0x6e) {
      this.nullMatched = 1;
      this.state = S.Null;
      return;
    }
    const what = b === 0x7b || b === 0x5b ? 'a nested object or array' : describeByte(b);
    throw this.fail(
      `expected a string (Tekton's ${this.options.type} results hold strings only), found ${what} in ${this.where()}`,
      at,
    );
  }

  private selectingKey = false;

  private where(): string {
    return this.options.type === 'array' ? `element [${this.elements}]` : `the value of key "${this.keyText()}"`;
  }

  private keyText(): string {
    return Buffer.from(this.key).toString('utf8');
  }

  private endElement(): void {
    this.elements += 1;
    this.selecting = false;
    this.state = S.After;
  }

  private endKey(): void {
    const at = this.at;
    if (this.keyTooLong) throw this.fail(`has a key longer than ${MAX_KEY_BYTES} bytes`, at);
    const key = this.keyText();
    const select = this.options.select;
    const again = select !== undefined && 'key' in select && this.found && select.key === key;
    if (this.options.checkKeys || again) {
      if (again || this.keys.has(key)) {
        throw this.fail(
          `has the key "${key.slice(0, 200)}" twice; expected each key once (Tekton would keep the last, a reader that ` +
            'stops at the first would see another value)',
          at,
        );
      }
      if (this.keys.size >= MAX_KEYS) throw this.fail(`has more than ${MAX_KEYS} keys`, at);
      this.keys.add(key);
    }
    if (this.sampleKeys.length < 10) this.sampleKeys.push(key.slice(0, 100));
    this.selectingKey = select !== undefined && 'key' in select && !this.found && select.key === key;
    this.state = S.Colon;
  }

  private keyByte(b: number): void {
    if (this.key.length >= MAX_KEY_BYTES) this.keyTooLong = true;
    else this.key.push(b);
  }

  /** Emits decoded bytes of the selected element (escapes), or adds them to the key. */
  private out(bytes: number[]): void {
    if (this.state === S.Key) for (const b of bytes) this.keyByte(b);
    else if (this.selecting) this.options.emit?.(Buffer.from(bytes));
  }

  private stringByte(b: number): void {
    const at = this.at;
    if (this.escape !== 0) return this.escapeByte(b, at);
    if (this.utf8Left > 0) {
      if (b < this.utf8Low || b > this.utf8High) throw this.invalidUtf8(at);
      this.utf8Low = 0x80;
      this.utf8High = 0xbf;
      this.utf8Left -= 1;
      if (this.state === S.Key) this.keyByte(b);
      return undefined;
    }
    if (b === BACKSLASH) {
      this.escape = 1;
      return undefined;
    }
    this.requireNoPendingSurrogate(at);
    if (b === QUOTE) return this.state === S.Key ? this.endKey() : this.endElement();
    if (b < 0x20) {
      throw this.fail(`has the control byte ${describeByte(b)} unescaped in ${this.stringWhere()}; JSON requires it escaped`, at);
    }
    this.utf8Lead(b, at);
    if (this.state === S.Key) this.keyByte(b);
    return undefined;
  }

  /** A byte after `\` (escape 1) or one of the four hex digits of `\u` (escape 2..5). */
  private escapeByte(b: number, at: number): void {
    if (this.escape === 1) {
      if (b === 0x75) {
        this.escape = 2;
        this.hex = 0;
        return;
      }
      const decoded = ESCAPES[b];
      if (decoded === undefined) throw this.fail(`has an invalid escape "\\${describeChar(b)}" in ${this.stringWhere()}`, at);
      this.escape = 0;
      this.requireNoPendingSurrogate(at);
      this.out([decoded]);
      return;
    }
    const digit = hexValue(b);
    if (digit < 0) throw this.fail(`has an invalid \\u escape (${describeByte(b)} is not a hex digit) in ${this.stringWhere()}`, at);
    this.hex = this.hex * 16 + digit;
    if (++this.escape < 6) return;
    this.escape = 0;
    this.codeUnit(this.hex, at);
  }

  private stringWhere(): string {
    return this.state === S.Key ? 'a key' : this.where();
  }

  /** Checks a UTF-8 lead byte (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF). */
  private utf8Lead(b: number, at: number): void {
    if (b < 0x80) return;
    if (b >= 0xc2 && b <= 0xdf) this.utf8Left = 1;
    else if (b === 0xe0) [this.utf8Left, this.utf8Low] = [2, 0xa0];
    else if (b === 0xed) [this.utf8Left, this.utf8High] = [2, 0x9f];
    else if (b >= 0xe1 && b <= 0xef) this.utf8Left = 2;
    else if (b === 0xf0) [this.utf8Left, this.utf8Low] = [3, 0x90];
    else if (b >= 0xf1 && b <= 0xf3) this.utf8Left = 3;
    else if (b === 0xf4) [this.utf8Left, this.utf8High] = [3, 0x8f];
    else throw this.invalidUtf8(at);
  }

  private codeUnit(unit: number, at: number): void {
    if (this.highSurrogate !== 0) {
      if (unit < 0xdc00 || unit > 0xdfff) throw this.loneSurrogate(this.highSurrogate, at);
      const cp = 0x10000 + ((this.highSurrogate - 0xd800) << 10) + (unit - 0xdc00);
      this.highSurrogate = 0;
      this.out([...Buffer.from(String.fromCodePoint(cp), 'utf8')]);
      return;
    }
    if (unit >= 0xd800 && unit <= 0xdbff) {
      this.highSurrogate = unit;
      return;
    }
    if (unit >= 0xdc00 && unit <= 0xdfff) throw this.loneSurrogate(unit, at);
    this.out([...Buffer.from(String.fromCharCode(unit), 'utf8')]);
  }

  private requireNoPendingSurrogate(at: number): void {
    if (this.highSurrogate !== 0) throw this.loneSurrogate(this.highSurrogate, at);
  }

  private loneSurrogate(unit: number, at: number): TlrError {
    return this.fail(
      `has a lone UTF-16 surrogate \\u${unit.toString(16).padStart(4, '0')} in ${this.stringWhere()}, which no UTF-8 text ` +
        'can hold (Tekton would put U+FFFD in its place)',
      at,
    );
  }

  private invalidUtf8(at: number): TlrError {
    return this.fail(
      `is not valid UTF-8 in ${this.stringWhere()} (JSON text is UTF-8; Tekton would put U+FFFD in place of the bad bytes)`,
      at,
    );
  }

  private fail(what: string, at?: number): TlrError {
    const where = at === undefined ? '' : ` (at byte ${at})`;
    return new TlrError('E_RESULT_SHAPE', `${this.options.subject}, declared ${article(this.options.type)} ${this.options.type}, ${what}${where}`);
  }
}

function article(type: string): string {
  return type === 'object' || type === 'array' ? 'an' : 'a';
}

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x41 && b <= 0x46) return b - 0x41 + 10;
  if (b >= 0x61 && b <= 0x66) return b - 0x61 + 10;
  return -1;
}

function describeChar(b: number): string {
  return b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
}

function describeByte(b: number): string {
  return b >= 0x21 && b < 0x7f ? `"${String.fromCharCode(b)}"` : `byte 0x${b.toString(16).padStart(2, '0')}`;
}

/**
 * The selected element of a verified value's chunks, as chunks: `source` must throw (after its last chunk at the
 * latest) when the value does not match its reference, and this passes that on after the selection, so a consumer
 * discards what it wrote.
 */
export async function* selectElement(
  source: AsyncIterable<Uint8Array>,
  options: Omit<StructuredOptions, 'emit' | 'checkKeys' | 'properties'> & { select: Selector },
): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  const reader = new StructuredReader({ ...options, emit: (bytes) => pending.push(bytes) });
  let error: Error | undefined;
  for await (const chunk of source) {
    // A value that is not the JSON it was sealed as cannot pass its digest check: finish reading it, so the
    // mismatch (the real cause) is what is reported.
    if (error !== undefined) continue;
    try {
      reader.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } catch (e) {
      error = e as Error;
      continue;
    }
    const out = pending;
    pending = [];
    yield* out;
  }
  if (error !== undefined) throw error;
  reader.end();
  yield* pending;
}
