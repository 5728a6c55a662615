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
