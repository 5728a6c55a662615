/**
 * Tekton's script preamble, decided with the values in. Tekton (pkg/pod/script.go placeScriptInContainer, v1.15.0)
 * prepends `#!/bin/sh\nset -e\n` to a step script unless `strings.TrimSpace(script)` starts with `#!`, and runs it
 * with PowerShell when it starts with `#!win` — at pod creation, when a value by reference is still its token. So a
 * script that begins with a value (`script: $(params.SCRIPT)`, fed a Python script by reference) would lose its own
 * `#!` line. The rewrite gives such scripts SCRIPT_PREAMBLE_MARK as their first line (a `#!` line to Tekton, which
 * then prepends nothing); here that line is replaced by what Tekton would have decided on the substituted script.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { SCRIPT_PREAMBLE_MARK } from '../src/api/names.js';
import type { Reference } from '../src/core/reference.js';
import { TlrError } from '../src/errors.js';
import { substituteStream, type ReferenceOpener } from './stream-substitute.js';

export const MARK_BYTES = Buffer.from(SCRIPT_PREAMBLE_MARK);
/** Tekton's defaultScriptPreamble. */
export const TEKTON_PREAMBLE = Buffer.from('#!/bin/sh\nset -e\n');

/** What Tekton does with a script: runs it as it is (it has a `#!` line), prepends its preamble, or runs PowerShell. */
export type PreambleDecision = 'shebang' | 'preamble' | 'windows';

/**
 * The UTF-8 encodings of the white space above ASCII that Go's unicode.IsSpace (so strings.TrimSpace) skips: U+0085,
 * U+00A0, U+1680, U+2000–U+200A, U+2028, U+2029, U+202F, U+205F, U+3000. Any other byte, or an invalid sequence
 * (Go decodes it as U+FFFD, not space), ends the white space.
 */
const WIDE_SPACES: readonly Buffer[] = [0x85, 0xa0, 0x1680, ...range(0x2000, 0x200a), 0x2028, 0x2029, 0x202f, 0x205f, 0x3000].map((c) =>
  Buffer.from(String.fromCodePoint(c), 'utf8'),
);

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/**
 * The white space strings.TrimSpace would drop at the start of `head`: its length in bytes, and whether it runs to
 * the end of `head` (all white space, or ending inside a multi-byte space), so that more bytes could lengthen it.
 */
function spaceRun(head: Uint8Array): { length: number; open: boolean } {
  let i = 0;
  while (i < head.length) {
    const b = head[i] as number;
    if (b === 0x20 || (b >= 0x09 && b <= 0x0d)) {
      i++;
      continue;
    }
    if (b < 0x80) return { length: i, open: false };
    const rest = head.subarray(i);
    const wide = WIDE_SPACES.find((s) => rest.length >= s.length && s.equals(rest.subarray(0, s.length)));
    if (wide !== undefined) {
      i += wide.length;
      continue;
    }
    return { length: i, open: WIDE_SPACES.some((s) => rest.length < s.length && s.subarray(0, rest.length).equals(rest)) };
  }
  return { length: i, open: true };
}

/**
 * The number of leading bytes strings.TrimSpace drops from a text starting with `head`; undefined when `head` does
 * not show it yet (all white space, or ending inside a multi-byte space) and more may follow (`ended` false).
 */
export function leadingSpace(head: Uint8Array, ended: boolean): number | undefined {
  const run = spaceRun(head);
  return run.open && !ended ? undefined : run.length;
}

/** Tekton's decision on a script starting with `head`; undefined while `head` is too short to tell and more follows. */
export function preambleDecision(head: Uint8Array, ended: boolean): PreambleDecision | undefined {
  const skip = leadingSpace(head, ended);
  if (skip === undefined) return undefined;
  const text = Buffer.from(head.buffer, head.byteOffset + skip, head.length - skip);
  for (const [prefix, decision] of [['#!win', 'windows'], ['#!', 'shebang']] as const) {
    if (text.length >= prefix.length) {
      if (text.subarray(0, prefix.length).toString('latin1') === prefix) return decision;
    } else if (!ended && prefix.startsWith(text.toString('latin1'))) {
      return undefined; // `#!wi`…: could still become `#!win`
    }
  }
  return 'preamble';
}

/** The first line of a script starting with `head` once leading white space is skipped (at most 512 bytes). */
export function firstLineOf(head: Uint8Array): string {
  const skip = leadingSpace(head, true) ?? 0;
  const text = Buffer.from(head.buffer, head.byteOffset + skip, Math.min(head.length - skip, 512)).toString('utf8');
  return text.split('\n')[0] ?? '';
}

/** True when a script's first bytes are the rewrite's mark (then the script's preamble is decided here). */
export function isMarked(head: Uint8Array): boolean {
  return head.length >= MARK_BYTES.length && MARK_BYTES.equals(head.subarray(0, MARK_BYTES.length));
}

/** `chunks` without their first `bytes` bytes. */
export async function* dropPrefix(chunks: AsyncIterable<Buffer>, bytes: number): AsyncGenerator<Buffer> {
  let left = bytes;
  for await (const chunk of chunks) {
    if (left >= chunk.length) {
      left -= chunk.length;
      continue;
    }
    yield left > 0 ? chunk.subarray(left) : chunk;
    left = 0;
  }
}

/** The most bytes of a marked script's substituted start read to decide its preamble (all white space up to here: refused). */
const PREAMBLE_PEEK_LIMIT = 1024 * 1024;

export interface Preamble {
  readonly decision: Exclude<PreambleDecision, 'windows'>;
  /** The first line Tekton's preamble decision gives the script (for the heredoc guard). */
  readonly firstLine: string;
  /** The substituted script's first bytes (without the preamble) the decision was made on. */
  readonly head: Buffer;
}

/** Stops the peek once the decision is known. */
class Decided extends Error {}

/**
 * The start of a substituted script, taken write by write (an element's escapes arrive a byte at a time), in time
 * linear in its bytes: the white space already skipped is not looked at again.
 */
class HeadCapture {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  /** From the first byte not yet known to be leading white space; after a `#!`, up to the end of that line. */
  private rest = Buffer.alloc(0);
  private lineDone = false;
  decision: PreambleDecision | undefined;

  /** Takes one write; true once enough is held (the decision, a `#!` line whole) or more than the limit. */
  push(chunk: Buffer): boolean {
    this.chunks.push(Buffer.from(chunk)); // a copy: the reader reuses its buffers
    this.bytes += chunk.length;
    if (this.decision === undefined || (this.decision === 'shebang' && !this.lineDone)) this.rest = Buffer.concat([this.rest, chunk]);
    if (this.decision === undefined) {
      this.rest = this.rest.subarray(spaceRun(this.rest).length);
      this.decision = preambleDecision(this.rest, false);
    }
    if (this.decision === 'shebang') this.lineDone ||= this.rest.includes(0x0a) || this.rest.length >= 512;
    const enough = this.decision !== undefined && (this.decision !== 'shebang' || this.lineDone);
    return enough || this.bytes > PREAMBLE_PEEK_LIMIT;
  }

  end(): void {
    this.decision ??= preambleDecision(this.rest, true);
  }

  head(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/**
 * Tekton's preamble decision on a marked script with its values in: `script` (its bytes after the mark) substituted
 * into memory only as far as needed, each value from `open` (read from its file, not yet verified), and decided as
 * Tekton decides. The real substitution verifies every value, and confirmPreamble then checks that its output starts
 * with these bytes.
 */
export async function decidePreamble(
  script: { readonly path: string; readonly chunks: AsyncIterable<Buffer> },
  declared: ReadonlyMap<string, Reference>,
  open: ReferenceOpener,
): Promise<Preamble> {
  const capture = new HeadCapture();
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback): void {
      callback(capture.push(chunk) ? new Decided() : undefined);
    },
  });
  try {
    await substituteStream(script.chunks, output, { declared, open });
    capture.end();
  } catch (error) {
    if (!(error instanceof Decided)) throw error;
  }
  return preambleOf(script.path, capture.head(), capture.decision);
}

/** The decision, or the refusal for what Tekton would do and a pod created already cannot. */
function preambleOf(script: string, head: Buffer, decision: PreambleDecision | undefined): Preamble {
  const begins = `Script ${script} begins with a value by reference (the rewrite marked it so that its #! line is decided with the values in)`;
  if (decision === undefined) {
    throw new TlrError(
      'E_INPUT',
      `${begins}; with the values in, its first ${head.length} bytes are all white space: expected a #! line or the ` +
        `script's first command within ${PREAMBLE_PEEK_LIMIT} bytes; nothing was substituted`,
    );
  }
  if (decision === 'windows') {
    throw new TlrError(
      'E_INPUT',
      `${begins}; with the values in it starts with "#!win", found "${firstLineOf(head).slice(0, 80)}": Tekton runs such ` +
        'a script with PowerShell, which it decides when it creates the pod, before the value is known; expected a Linux ' +
        'script (a #! line for its interpreter, or none for /bin/sh). Put the #!win line in the Task itself; nothing was substituted',
    );
  }
  if (head.length === 0) {
    throw new TlrError(
      'E_INPUT',
      `${begins}; with the values in it is empty: expected a script (Tekton gives a step whose script is empty no script ` +
        `at all, and runs the image's own command instead, which a pod created already cannot); nothing was substituted`,
    );
  }
  return { decision, firstLine: decision === 'shebang' ? firstLineOf(head) : '#!/bin/sh', head };
}

export async function* withPreamble(chunks: AsyncIterable<Buffer>, decision: Preamble['decision']): AsyncGenerator<Buffer> {
  if (decision === 'preamble') yield TEKTON_PREAMBLE;
  yield* chunks;
}

/** Refuses a substituted script that does not start as the decision's peek did (a value changed while it was read). */
export async function confirmPreamble(temp: string, script: string, preamble: Preamble): Promise<void> {
  const expected = preamble.decision === 'preamble' ? Buffer.concat([TEKTON_PREAMBLE, preamble.head]) : preamble.head;
  const handle = await open(temp, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const found = Buffer.alloc(expected.length);
    const { bytesRead } = await handle.read(found, 0, expected.length, 0);
    if (bytesRead === expected.length && found.equals(expected)) return;
  } finally {
    await handle.close();
  }
  throw new TlrError(
    'E_RESULT_UNSAFE',
    `Script ${script}: its substituted start differs from the bytes its #! line was decided on: a result file it uses ` +
      'changed while it was read; nothing was substituted',
  );
}
