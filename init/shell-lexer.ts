/**
 * Just enough of the POSIX shell's lexing to find here-documents in a script, line by line: quotes (`'…'`, `"…"`,
 * `$'…'`, backquotes, also across lines), backslash escapes and line continuations, comments, and `((…))` arithmetic
 * (where `<<` is a shift) are skipped; every other `<<word` / `<<-word` opens a here-document whose body starts on the
 * line after the command line ends (`<<<` is a here-string, not a here-document). Values substituted into a code line
 * are opaque placeholders here (they are the author's words, not shell the author wrote).
 */

export interface Heredoc {
  /** The delimiter word with its quotes removed. */
  readonly delimiter: Buffer;
  /** Any part of the word was quoted: the body is taken literally (no expansion). */
  readonly quoted: boolean;
  /** `<<-`: leading tabs are stripped from body lines and from the delimiter line. */
  readonly stripTabs: boolean;
  /** The word as written, for messages. */
  readonly written: string;
  /** 1-based line of the script where it was opened. */
  readonly line: number;
  /** The command reading it runs it as a program (`bash <<'E'`, `python3 - <<'E'`): its name, else undefined. */
  readonly runBy: string | undefined;
}

type Quote = 'none' | 'single' | 'ansi' | 'double' | 'backtick';

/** Lexer state carried from one line to the next. */
export interface LexState {
  quote: Quote;
  /** Open parentheses of a `((…))` arithmetic expression, 0 outside one. */
  arith: number;
}

const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;
const SQ = 0x27;
const DQ = 0x22;
const BQ = 0x60;
const LT = 0x3c;
const DOLLAR = 0x24;
const HASH = 0x23;
const OPEN = 0x28;
const CLOSE = 0x29;
/** Bytes that end a word: blanks, newline and the shell's metacharacters. */
const WORD_END = new Set([0x20, 0x09, NEWLINE, 0x3b, 0x26, 0x7c, OPEN, CLOSE, LT, 0x3e]);
const COMMENT_AFTER = new Set([0x20, 0x09, NEWLINE, 0x3b, 0x26, 0x7c, OPEN, CLOSE]);
/** Bytes after which a new simple command starts. */
const COMMAND_START = new Set([NEWLINE, 0x3b, 0x26, 0x7c, OPEN, CLOSE, 0x7b, 0x7d]);
/** Programs that run their standard input as code unless told otherwise. */
const INTERPRETERS = /^(?:sh|bash|dash|ash|ksh|mksh|zsh|busybox|python[0-9.]*|pypy[0-9.]*|node|nodejs|deno|perl|ruby|php|lua|tclsh|Rscript|osascript|pwsh|jshell)$/;
/** Options after which they take the program from elsewhere (stdin is data then). */
const PROGRAM_ELSEWHERE = new Set(['-c', '-e', '-E', '--eval', '-r', '-m']);

export function initialLexState(): LexState {
  return { quote: 'none', arith: 0 };
}

/**
 * Lexes one code line (ending with its newline, or the end of the script) and returns the here-documents it opens.
 * `state` is updated; `endsCommand` tells whether the line's newline ends the command line (not quoted, not escaped),
 * i.e. whether bodies of pending here-documents start on the next line.
 */
export function lexLine(line: Buffer, state: LexState, lineNo: number): { heredocs: Heredoc[]; endsCommand: boolean } {
  const heredocs: Heredoc[] = [];
  let escapedNewline = false;
  let commandStart = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (state.quote !== 'none') {
      i = inQuote(line, i, state);
      continue;
    }
    if (COMMAND_START.has(c) && state.arith === 0) commandStart = i + 1;
    if (c === BACKSLASH) {
      escapedNewline = line[i + 1] === NEWLINE;
      i++;
    } else if (startsComment(line, i, state)) {
      break; // the rest of the line
    } else if (state.arith > 0 || (c === OPEN && line[i + 1] === OPEN)) {
      i = arithmetic(line, i, state);
    } else if (c === LT && line[i + 1] === LT) {
      i = heredocOperator(line, i, { lineNo, runBy: programReader(line.toString('utf8', commandStart, i)) }, heredocs);
    } else {
      i = openQuote(line, i, state);
    }
  }
  return { heredocs, endsCommand: state.quote === 'none' && !escapedNewline };
}

/** A `#` at the start of a word, outside arithmetic. */
function startsComment(line: Buffer, i: number, state: LexState): boolean {
  return line[i] === HASH && state.arith === 0 && (i === 0 || COMMENT_AFTER.has(line[i - 1]!));
}

/** Inside a quote at `i`: returns the index of the last byte consumed. */
function inQuote(line: Buffer, i: number, state: LexState): number {
  const c = line[i];
  const closing = { single: SQ, ansi: SQ, double: DQ, backtick: BQ, none: -1 }[state.quote];
  if (c === BACKSLASH && state.quote !== 'single') return i + 1;
  if (c === closing) state.quote = 'none';
  return i;
}

/** An opening quote at `i` (or an ordinary byte); returns the index of the last byte consumed. */
function openQuote(line: Buffer, i: number, state: LexState): number {
  const c = line[i];
  if (c === SQ) state.quote = 'single';
  else if (c === DQ) state.quote = 'double';
  else if (c === BQ) state.quote = 'backtick';
  else if (c === DOLLAR && line[i + 1] === SQ) {
    state.quote = 'ansi';
    return i + 1;
  }
  return i;
}

/** In (or entering) `((…))`: counts parentheses; returns the index of the last byte consumed. */
function arithmetic(line: Buffer, i: number, state: LexState): number {
  if (state.arith === 0) {
    state.arith = 2;
    return i + 1;
  }
  if (line[i] === OPEN) state.arith++;
  else if (line[i] === CLOSE) state.arith--;
  return i;
}

/** `<<` at `i`: a here-string (`<<<`) or a here-document operator and its word. Returns the last index consumed. */
function heredocOperator(line: Buffer, i: number, at: { lineNo: number; runBy: string | undefined }, out: Heredoc[]): number {
  if (line[i + 2] === LT) return i + 2;
  let p = i + 2;
  const stripTabs = line[p] === 0x2d; /* - */
  if (stripTabs) p++;
  while (line[p] === 0x20 || line[p] === 0x09) p++;
  const word = readWord(line, p);
  if (word.delimiter.length > 0) {
    const written = line.toString('utf8', i, word.end);
    out.push({ delimiter: word.delimiter, quoted: word.quoted, stripTabs, written, line: at.lineNo, runBy: at.runBy });
  }
  return word.end - 1;
}

/**
 * The program that reads a here-document as code, from the words of its command before `<<`: an interpreter
 * (after `env`, `exec`, `command` and variable assignments) given no program of its own (no `-c`/`-e`, no script
 * argument other than `-`; a shell's `-s` reads stdin whatever follows). A heuristic over the words as written.
 */
function programReader(command: string): string | undefined {
  const words = command.trim().split(/\s+/).filter((w) => w !== '');
  while (words.length > 0 && (/^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0]!) || ['env', 'exec', 'command', 'time', 'sudo'].includes(words[0]!))) words.shift();
  const name = (words.shift() ?? '').replace(/^.*\//, '');
  if (!INTERPRETERS.test(name)) return undefined;
  if (words.includes('-s')) return name;
  if (words.some((w) => PROGRAM_ELSEWHERE.has(w))) return undefined;
  return words.every((w) => w === '-' || w.startsWith('-')) ? name : undefined;
}

/** The here-document word starting at `p`, with quote removal. */
function readWord(line: Buffer, start: number): { delimiter: Buffer; quoted: boolean; end: number } {
  const bytes: number[] = [];
  let quoted = false;
  let p = start;
  while (p < line.length && !WORD_END.has(line[p]!)) {
    const c = line[p]!;
    if (c === SQ || c === DQ) {
      quoted = true;
      const close = line.indexOf(c, p + 1);
      const end = close === -1 ? line.length : close;
      for (let k = p + 1; k < end; k++) if (!(c === DQ && line[k] === BACKSLASH)) bytes.push(line[k]!);
      p = end + 1;
    } else if (c === BACKSLASH) {
      quoted = true;
      if (p + 1 < line.length) bytes.push(line[p + 1]!);
      p += 2;
    } else {
      bytes.push(c);
      p++;
    }
  }
  return { delimiter: Buffer.from(bytes), quoted, end: Math.min(p, line.length) };
}
