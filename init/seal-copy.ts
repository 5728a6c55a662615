/**
 * The copy of a result the seal step publishes as the classic result `tlr-copy-<name>` (src/core/copies.ts): the
 * bytes it hashes, taken as they stream past. Tekton carries it in the seal step's termination message, a JSON
 * string: so it must be UTF-8 (Go's encoder would replace other bytes, and the consumer would get another value),
 * and its encoded length (escapes included) is what maxCopySize bounds, which the rewrite counted on when it checked
 * the message fits.
 */
import { lstat, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { isCopyName, type CopyKind } from '../src/core/copies.js';
import { TlrError } from '../src/errors.js';

/** What the copies may take of the seal step's termination message: `left` of `total`, `classic` taken by classic results. */
export interface CopyRoom {
  left: number;
  readonly total: number;
  readonly classic?: { readonly names: readonly string[]; readonly bytes: number };
}

/**
 * The start of a variable Tekton substitutes after it has put a param's value in (pkg/reconciler/taskrun/resources/
 * apply.go: contexts, results, step results and exit codes, artifacts, workspaces, credentials; the pipeline's finally
 * tasks get `$(tasks.…status)` after the results): in a copy, the consumer would get another value. `params` and
 * `inputs` too, in case a later Tekton adds a pass (StepActions' params are applied again).
 */
const TEKTON_VARIABLE = /\$\((?:context|workspaces|results|step|steps|artifacts|credentials|tasks|params|inputs)[.[]/;

export class CopyTaker {
  private readonly chunks: Buffer[] = [];
  private taken = 0;

  constructor(
    private readonly name: string,
    private readonly maxSize: number,
    size: number,
  ) {
    this.checkSize(size);
  }

  /** Refuses a value over the limit before it is read (its encoding can only be longer). */
  checkSize(size: number): void {
    if (size > this.maxSize) throw this.tooLarge(`${size} bytes`);
  }

  push(chunk: Buffer): void {
    this.taken += chunk.length;
    // The chunk's buffer is reused by the reader: keep a copy. More than the limit is refused by checkSize first.
    if (this.taken <= this.maxSize) this.chunks.push(Buffer.from(chunk));
  }

  /**
   * The copy, checked: valid UTF-8, and at most maxSize bytes as Go's JSON encoder writes it; `escaped` with every `$`
   * doubled (for the kubelet's `$(VAR)` expansion, which gives back the value).
   */
  value(kind: CopyKind = 'plain', room?: CopyRoom): Buffer {
    const value = Buffer.concat(this.chunks);
    const bytes = kind === 'escaped' ? Buffer.from(value.toString('latin1').replaceAll('$', '$$$$'), 'latin1') : value;
    if (this.taken !== value.length) throw this.tooLarge(`${this.taken} bytes`);
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      const at = firstInvalidUtf8(bytes);
      throw new TlrError(
        'E_RESULT_SHAPE',
        `Result "${this.name}" is used where a copy of its value is needed (a field Kubernetes or Tekton reads before any ` +
          `step of the consumer runs), and a copy travels as a Tekton result, which must be UTF-8 text; found a byte ` +
          `that is not UTF-8 at offset ${at} (0x${bytes[at]?.toString(16).padStart(2, '0') ?? '??'}). Write text, or use the value only in the consumer's steps`,
      );
    }
    const variable = TEKTON_VARIABLE.exec(value.toString('latin1'));
    if (variable !== null) {
      throw new TlrError(
        'E_RESULT_SHAPE',
        `Result "${this.name}" is used where a copy of its value is needed (a field Kubernetes or Tekton reads before any ` +
          `step of the consumer runs), and a copy travels through Tekton's variable substitution, which would replace ` +
          `"${variable[0]}…" at offset ${variable.index} with something else (it substitutes again after putting the value in); ` +
          'expected a value without a Tekton variable. Write the value another way, or use it only in the consumer\'s steps',
      );
    }
    const encoded = goJsonLength(text);
    if (encoded > this.maxSize) {
      throw this.tooLarge(`${value.length} bytes, ${encoded} as Tekton encodes it${kind === 'escaped' ? ' with every $ doubled (for a sidecar, where the kubelet expands $(VAR))' : ''}`);
    }
    if (room !== undefined) {
      if (encoded > room.left) {
        throw new TlrError(
          'E_RESULT_TOO_LARGE',
          `Result "${this.name}": its copy (for a field no step can put the value in) takes ${encoded} bytes as Tekton encodes it, ` +
            `and the copies of this task's results have ${room.left} of their ${room.total} bytes left in the tlr-seal step's ` +
            `termination message, beside its references${room.classic !== undefined && room.classic.bytes > 0 ? ` and its classic results (${room.classic.names.join(', ')}: ${room.classic.bytes} bytes)` : ''} ` +
            '(the kubelet keeps only a share of 12288 bytes per container of the pod, ' +
            'and Tekton drops every result of a message it cuts); expected the copies to fit. Write smaller values, use fewer ' +
            'of them where no step can put them in, or store fewer results by reference in this task',
        );
      }
      room.left -= encoded;
    }
    return bytes;
  }

  private tooLarge(found: string): TlrError {
    return new TlrError(
      'E_RESULT_TOO_LARGE',
      `Result "${this.name}" is used where a copy of its value is needed (a field Kubernetes or Tekton reads before any ` +
        `step of the consumer runs: an image, a Secret's or ConfigMap's name or key, a volume or mount path, a sidecar, ` +
        `a when expression), and a copy is at most ${this.maxSize} bytes (config key maxCopySize); found ${found}. ` +
        'Write a value that fits, or use it only in the consumer\'s steps (script, args, command, env, workingDir)',
    );
  }
}

/**
 * The length of `text` as Go's encoding/json writes a string's content (HTMLEscape on, as json.Marshal): `"` and `\`
 * take 2 bytes, \n \r \t 2, other control characters, `<`, `>`, `&`, U+2028 and U+2029 6 (\u00XX: the longest form,
 * so the bound holds whatever Go version escapes \b and \f shorter), everything else its UTF-8 bytes.
 */
export function goJsonLength(text: string): number {
  let length = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '"' || ch === '\\' || ch === '\n' || ch === '\r' || ch === '\t') length += 2;
    else if (code < 0x20 || ch === '<' || ch === '>' || ch === '&' || code === 0x2028 || code === 0x2029) length += 6;
    else length += Buffer.byteLength(ch);
  }
  return length;
}

/** The offset of the first byte that does not begin a valid UTF-8 sequence (the value is known to have one). */
function firstInvalidUtf8(bytes: Buffer): number {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i] ?? 0;
    const length = lead < 0x80 ? 1 : lead >= 0xc2 && lead < 0xe0 ? 2 : lead >= 0xe0 && lead < 0xf0 ? 3 : lead >= 0xf0 && lead < 0xf5 ? 4 : 0;
    if (length === 0 || i + length > bytes.length) return i;
    try {
      decoder.decode(bytes.subarray(i, i + length));
    } catch {
      return i;
    }
    i += length;
  }
  return i;
}

/** Bytes of a result's entry in a termination message beside its name and value: `{"key":"","value":"","type":1}`. */
const ENTRY_BYTES = JSON.stringify({ key: '', value: '', type: 1 }).length + 1;
/** A classic result longer than this cannot fit any termination message: its size is what is counted. */
const READ_AT_MOST = 16 * 1024;

/**
 * The classic results earlier steps left in `resultsDir` (every file but the results being sealed and copies), and
 * what they take of the seal step's termination message: Tekton's entrypoint puts every declared result it finds
 * there into each step's message (pkg/entrypoint/entrypointer.go readResultsFromDisk), the seal step's too. An
 * undeclared file is counted as well (the bound errs on the safe side).
 */
export async function classicResultBytes(resultsDir: string, sealed: readonly string[]): Promise<{ names: string[]; bytes: number }> {
  const names: string[] = [];
  let bytes = 0;
  const entries = await readdir(resultsDir).catch(() => [] as string[]);
  for (const name of entries.sort()) {
    if (sealed.includes(name) || isCopyName(name)) continue;
    const path = join(resultsDir, name);
    const info = await lstat(path).catch(() => undefined);
    if (info === undefined || !info.isFile()) continue;
    names.push(name);
    bytes += ENTRY_BYTES + goJsonLength(name) + (info.size > READ_AT_MOST ? info.size : await encodedLength(path));
  }
  return { names, bytes };
}

/** A file's length as Go's JSON encoder writes it: escapes counted; a byte that is not UTF-8 as `\ufffd` (6). */
async function encodedLength(path: string): Promise<number> {
  const file = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(READ_AT_MOST);
    const { bytesRead } = await file.read(buffer, 0, READ_AT_MOST, 0);
    const content = buffer.subarray(0, bytesRead);
    try {
      return goJsonLength(new TextDecoder('utf-8', { fatal: true }).decode(content));
    } catch {
      return 6 * content.length;
    }
  } finally {
    await file.close();
  }
}
