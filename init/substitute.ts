/**
 * Substitution, in the consumer pod's init container. It acts only on the references this task declared (`--refs`,
 * env TLR_REFS: the rewrite's `tlr-refs`); any other text in the scripts, however much it looks like a reference, is
 * left as it is. First every script is scanned (nothing written yet) and the total it would take is checked against
 * `--max-substituted`; references no script names (used by path) are verified; then each script is written anew
 * next to itself, each declared token replaced by the verified bytes of its file (exactly `size` bytes, hashed while
 * copying, each value checked where it sits by the heredoc guard), and only when every script succeeded are they
 * all renamed into place (mode and owner kept). On any refusal every original script is left intact.
 */
import { closeSync, constants, openSync, writeSync, type Stats } from 'node:fs';
import { chmod, chown, lstat, open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Reference } from '../src/core/reference.js';
import { TlrError } from '../src/errors.js';
import { tempPathFor } from './atomic-write.js';
import { guardFor } from './heredoc-guard.js';
import { CHUNK_SIZE, readChunks } from './hash-file.js';
import { logInfo, logWarning, type Logger } from './log.js';
import { isNoSpace, podVolumeFull } from './no-space.js';
import { parseRefsText, selectionsFor, type DeclaredSelection } from './refs-text.js';
import { formatSelector } from '../src/core/structured.js';
import { selectElement } from '../src/core/structured-json.js';
import { describeKind } from './safe-path.js';
import { confirmPreamble, decidePreamble, dropPrefix, firstLineOf, isMarked, MARK_BYTES, withPreamble, type Preamble } from './script-preamble.js';
import { substituteStream, type ReferenceOpener } from './stream-substitute.js';
import { TokenScanner } from './token-scanner.js';
import { openVerifiedResult, verifyResult, type ResultVolume } from './verified-result.js';

/** Creates the writable for a new script at `path` (a file that does not exist yet). Injectable for tests. */
export type OutputFactory = (path: string) => Writable;

export interface SubstituteOptions extends ResultVolume {
  /** Tekton's scripts directory, /tekton/scripts. */
  readonly scriptsDir: string;
  /** The references this task uses (`--refs`, env TLR_REFS): the only ones acted on, each verified. */
  readonly refs?: string;
  /** The labels the rewrite declared for `refs`, in order (env TLR_REF_LABELS); absent: a previous release's task. */
  readonly refLabels?: string;
  /** The elements of structured results the task uses (env TLR_SELECTORS): `<task>/<result>.key`, `…[i]`. */
  readonly selectors?: string;
  /** Most bytes of values written into this pod's scripts, all scripts together (config key maxSubstitutedSize). */
  readonly maxSubstituted: number;
  readonly log?: Logger;
  /** Where warnings go (a value substituted where nothing checks it); stdout JSON lines by default. */
  readonly warn?: Logger;
  readonly createOutput?: OutputFactory;
  /** Renames a file (fs.promises.rename). Injectable for tests. */
  readonly rename?: (from: string, to: string) => Promise<void>;
}

export interface SubstituteReport {
  /** Scripts rewritten, with their number of substitutions. */
  readonly scripts: ReadonlyArray<{ readonly script: string; readonly substitutions: number }>;
  /** Reference paths verified (by substitution or on their own). */
  readonly verified: readonly string[];
}

/** A script and the declared tokens it holds (token -> how many times). */
interface PlannedScript {
  readonly script: string;
  readonly stats: Stats;
  readonly uses: ReadonlyMap<string, number>;
  readonly firstLine: string;
  /** Begins with the rewrite's SCRIPT_PREAMBLE_MARK: its preamble is decided here (./script-preamble.ts). */
  readonly marked: boolean;
}

const SCRIPT_CHUNK = 64 * 1024;
export const SUBSTITUTION_LIMIT_KEY = 'maxSubstitutedSize';

/**
 * A new file (never an existing one: O_EXCL, and O_NOFOLLOW), written with synchronous writes on this thread. Not
 * fs.createWriteStream: its writes go to libuv's thread pool, more busy threads on a 2-core node beside this one, the
 * reads (./worker-reader.ts) and the hashing worker. Measured on 1 GiB, 2-core VM, the two builds alternating: median
 * 1.31 s this way and 1.39 s through the pool (npm run bench, 7 rounds); 2.00 s and 2.23 s in a slower hour (10
 * rounds). Nothing else needs this thread while substitute writes.
 */
export function defaultOutput(path: string): Writable {
  let fd: number | undefined;
  const close = (): void => {
    const open = fd;
    fd = undefined; // never closed twice, even when closing fails (the number may be reused by then)
    if (open !== undefined) closeSync(open);
  };
  return new Writable({
    highWaterMark: CHUNK_SIZE,
    construct(callback): void {
      try {
        fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    write(chunk: Buffer, _encoding, callback): void {
      try {
        for (let offset = 0; offset < chunk.length; ) offset += writeSync(fd as number, chunk, offset);
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    final(callback): void {
      try {
        close();
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    destroy(error, callback): void {
      try {
        close();
      } catch {
        // the write's own error (if any) is the one to report
      }
      callback(error);
    },
  });
}

/** Verifies every declared reference and substitutes the scripts. Throws a TlrError on the first refusal. */
export async function substituteScripts(options: SubstituteOptions): Promise<SubstituteReport> {
  const log = options.log ?? logInfo;
  const refs = parseRefsText(options.refs ?? '', options.runDir, options.refLabels);
  const selections = new Map(selectionsFor(options.selectors, refs).map((s) => [s.token, s]));
  const declared = new Map([...refs.map((d) => [d.token, d.reference] as const), ...[...selections].map(([t, s]) => [t, s.reference] as const)]);
  const planned = await planScripts(options.scriptsDir, declared);
  const elements = new ElementSource(planBudget(planned, declared, selections, options.maxSubstituted));
  const verified = new Set<string>();
  // A reference whose value (or an element of it) goes into a script is verified as it is copied.
  const inScripts = new Set(planned.flatMap((p) => [...p.uses.keys()].map((t) => declared.get(t)?.path)));
  for (const { reference } of refs) {
    if (inScripts.has(reference.path) || verified.has(reference.path)) continue;
    const digest = await verifyResult(reference, options);
    verified.add(reference.path);
    log('Verified result', { path: reference.path, file: digest.path, bytes: digest.bytes, sha256: digest.sha256 });
  }
  const written: Array<{ temp: string; script: string; substitutions: number }> = [];
  try {
    for (const plan of planned) {
      written.push({ ...(await substituteToTemp(plan, { declared, selections, elements }, options, verified)), script: plan.script });
    }
    await replaceAll(written, options.rename ?? rename, options.warn ?? logWarning);
  } catch (error) {
    await Promise.all(written.map((w) => unlink(w.temp).catch(() => undefined)));
    throw error;
  }
  return { scripts: written.map(({ script, substitutions }) => ({ script, substitutions })), verified: [...verified] };
}

/**
 * Puts every new script in place of its original, all or none. Each original is first renamed aside, then its
 * replacement renamed to the freed name, and the originals are removed once all are in place: on ext4
 * (auto_da_alloc, the default) a file renamed over an existing one starts its write-back, 0.6 s per GiB measured
 * here, where a rename to a free name costs nothing. Every check is behind us by now, and nothing else runs in the pod
 * during its init containers. When a rename fails, every original is put back (over its replacement if that was in
 * place already) and the error passed on; the caller removes the replacements left.
 */
async function replaceAll(
  written: ReadonlyArray<{ readonly temp: string; readonly script: string }>,
  move: (from: string, to: string) => Promise<void>,
  warn: Logger,
): Promise<void> {
  const aside: Array<{ script: string; original: string }> = [];
  try {
    for (const { temp, script } of written) {
      const original = tempPathFor(script);
      await move(script, original);
      aside.push({ script, original });
      await move(temp, script);
    }
  } catch (error) {
    for (const { script, original } of aside.reverse()) {
      await move(original, script).catch((restore: unknown) => {
        warn('Original script could not be put back', { script, original, error: String(restore) });
      });
    }
    throw error;
  }
  await Promise.all(aside.map(({ original }) => unlink(original).catch(() => undefined)));
}

/** The scripts that hold a declared token, in name order; refuses anything in the directory but regular files. */
async function planScripts(dir: string, declared: ReadonlyMap<string, Reference>): Promise<PlannedScript[]> {
  const planned: PlannedScript[] = [];
  for (const name of (await readdir(dir)).sort()) {
    const script = join(dir, name);
    const stats = await lstat(script);
    if (!stats.isFile()) {
      throw new TlrError(
        'E_RESULT_UNSAFE',
        `Script ${script} is a ${describeKind(stats)}, expected a regular file (Tekton writes scripts as files); ` +
          'refusing to substitute through it',
      );
    }
    const scanned = await scanScript(script, declared);
    if (scanned.uses.size > 0 || scanned.marked) planned.push({ script, stats, ...scanned });
  }
  return planned;
}

async function scanScript(
  script: string,
  declared: ReadonlyMap<string, Reference>,
): Promise<{ uses: Map<string, number>; firstLine: string; marked: boolean }> {
  const scanner = new TokenScanner(declared);
  const uses = new Map<string, number>();
  let firstLine: string | undefined;
  let marked: boolean | undefined;
  const handle = await openScript(script);
  try {
    for await (const chunk of readChunks(handle, { chunkSize: SCRIPT_CHUNK, ring: 2 })) {
      firstLine ??= firstLineOf(chunk);
      marked ??= isMarked(chunk);
      for (const s of scanner.push(chunk)) if (s.kind === 'reference') uses.set(s.token, (uses.get(s.token) ?? 0) + 1);
    }
    for (const s of scanner.end()) if (s.kind === 'reference') uses.set(s.token, (uses.get(s.token) ?? 0) + 1);
  } finally {
    await handle.close();
  }
  return { uses, firstLine: firstLine ?? '', marked: marked ?? false };
}

/**
 * What the scripts may take (`--max-substituted`): whole values, whose sizes the references give, are counted before
 * anything is written; an element of a structured result (`.key`, `[i]`) is known only once it is read, so it counts
 * its own bytes as they are written (not the whole value's), and a value read again for an element counts whole.
 */
class Budget {
  /** Bytes of elements written so far. */
  private written = 0;
  /** Bytes of values read again for elements used again (see ElementSource). */
  private rereads = 0;

  constructor(
    readonly limit: number,
    /** Bytes of whole values, every use counted. */
    private readonly whole: number,
    private readonly parts: readonly string[],
  ) {}

  /** Passes an element's chunks on, each counted once it is let through; the first that does not fit is refused. */
  async *counted(chunks: AsyncIterable<Buffer> | Iterable<Buffer>, element: string): AsyncGenerator<Buffer> {
    for await (const chunk of chunks) {
      if (this.whole + this.written + this.rereads + chunk.length > this.limit) {
        const wholes = this.parts.length === 0 ? '' : `${this.whole} bytes of whole values (${shown(this.parts)}) and `;
        const again = this.rereads === 0 ? '' : ` (and ${this.rereads} bytes of values read again for elements used again)`;
        throw tooLarge(
          `would write more than ${this.limit} bytes into its scripts: ${wholes}${this.written} bytes of elements written${again}, ` +
            `then ${chunk.length} more bytes of ${element}`,
          this.limit,
          'no script was changed',
        );
      }
      this.written += chunk.length;
      yield chunk;
    }
  }

  /** Counts a value of `size` bytes read again `why`; refused when that takes the pod over the limit. */
  reread(path: string, size: number, why: string): void {
    if (this.whole + this.written + this.rereads + size > this.limit) {
      throw tooLarge(
        `would read ${path} (${size} bytes) once more ${why}: ${this.rereads} bytes read again before it, with ` +
          `${this.whole + this.written} bytes written`,
        this.limit,
        'no script was changed',
      );
    }
    this.rereads += size;
  }
}

/** The most bytes of one element kept for its further uses in the pod. */
const ELEMENT_CACHE_BYTES = 1024 * 1024;

/**
 * The elements of structured results the scripts use. An element's value is read and verified whole; its bytes (up to
 * ELEMENT_CACHE_BYTES) are kept after its first use, so the same element again costs no read, and a larger element
 * used again reads its value again, counted whole against the budget: N uses of a small key of a 1 GiB value never
 * read N GiB.
 */
class ElementSource {
  private readonly kept = new Map<string, Buffer[]>();
  private readonly read = new Set<string>();

  constructor(private readonly budget: Budget) {}

  /** The element's bytes, counted as written; `open` gives the verified value's chunks when it has to be read. */
  async open(
    selection: DeclaredSelection,
    script: string,
    open: () => Promise<AsyncIterable<Buffer>>,
  ): Promise<AsyncIterable<Buffer>> {
    const { token, reference, selector } = selection;
    const element = `element ${formatSelector(selector)} of ${subjectOf(selection)} in ${script}`;
    const kept = this.kept.get(token);
    if (kept !== undefined) return this.budget.counted(kept, element);
    if (this.read.has(token)) this.budget.reread(reference.path, reference.size, `for ${element}, an element over ${ELEMENT_CACHE_BYTES} bytes used again`);
    this.read.add(token);
    return this.budget.counted(this.keep(selectIn(selection, await open()), token), element);
  }

  /**
   * The element's bytes from the value's (not yet verified) `chunks`, to decide a marked script's #! line
   * (./script-preamble.ts): counted as a value read again, since it is read once more when copied.
   */
  peek(selection: DeclaredSelection, script: string, chunks: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
    const { reference } = selection;
    this.budget.reread(reference.path, reference.size, `to decide the #! line of ${script} from element ${formatSelector(selection.selector)}`);
    return selectIn(selection, chunks);
  }

  /** Passes the chunks on, keeping a copy under `token` once they all passed (if they are small enough). */
  private async *keep(chunks: AsyncIterable<Buffer>, token: string): AsyncGenerator<Buffer> {
    let kept: Buffer[] | undefined = [];
    let bytes = 0;
    for await (const chunk of chunks) {
      bytes += chunk.length;
      if (bytes > ELEMENT_CACHE_BYTES) kept = undefined;
      kept?.push(Buffer.from(chunk)); // a copy: the reader reuses its buffers
      yield chunk;
    }
    if (kept !== undefined) this.kept.set(token, kept); // only after the source ended verified
  }
}

/** A script, for reading (never through a symlink). */
function openScript(script: string): Promise<FileHandle> {
  return open(script, constants.O_RDONLY | constants.O_NOFOLLOW);
}

/** A selection's value, named as tlr-exec names it (exec/value.go readSelected). */
function subjectOf(selection: DeclaredSelection): string {
  return `result "${selection.result}" of task "${selection.task}" (${selection.reference.path})`;
}

/** The element `selection` picks from its value's chunks. */
function selectIn(selection: DeclaredSelection, chunks: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  const { selector } = selection;
  return selectElement(chunks, { type: 'key' in selector ? 'object' : 'array', subject: subjectOf(selection), select: selector });
}

/** Refuses, before anything is written, scripts whose whole values would take more than the limit all together. */
function planBudget(
  planned: readonly PlannedScript[],
  declared: ReadonlyMap<string, Reference>,
  selections: ReadonlyMap<string, DeclaredSelection>,
  limit: number,
): Budget {
  let whole = 0;
  const parts: string[] = [];
  for (const plan of planned) {
    for (const [token, count] of plan.uses) {
      if (selections.has(token)) continue;
      const size = declared.get(token)?.size ?? 0;
      whole += count * size;
      parts.push(`${count} × ${size} bytes of ${declared.get(token)?.path ?? '?'} in ${plan.script}`);
    }
  }
  if (whole > limit) throw tooLarge(`would write ${whole} bytes into its scripts (${shown(parts)})`, limit, 'nothing was written');
  return new Budget(limit, whole, parts);
}

function shown(parts: readonly string[]): string {
  return (parts.length > 4 ? [...parts.slice(0, 4), `${parts.length - 4} more`] : parts).join('; ');
}

function tooLarge(what: string, limit: number, outcome: string): TlrError {
  return new TlrError(
    'E_RESULT_TOO_LARGE',
    `Substituting the results this pod uses by value ${what}, over the limit of ${limit} bytes (config key ` +
      `${SUBSTITUTION_LIMIT_KEY}); ${outcome}. Use a large result by path ($(tasks.<task>.results.<result>.path): the ` +
      `step reads the file and nothing is copied), or ask your admin to raise ${SUBSTITUTION_LIMIT_KEY}`,
  );
}

/** Writes the substituted script next to the original; returns the temp file (the caller renames it). */
async function substituteToTemp(
  plan: PlannedScript,
  tokens: { declared: ReadonlyMap<string, Reference>; selections: ReadonlyMap<string, DeclaredSelection>; elements: ElementSource },
  options: SubstituteOptions,
  verified: Set<string>,
): Promise<{ temp: string; substitutions: number }> {
  const { declared, selections, elements } = tokens;
  const { script, stats } = plan;
  const log = options.log ?? logInfo;
  const warn = options.warn ?? logWarning;
  const openReference: ReferenceOpener = async (reference, token, context) => {
    if (!context.checked) {
      warn('Substituted result outside a quoted here-document', { script, path: reference.path, context: context.description });
    }
    const selection = selections.get(token);
    const open = (): Promise<AsyncIterable<Buffer>> =>
      openVerifiedResult(reference, options, (path, digest) => {
        verified.add(reference.path);
        const element: Record<string, string> = selection === undefined ? {} : { element: formatSelector(selection.selector) };
        log('Substituted result', { script, path: reference.path, ...element, file: path, bytes: digest.bytes, sha256: digest.sha256, context: context.description });
      });
    return selection === undefined ? open() : elements.open(selection, script, open);
  };
  const preamble = plan.marked ? await preambleFor(plan, tokens, options) : undefined;
  const temp = tempPathFor(script);
  const input = await openScript(script);
  try {
    const output = (options.createOutput ?? defaultOutput)(temp);
    const read = readChunks(input, { chunkSize: SCRIPT_CHUNK });
    // A marked script: the mark out, and Tekton's preamble in where Tekton would have put it with the values in.
    const chunks = preamble === undefined ? read : withPreamble(dropPrefix(read, MARK_BYTES.length), preamble.decision);
    const guard = guardFor(preamble?.firstLine ?? plan.firstLine, script);
    const { substitutions } = await substituteStream(chunks, output, { declared, open: openReference, guard });
    if (preamble !== undefined) await confirmPreamble(temp, script, preamble);
    await chmod(temp, stats.mode & 0o7777);
    await keepOwner(temp, stats);
    return { temp, substitutions };
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw isNoSpace(error)
      ? podVolumeFull(script, error, 'a script with results substituted is as large as those results, so ')
      : error;
  } finally {
    await input.close();
  }
}

/** Gives the new script the original's owner when we run as another user (root); best effort. */
async function keepOwner(path: string, stats: Stats): Promise<void> {
  if (process.getuid?.() === stats.uid && process.getgid?.() === stats.gid) return;
  await chown(path, stats.uid, stats.gid).catch(() => undefined);
}

/**
 * A marked script's preamble (./script-preamble.ts). A refusal there stands on bytes not yet verified: each value the
 * script uses is verified first, so a changed file is reported as changed, not as the script it made.
 */
async function preambleFor(
  plan: PlannedScript,
  tokens: { declared: ReadonlyMap<string, Reference>; selections: ReadonlyMap<string, DeclaredSelection>; elements: ElementSource },
  options: SubstituteOptions,
): Promise<Preamble> {
  const { declared, selections, elements } = tokens;
  const open: ReferenceOpener = async (reference, token) => {
    const chunks = await openVerifiedResult(reference, options);
    const selection = selections.get(token);
    return selection === undefined ? chunks : elements.peek(selection, plan.script, chunks);
  };
  const input = await openScript(plan.script);
  try {
    const chunks = dropPrefix(readChunks(input, { chunkSize: SCRIPT_CHUNK }), MARK_BYTES.length);
    return await decidePreamble({ path: plan.script, chunks }, declared, open);
  } catch (error) {
    if (error instanceof TlrError && error.code === 'E_INPUT') {
      for (const token of plan.uses.keys()) {
        const reference = declared.get(token);
        if (reference !== undefined) await verifyResult(reference, options);
      }
    }
    throw error;
  } finally {
    await input.close();
  }
}
