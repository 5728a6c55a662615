import { ANNOTATION_REWRITTEN } from '../api/names.js';
import type { Diagnostics } from './diagnostics.js';
import { MAX_OBJECT_BYTES } from './limits.js';
import { measure } from './shape/measure.js';

/** Already rewritten (annotation `tlr.dev/rewritten`), read without assuming the metadata's shape. */
export function isRewritten(object: { metadata?: unknown }): boolean {
  const annotations: unknown = (object.metadata as { annotations?: unknown } | null | undefined)?.annotations;
  return typeof annotations === 'object' && annotations !== null && (annotations as Record<string, unknown>)[ANNOTATION_REWRITTEN] !== undefined;
}

/** A rewritten object larger than etcd stores is refused here, with its size, rather than when it is written. */
export function checkRewrittenSize(object: unknown, diags: Diagnostics): void {
  const { bytes } = measure(object, { maxBytes: Infinity, maxDepth: Infinity });
  if (bytes <= MAX_OBJECT_BYTES) return;
  diags.error('', `expected the rewritten object to fit in the ${MAX_OBJECT_BYTES} bytes etcd stores, found about ${bytes} bytes as JSON. Store fewer results by reference in this run, or make its specs smaller`);
  diags.throwIfErrors();
}

/** Refuses, before the work, a run whose rewrite would add more than etcd leaves room for (`added`: a lower bound). */
export function checkGrowth(bytes: number, added: number, diags: Diagnostics): void {
  if (bytes + added <= MAX_OBJECT_BYTES) return;
  diags.error('', `expected the rewritten object to fit in the ${MAX_OBJECT_BYTES} bytes etcd stores; found it would be more than ${bytes + added} bytes as JSON (${bytes} before the rewrite, at least ${added} added by its producers' steps). Store fewer results by reference in this run, or make its specs smaller`);
  diags.throwIfErrors();
}

/** What a bound of the rewritten run's size is made of (sizes as `measure` counts them). */
export interface GrowthParts {
  /** The run, the Pipeline it names (0 when embedded) and the Task specs inlined. */
  readonly inputBytes: number;
  /** The longest path of a reference result on the volume (what a path of 17 characters or more may become). */
  readonly longestPath: number;
  /** The reference results' names, each once per place the rewrite lists it. */
  readonly names: number;
  /** Pipeline tasks (each may get steps, params, env, workspaces and labels). */
  readonly tasks: number;
}

/** What the rewrite adds to one task, at most, besides names and paths (its templates are about half that). */
const ADDED_PER_TASK = 2048;
/** The run's added annotations, workspace binding and claim template, at most. */
const ADDED_PER_RUN = 4096;

/**
 * An upper bound of the rewritten run's size, so a rewritten run is measured again only when it might not fit.
 * Every string grows at most by the ratio of the longest result path to the shortest token it replaces (17
 * characters: `$(results.x.path)`, `/tekton/results/x`), twice over (a rewritten param default is passed once more);
 * the references a consumer uses, the original refs, and the seal steps' `--shapes` (the declared properties of
 * structured results, formatted again) are each at most the input again; then the names and what each task and the
 * run get.
 */
export function rewrittenSizeBound(parts: GrowthParts): number {
  const growth = Math.max(1, parts.longestPath / 17);
  return 2 * growth * parts.inputBytes + 2 * parts.inputBytes + 2 * parts.names + parts.tasks * ADDED_PER_TASK + ADDED_PER_RUN;
}
