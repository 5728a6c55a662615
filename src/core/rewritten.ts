import { ANNOTATION_REWRITTEN } from '../api/names.js';
import type { Diagnostics } from './diagnostics.js';
import { MAX_REWRITTEN_BYTES } from './limits.js';
import { measure } from './shape/measure.js';

/** Already rewritten (annotation `tlr.dev/rewritten`), read without assuming the metadata's shape. */
export function isRewritten(object: { metadata?: unknown }): boolean {
  const annotations: unknown = (object.metadata as { annotations?: unknown } | null | undefined)?.annotations;
  return typeof annotations === 'object' && annotations !== null && (annotations as Record<string, unknown>)[ANNOTATION_REWRITTEN] !== undefined;
}

/** A rewritten object larger than etcd stores is refused here, with both sizes, rather than when it is written. */
export function checkRewrittenSize(object: unknown, diags: Diagnostics): void {
  const size = measure(object, { maxBytes: MAX_REWRITTEN_BYTES, maxDepth: Infinity });
  if (!size.exceeded) return;
  const bytes = measure(object, { maxBytes: Infinity, maxDepth: Infinity }).bytes;
  diags.error('', `expected the rewritten object to fit in the ${MAX_REWRITTEN_BYTES} bytes etcd stores, found about ${bytes} bytes as JSON. Store fewer results by reference in this run, or make its specs smaller`);
  diags.throwIfErrors();
}

/**
 * An object already larger than etcd stores cannot be stored converted or rewritten either (both only add to it):
 * refused before any work. The API server would refuse to store it anyway; admission gets it first.
 */
export function checkStorable(object: unknown, diags: Diagnostics): number {
  const size = measure(object, { maxBytes: MAX_REWRITTEN_BYTES, maxDepth: Infinity });
  if (!size.exceeded) return size.bytes;
  diags.error('', `expected an object that fits, rewritten, in the ${MAX_REWRITTEN_BYTES} bytes etcd stores; found one of more than ${MAX_REWRITTEN_BYTES} bytes as JSON before the rewrite. Make its specs smaller (large values belong in results stored by reference)`);
  diags.throwIfErrors();
  return size.bytes;
}

/** Refuses, before the work, a run whose rewrite would add more than etcd leaves room for (`added`: a lower bound). */
export function checkGrowth(bytes: number, added: number, diags: Diagnostics): void {
  if (bytes + added <= MAX_REWRITTEN_BYTES) return;
  diags.error('', `expected the rewritten object to fit in the ${MAX_REWRITTEN_BYTES} bytes etcd stores; found it would be more than ${bytes + added} bytes as JSON (${bytes} before the rewrite, at least ${added} added by its producers' steps). Store fewer results by reference in this run, or make its specs smaller`);
  diags.throwIfErrors();
}
