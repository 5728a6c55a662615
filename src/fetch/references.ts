/**
 * Which references a finished (or running) PipelineRun recorded, by name: `<pipeline task>.<result>` for task results
 * (from its child TaskRuns' status) and `<result>` for pipeline results (from the run's status). Pure.
 *
 * Status is written by whoever may write it (a producer's step chooses what its result holds), so nothing from it is
 * trusted: a name becomes a file name under the output directory only when it is one plain file name, and a
 * reference-shaped value whose path is unsafe is reported, never fetched.
 */
import { ANNOTATION_PIPELINE_RESULT_ELEMENTS, SEAL_NOTICE_PREFIX } from '../api/names.js';
import { REFERENCE_PATTERN, checkRelativePath, type Reference } from '../core/reference.js';
import { formatSelector, pipelineResultEntry, selectorOfSuffix, type Selector } from '../core/structured.js';
import { createHash } from 'node:crypto';
import { TlrError } from '../errors.js';

export interface NamedReference {
  /** `<pipeline task>.<result>` or, for a pipeline result, `<result>`: also the file name it is written to. */
  readonly name: string;
  readonly reference: Reference;
  /** The reference as recorded (what `tlr-init export` takes). */
  readonly token: string;
  /**
   * When the result is one element of a structured value (a pipeline result `$(tasks.t.results.r.key)`, recorded in
   * the run's tlr.dev/pipeline-result-elements): that element, taken from the value once the value is verified.
   */
  readonly selector?: Selector;
}

/** A result that looks like a reference but cannot be fetched, and why. */
export interface UnusableReference {
  readonly name: string;
  readonly problem: string;
}

export interface RecordedReferences {
  readonly usable: NamedReference[];
  readonly unusable: UnusableReference[];
}

interface RunStatus {
  results?: Array<{ name?: string; value?: unknown }>;
}

interface TaskRunLike {
  metadata?: { labels?: Record<string, string> };
  status?: { results?: Array<{ name?: string; value?: unknown }> };
}

/** One file name: starts with a letter or digit, then [A-Za-z0-9._-], an optional `[i]`; no `/`, never `.` or `..`. */
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,250}(\[[0-9]{1,3}\])?$/;

/** Every reference the run and its TaskRuns recorded; a value holding several references yields each. */
export function recordedReferences(run: { status?: unknown; [key: string]: unknown }, taskRuns: readonly TaskRunLike[]): RecordedReferences {
  const out: RecordedReferences = { usable: [], unusable: [] };
  for (const tr of taskRuns) {
    const task = tr.metadata?.labels?.['tekton.dev/pipelineTask'];
    if (task === undefined) continue;
    for (const r of tr.status?.results ?? []) collect(out, `${task}.${String(r.name ?? '')}`, r.value);
  }
  const elements = recordedElements(run);
  for (const r of (run.status as RunStatus | undefined)?.results ?? []) {
    for (const [name, value] of resultStrings(String(r.name ?? ''), r.value)) collect(out, name, value, elements.get(name));
  }
  return out;
}

/**
 * The strings of a pipeline result's value, each with the name it is fetched as: a string as the result's name, an
 * array's elements as `<result>[i]`, an object's values as `<result>.<key>` (Tekton's pipeline results may be any).
 */
function resultStrings(name: string, value: unknown): Array<[string, unknown]> {
  if (Array.isArray(value)) return value.map((v, i) => [pipelineResultEntry(name, i), v]);
  if (typeof value === 'object' && value !== null) return Object.entries(value).map(([key, v]) => [pipelineResultEntry(name, key), v]);
  return [[name, value]];
}

function collect(out: RecordedReferences, name: string, value: unknown, element?: Selector): void {
  if (typeof value !== 'string') return;
  if (value.startsWith(SEAL_NOTICE_PREFIX) && FILE_NAME.test(name)) {
    out.unusable.push({ name, problem: `its producer did not seal it: ${value.slice(0, 200)}` });
    return;
  }
  const matches = [...value.matchAll(new RegExp(REFERENCE_PATTERN.source, 'g'))];
  if (element !== undefined && !isOneReference(value, matches)) {
    // The rewrite made this pipeline result the whole value's reference alone; anything else is not what it recorded.
    out.unusable.push({ name, problem: `the run records it as element ${formatSelector(element)} of one reference result, but its value is not one reference: ${JSON.stringify(value.slice(0, 200))}` });
    return;
  }
  for (const [i, match] of matches.entries()) {
    const entry = matches.length > 1 ? `${name}[${i}]` : name;
    const [token, sha256 = '', size = '', path = ''] = match;
    if (!FILE_NAME.test(entry)) {
      out.unusable.push({ name: entry, problem: `its name ${JSON.stringify(entry)} is not a plain file name ([A-Za-z0-9._-], no "/")` });
      continue;
    }
    try {
      const reference: Reference = { version: 'v1', sha256, size: Number(size), path: checkRelativePath(path) };
      out.usable.push({ name: entry, token, reference, ...(element !== undefined ? { selector: element } : {}) });
    } catch (error) {
      out.unusable.push({ name: entry, problem: `its reference is unsafe: ${(error as Error).message}` });
    }
  }
}

function isOneReference(value: string, matches: readonly RegExpMatchArray[]): boolean {
  return matches.length === 1 && matches[0]?.[0] === value.trim();
}

/**
 * The run's pipeline results that are one element of a structured reference result, as the rewrite recorded them
 * (tlr.dev/pipeline-result-elements: fetch name → `.key` / `[i]`). Anything malformed there is ignored entry by entry:
 * such a result is then listed and fetched as the whole value its reference names, which is what its status says.
 */
export function recordedElements(run: { metadata?: unknown; [key: string]: unknown }): Map<string, Selector> {
  const annotations = (run.metadata as { annotations?: Record<string, unknown> } | undefined)?.annotations;
  const text = annotations?.[ANNOTATION_PIPELINE_RESULT_ELEMENTS];
  const out = new Map<string, Selector>();
  if (typeof text !== 'string' || text.length > 256 * 1024) return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return out;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return out;
  for (const [name, suffix] of Object.entries(parsed)) {
    const selector = typeof suffix === 'string' ? selectorOfSuffix(suffix) : undefined;
    if (selector !== undefined && FILE_NAME.test(name)) out.set(name, selector);
  }
  return out;
}

/**
 * The references the user asked for (all usable ones when `wanted` is empty). An unknown name is an error that lists
 * what the run has, so a typo is never a silent empty fetch; asking for an unusable one says why it cannot be.
 */
export function selectReferences(all: RecordedReferences, wanted: readonly string[], run: string): NamedReference[] {
  if (wanted.length === 0) {
    if (all.usable.length === 0) {
      const why = all.unusable.map((u) => `; ${u.name}: ${u.problem}`).join('');
      throw new TlrError('E_FETCH', `${run} recorded no results stored by reference that can be fetched (has it run yet?)${why}`);
    }
    return [...all.usable];
  }
  return wanted.map((name) => {
    const hit = all.usable.find((r) => r.name === name);
    if (hit) return hit;
    const unusable = all.unusable.find((u) => u.name === name);
    if (unusable) throw new TlrError('E_FETCH', `${run}: result ${name} cannot be fetched: ${unusable.problem}; nothing was written`);
    const known = all.usable.map((r) => r.name).join(', ') || 'none';
    throw new TlrError('E_FETCH', `${run}: expected one of its results stored by reference (${known}), found "${name}"`);
  });
}

/** One result of a run as `tlr results` lists it. */
export interface ListedResult {
  /** `<pipeline task>.<result>`, or a pipeline result's name. */
  readonly name: string;
  /** `reference`: stored on the result volume; `value`: carried by Tekton itself; `unusable`: see `problem`. */
  readonly storage: 'reference' | 'value' | 'unusable';
  /** Bytes: of the stored file (as sealed) or of the value. For an element, of the whole value it is taken from. */
  readonly size?: number;
  /** `.key` or `[i]`: the result is that element of the stored value (verified as a whole, then selected). */
  readonly element?: string;
  /** Hex sha256: of the stored file (as sealed) or of the value. */
  readonly sha256?: string;
  readonly problem?: string;
}

/**
 * Every result the run and its TaskRuns recorded, in order (task results by TaskRun, then pipeline results): those
 * stored by reference with the size and sha256 their producer sealed, the others with those of the value Tekton holds.
 * Names come from status, written by whoever may write it: they are shown escaped (JSON) when not plain names.
 */
export function listResults(run: { status?: unknown; [key: string]: unknown }, taskRuns: readonly TaskRunLike[]): ListedResult[] {
  const out: ListedResult[] = [];
  const elements = recordedElements(run);
  const add = (name: string, value: unknown, element?: Selector): void => {
    if (typeof value !== 'string') return;
    const recorded: RecordedReferences = { usable: [], unusable: [] };
    collect(recorded, name, value, element);
    if (recorded.usable.length === 0 && recorded.unusable.length === 0) {
      const shown = FILE_NAME.test(name) ? name : JSON.stringify(name);
      out.push({ name: shown, storage: 'value', size: Buffer.byteLength(value), sha256: createHash('sha256').update(value).digest('hex') });
      return;
    }
    for (const r of recorded.usable) {
      out.push({ name: r.name, storage: 'reference', size: r.reference.size, sha256: r.reference.sha256, ...(r.selector !== undefined ? { element: formatSelector(r.selector) } : {}) });
    }
    for (const u of recorded.unusable) out.push({ name: FILE_NAME.test(u.name) ? u.name : JSON.stringify(u.name), storage: 'unusable', problem: u.problem });
  };
  for (const tr of taskRuns) {
    const task = tr.metadata?.labels?.['tekton.dev/pipelineTask'];
    if (task === undefined) continue;
    for (const r of tr.status?.results ?? []) add(`${task}.${String(r.name ?? '')}`, r.value);
  }
  for (const r of (run.status as RunStatus | undefined)?.results ?? []) {
    for (const [name, value] of resultStrings(String(r.name ?? ''), r.value)) add(name, value, elements.get(name));
  }
  return out;
}
