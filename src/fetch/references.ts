/**
 * Which references a finished (or running) PipelineRun recorded, by name: `<pipeline task>.<result>` for task results
 * (from its child TaskRuns' status) and `<result>` for pipeline results (from the run's status). Pure.
 */
import { findReferences, type Reference } from '../core/reference.js';
import { TlrError } from '../errors.js';

export interface NamedReference {
  /** `<pipeline task>.<result>` or, for a pipeline result, `<result>`. */
  readonly name: string;
  readonly reference: Reference;
  /** The token as recorded (what `tlr-init export` takes). */
  readonly token: string;
}

interface RunStatus {
  results?: Array<{ name?: string; value?: unknown }>;
}

interface TaskRunLike {
  metadata?: { labels?: Record<string, string> };
  status?: { results?: Array<{ name?: string; value?: unknown }> };
}

/** Every reference the run and its TaskRuns recorded; a value holding several references yields each. */
export function recordedReferences(run: { status?: unknown; [key: string]: unknown }, taskRuns: readonly TaskRunLike[]): NamedReference[] {
  const out: NamedReference[] = [];
  for (const tr of taskRuns) {
    const task = tr.metadata?.labels?.['tekton.dev/pipelineTask'];
    if (task === undefined) continue;
    for (const r of tr.status?.results ?? []) out.push(...named(`${task}.${r.name ?? ''}`, r.value));
  }
  for (const r of (run.status as RunStatus | undefined)?.results ?? []) out.push(...named(r.name ?? '', r.value));
  return out;
}

function named(name: string, value: unknown): NamedReference[] {
  if (typeof value !== 'string') return [];
  const found = findReferences(value);
  return found.map((f, i) => ({
    name: found.length > 1 ? `${name}[${i}]` : name,
    reference: f.reference,
    token: value.slice(f.index, f.index + f.length),
  }));
}

/**
 * The references the user asked for (all when `wanted` is empty). An unknown name is an error that lists what the
 * run has, so a typo is never a silent empty fetch.
 */
export function selectReferences(all: readonly NamedReference[], wanted: readonly string[], run: string): NamedReference[] {
  if (wanted.length === 0) {
    if (all.length === 0) throw new TlrError('E_FETCH', `${run} recorded no results stored by reference (has it run yet?)`);
    return [...all];
  }
  return wanted.map((name) => {
    const hit = all.find((r) => r.name === name);
    if (!hit) {
      const known = all.map((r) => r.name).join(', ') || 'none';
      throw new TlrError('E_FETCH', `${run}: expected one of its results stored by reference (${known}), found "${name}"`);
    }
    return hit;
  });
}
