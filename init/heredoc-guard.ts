/**
 * Keeps a substituted value from becoming shell code. The documented way to take a value in a shell script is a
 * quoted here-document:
 *
 *     cat <<'TLR_END'
 *     $(params.payload)
 *     TLR_END
 *
 * The shell takes its body literally — until a line equals the delimiter. A value holding that line would end the
 * body early, and the shell would run the rest of the value. The guard follows the script as it is written (template
 * bytes, lexed by shell-lexer.ts) and the values as they stream into it, and refuses a value that would produce a
 * line equal to the delimiter of the here-document it sits in; in an unquoted here-document (`<<EOF`, where the
 * shell expands `$(…)`, backquotes and backslashes) it refuses a value holding `$`, `` ` `` or `\`. Memory stays
 * bounded: a body line is compared with the delimiter as its bytes pass, never kept.
 *
 * Values elsewhere (outside a here-document, or in a script that is not a shell script) are not checked: the guard
 * says so, and substitute logs a warning. Those forms are as open to injection as Tekton's own params in scripts.
 */
import type { Reference } from '../src/core/reference.js';
import { TlrError } from '../src/errors.js';
import { initialLexState, lexLine, type Heredoc, type LexState } from './shell-lexer.js';

/** Where a value was substituted, in words, and whether the guard checks it. */
export interface ValueContext {
  readonly checked: boolean;
  readonly description: string;
}

/** What substitute tells the guard, in output order. Methods throw a TlrError to refuse a value. */
export interface ValueGuard {
  template(data: Buffer): void;
  beginValue(reference: Reference): ValueContext;
  value(data: Buffer): void;
  endValue(): void;
}

const NEWLINE = 0x0a;
/** Longest code line followed; past it the guard stops following the script (values after it are unchecked). */
const MAX_CODE_LINE = 1 << 20;
const SHELLS = new Set(['sh', 'bash', 'dash', 'ash', 'ksh', 'mksh', 'zsh', 'yash', 'posh']);
const EXPANDED = [0x24, 0x60, 0x5c]; // $ ` \

/** A guard for a script whose first line is `firstLine` (Tekton writes a shebang into every script). */
export function guardFor(firstLine: string, script: string): ValueGuard {
  const interpreter = shebangInterpreter(firstLine);
  if (interpreter !== undefined && SHELLS.has(interpreter)) return new HeredocGuard(script);
  return unchecked(`in a script run by ${interpreter ?? 'an unknown interpreter'} (${firstLine.slice(0, 80)}), not a shell`);
}

/** The program a `#!` line runs: the basename of its path, or of `env`'s command. */
export function shebangInterpreter(firstLine: string): string | undefined {
  if (!firstLine.startsWith('#!')) return undefined;
  const words = firstLine.slice(2).trim().split(/\s+/);
  let program = basename(words[0] ?? '');
  if (program === 'env') program = basename(words.slice(1).find((w) => !w.startsWith('-') && !w.includes('=')) ?? '');
  if (program === 'busybox') program = words[1] ?? program;
  return program === '' ? undefined : program;
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function unchecked(description: string): ValueGuard {
  return {
    template: () => undefined,
    beginValue: () => ({ checked: false, description }),
    value: () => undefined,
    endValue: () => undefined,
  };
}

/** A body line being compared with the delimiter, byte by byte as it passes. */
interface BodyLine {
  matched: number;
  tabsDone: boolean;
  differs: boolean;
  hasValue: boolean;
}

class HeredocGuard implements ValueGuard {
  private readonly lex: LexState = initialLexState();
  /** Here-documents opened on the current command line, or whose bodies follow (the first is the current body). */
  private readonly pending: Heredoc[] = [];
  private inBody = false;
  private code: Buffer[] = [];
  private codeLength = 0;
  private body: BodyLine = freshLine();
  /** Template line number (1-based) of the next template byte. */
  private line = 1;
  private lost = false;
  /** The last value begun, named in refusals (the line it ends on is judged after it). */
  private current: Reference | undefined;
  private valueLine = 0;

  constructor(private readonly script: string) {}

  template(data: Buffer): void {
    let i = 0;
    while (i < data.length) {
      const next = this.inBody ? this.feedBody(data, i) : this.feedCode(data, i);
      this.line += countNewlines(data, i, next);
      i = next;
    }
  }

  beginValue(reference: Reference): ValueContext {
    this.current = reference;
    this.valueLine = this.line;
    if (this.lost) return { checked: false, description: 'after a line too long to follow' };
    if (!this.inBody) {
      this.code.push(Buffer.from([0])); // an opaque word for the lexer
      return { checked: false, description: 'outside a here-document' };
    }
    this.body.hasValue = true;
    const doc = this.pending[0]!;
    const where = `here-document ${doc.written} opened on line ${doc.line}`;
    // The value cannot end the here-document (checked all the same), but the program reading it runs it as code.
    if (doc.runBy !== undefined) return { checked: false, description: `in a ${where} that ${doc.runBy} runs as a program` };
    return { checked: true, description: `${doc.quoted ? 'quoted' : 'unquoted'} ${where}` };
  }

  value(data: Buffer): void {
    if (this.lost || !this.inBody) return;
    const doc = this.pending[0]!;
    if (!doc.quoted) this.refuseExpanded(data, doc);
    if (data.length === 0) return;
    const first = data.indexOf(NEWLINE);
    if (first !== 0) this.body.hasValue = true; // value bytes on the line in progress
    if (first === -1) {
      compare(this.body, data, 0, data.length, doc);
      return;
    }
    // The line in progress ends here; then whole lines (only a delimiter at a line start matters: searched natively,
    // so a value costs a search, not a loop over its lines); then the line the next bytes continue.
    this.feedBody(data, 0);
    const last = data.lastIndexOf(NEWLINE);
    if (wholeLineAt(data, first, last, doc)) this.refuseDelimiter(doc);
    resetLine(this.body);
    this.body.hasValue = last + 1 < data.length; // a line the value only ends (with its newline) is the script's own
    compare(this.body, data, last + 1, data.length, doc);
  }

  endValue(): void {
    // The line a value ends on is checked when its newline arrives: the value is still the one to name then.
  }

  /** Code mode: collects the line up to its newline, then lexes it. Returns the index after what it consumed. */
  private feedCode(data: Buffer, from: number): number {
    const nl = data.indexOf(NEWLINE, from);
    const end = nl === -1 ? data.length : nl + 1;
    if (!this.lost) {
      this.code.push(Buffer.from(data.subarray(from, end))); // a copy: the caller may reuse its buffer
      this.codeLength += end - from;
      if (this.codeLength > MAX_CODE_LINE) this.lost = true;
    }
    if (nl !== -1 && !this.lost) this.endCodeLine();
    return end;
  }

  private endCodeLine(): void {
    const line = Buffer.concat(this.code);
    const lineNo = this.line; // the newline has not been counted yet
    this.code = [];
    this.codeLength = 0;
    const { heredocs, endsCommand } = lexLine(line, this.lex, lineNo);
    this.pending.push(...heredocs);
    if (endsCommand && this.pending.length > 0) {
      this.inBody = true;
      resetLine(this.body);
    }
  }

  /**
   * Body mode, up to the end of the current line: compares it with the delimiter; at its newline, a delimiter line
   * ends the body (or, made with a value's bytes, is refused). Returns the index after what it consumed.
   */
  private feedBody(data: Buffer, from: number): number {
    const doc = this.pending[0]!;
    const nl = data.indexOf(NEWLINE, from);
    const end = nl === -1 ? data.length : nl;
    compare(this.body, data, from, end, doc);
    if (nl === -1) return end;
    const isDelimiter = !this.body.differs && this.body.matched === doc.delimiter.length;
    if (isDelimiter && this.body.hasValue) this.refuseDelimiter(doc);
    resetLine(this.body);
    if (isDelimiter) this.endBody();
    return nl + 1;
  }

  private endBody(): void {
    this.pending.shift();
    this.inBody = this.pending.length > 0;
    if (!this.inBody) Object.assign(this.lex, initialLexState());
  }

  private refuseDelimiter(doc: Heredoc): never {
    const delimiter = doc.delimiter.toString('utf8');
    throw new TlrError(
      'E_RESULT_UNSAFE',
      `${this.subject()} would end the here-document it sits in (${doc.written}, opened on line ${doc.line}): it ` +
        `makes a line "${delimiter}", so the shell would run the rest of the value as commands. Refused, and the ` +
        `script is unchanged. Consume a result that may hold untrusted text by path ($(tasks.<task>.results.<result>.path)); ` +
        'otherwise pick a delimiter the value cannot contain',
    );
  }

  private refuseExpanded(data: Buffer, doc: Heredoc): void {
    const found = EXPANDED.find((b) => data.includes(b));
    if (found === undefined) return;
    throw new TlrError(
      'E_RESULT_UNSAFE',
      `${this.subject()} sits in an unquoted here-document (${doc.written}, opened on line ${doc.line}), where the ` +
        `shell expands $(…), backquotes and backslashes, and it holds "${String.fromCharCode(found)}". Refused, and the ` +
        `script is unchanged. Quote the delimiter (<<'${doc.delimiter.toString('utf8')}') so the value is taken literally`,
    );
  }

  private subject(): string {
    const path = this.current?.path ?? '?';
    return `Script ${this.script}: the value of ${path} substituted on line ${this.valueLine}`;
  }
}

function freshLine(): BodyLine {
  return { matched: 0, tabsDone: false, differs: false, hasValue: false };
}

function resetLine(line: BodyLine): void {
  line.matched = 0;
  line.tabsDone = false;
  line.differs = false;
  line.hasValue = false;
}

/** Whether data holds, between the newlines at `first` and `last`, a whole line equal to the delimiter. */
function wholeLineAt(data: Buffer, first: number, last: number, doc: Heredoc): boolean {
  const delimiter = doc.delimiter;
  for (let q = data.indexOf(delimiter, first + 1); q !== -1 && q + delimiter.length <= last; q = data.indexOf(delimiter, q + 1)) {
    if (data[q + delimiter.length] !== NEWLINE) continue;
    let p = q - 1;
    while (doc.stripTabs && data[p] === 0x09) p--;
    if (data[p] === NEWLINE) return true;
  }
  return false;
}

/** Advances a body line's comparison with the delimiter over data[from, end) (no newline in it). */
function compare(line: BodyLine, data: Buffer, from: number, end: number, doc: Heredoc): void {
  let p = from;
  if (doc.stripTabs && !line.tabsDone) {
    while (p < end && data[p] === 0x09) p++;
  }
  if (p < end) line.tabsDone = true;
  const delimiter = doc.delimiter;
  while (!line.differs && p < end) {
    if (line.matched >= delimiter.length || data[p] !== delimiter[line.matched]) line.differs = true;
    else line.matched++;
    p++;
  }
}

function countNewlines(data: Buffer, from: number, to: number): number {
  let n = 0;
  for (let i = data.indexOf(NEWLINE, from); i !== -1 && i < to; i = data.indexOf(NEWLINE, i + 1)) n++;
  return n;
}
