import { isDeepStrictEqual } from 'node:util';
import type { PatchOperation } from './admission-review.js';

import { pointerToken } from '../core/json-walk.js';

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A coarse JSON Patch that turns `original` into `desired`: objects are compared member by member down to `depth`
 * levels, and below that a differing member is replaced whole (`add`, which also replaces an existing member).
 * Computed against the raw request object, so fields the extension does not model are never dropped.
 * `diffPatch(raw, desired, 2)` on a PipelineRun yields ops such as `add /spec/pipelineSpec`, `add /spec/status`,
 * `add /metadata/annotations`.
 */
export function diffPatch(original: unknown, desired: unknown, depth: number, path = ''): PatchOperation[] {
  if (isDeepStrictEqual(original, desired)) return [];
  if (depth <= 0 || !isPlainObject(original) || !isPlainObject(desired)) {
    return path === '' ? [{ op: 'replace', path, value: desired }] : [{ op: 'add', path, value: desired }];
  }
  const ops: PatchOperation[] = [];
  for (const key of Object.keys(original)) {
    if (desired[key] === undefined && original[key] !== undefined) ops.push({ op: 'remove', path: `${path}/${pointerToken(key)}` });
  }
  for (const [key, value] of Object.entries(desired)) {
    if (value === undefined) continue;
    ops.push(...diffPatch(original[key], value, depth - 1, `${path}/${pointerToken(key)}`));
  }
  return ops;
}
