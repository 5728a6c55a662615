/**
 * Test support: a small RFC 6902 applier (add, remove, replace; `-` appends) and the decoding of an AdmissionReview
 * response's patch, so tests check what the API server would store, not the shape of the ops. Not a test file.
 */
import type { AdmissionReviewResponse, PatchOperation } from '../../src/webhook/admission-review.js';

function unescape(token: string): string {
  return token.replaceAll('~1', '/').replaceAll('~0', '~');
}

type Container = Record<string, unknown> | unknown[];

/** Applies `ops` to a deep copy of `document`; throws like an API server would on a path that does not apply. */
export function applyPatch<T>(document: T, ops: readonly PatchOperation[]): T {
  let root: unknown = structuredClone(document);
  for (const op of ops) {
    if (op.path === '') {
      if (op.op === 'remove') throw new Error('cannot remove the root');
      root = structuredClone(op.value);
      continue;
    }
    const tokens = op.path.split('/').slice(1).map(unescape);
    const last = tokens.pop() as string;
    let parent: unknown = root;
    for (const token of tokens) {
      const next: unknown = Array.isArray(parent) ? parent[Number(token)] : (parent as Record<string, unknown> | null)?.[token];
      if (typeof next !== 'object' || next === null) throw new Error(`path ${op.path}: ${token} does not exist`);
      parent = next;
    }
    applyAt(parent as Container, last, op);
  }
  return root as T;
}

function applyAt(parent: Container, key: string, op: PatchOperation): void {
  if (Array.isArray(parent)) {
    const index = key === '-' ? parent.length : Number(key);
    if (!Number.isInteger(index) || index < 0 || index > parent.length) throw new Error(`array index ${key} out of range`);
    if (op.op === 'add') parent.splice(index, 0, structuredClone(op.value));
    else if (op.op === 'replace') parent[index] = structuredClone(op.value);
    else parent.splice(index, 1);
    return;
  }
  const exists = Object.hasOwn(parent, key);
  if (op.op !== 'add' && !exists) throw new Error(`${op.op} of missing member ${key}`);
  if (op.op === 'remove') delete parent[key];
  else parent[key] = structuredClone(op.value);
}

/** The JSON Patch ops of a response (none when it carries no patch). */
export function patchOf(review: AdmissionReviewResponse): PatchOperation[] {
  const { patch, patchType } = review.response;
  if (patch === undefined) return [];
  if (patchType !== 'JSONPatch') throw new Error(`expected patchType JSONPatch, found ${String(patchType)}`);
  return JSON.parse(Buffer.from(patch, 'base64').toString('utf8')) as PatchOperation[];
}

/** Freezes a value deeply, so a transform that mutates its input throws (ESM code is strict). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
