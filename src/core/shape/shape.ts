/**
 * A small declarative description of JSON shapes, and the check of a value against one. The rewrite reads Tekton
 * objects as typed data (src/api/tekton.ts); an object that reaches it from the API server, a resolver or a file may be
 * anything, so every field the rewrite reads is checked against its shape first and a mismatch becomes a diagnostic
 * naming the field path, what was expected and what was found (never a TypeError).
 *
 * Objects are open (fields not described are not looked at, as Tekton's unknown-field checks are Tekton's business);
 * an optional field that is absent or `null` is accepted (Go's JSON decoding, which Tekton uses, treats `null` as
 * absent); a `null` item of a list or value of a map is not.
 */
import { childPath } from '../json-walk.js';

export type Shape =
  | { readonly type: 'string' }
  | { readonly type: 'boolean' }
  | { readonly type: 'any' }
  | { readonly type: 'list'; readonly of: Shape; readonly what: string }
  | { readonly type: 'map'; readonly of: Shape; readonly what: string }
  | { readonly type: 'object'; readonly what: string; readonly fields: ReadonlyArray<readonly [string, Shape]> };

export const STRING: Shape = { type: 'string' };
export const BOOLEAN: Shape = { type: 'boolean' };
export const ANY: Shape = { type: 'any' };

export function listOf(of: Shape, what: string): Shape {
  return { type: 'list', of, what };
}

export function mapOf(of: Shape, what: string): Shape {
  return { type: 'map', of, what };
}

export function object(what: string, fields: Record<string, Shape>): Shape {
  return { type: 'object', what, fields: Object.entries(fields) };
}

/** Where mismatches go: the field path and the message (expected ..., found ...). */
export type Report = (path: string, message: string) => void;

/**
 * Checks `value` against `shape`, reporting every mismatch; `path` is the value's field path. Stops descending into
 * a value that does not match (its children would only repeat the problem). Field paths are only spelled out for
 * the values that are reported.
 */
export function checkShape(value: unknown, shape: Shape, path: string, report: Report): void {
  check(value, shape, path, report);
}

/** Where a value is: the root's field path, or a key below a parent (spelled out only when reported). */
type At = string | { readonly parent: At; readonly key: string | number };

function spell(at: At): string {
  if (typeof at === 'string') return at;
  const keys: Array<string | number> = [];
  let node: At = at;
  while (typeof node !== 'string') {
    keys.push(node.key);
    node = node.parent;
  }
  return keys.reverse().reduce<string>((path, key) => childPath(path, key), node);
}

function check(value: unknown, shape: Shape, at: At, report: Report): void {
  switch (shape.type) {
    case 'any':
      return;
    case 'string':
    case 'boolean':
      if (typeof value !== shape.type) report(spell(at), `expected a ${shape.type}, found ${describeValue(value)}`);
      return;
    case 'list':
      if (!Array.isArray(value)) return report(spell(at), `expected ${shape.what}, found ${describeValue(value)}`);
      for (let i = 0; i < value.length; i++) checkItem(value[i], shape.of, i, at, report);
      return;
    case 'map':
      if (!isMapping(value)) return report(spell(at), `expected ${shape.what}, found ${describeValue(value)}`);
      for (const key of Object.keys(value)) checkItem(value[key], shape.of, key, at, report);
      return;
    case 'object':
      if (!isMapping(value)) return report(spell(at), `expected ${shape.what}, found ${describeValue(value)}`);
      checkFields(value, shape.fields, at, report);
  }
}

/** Each described field that is there (and not `null`) against its shape. */
function checkFields(value: Record<string, unknown>, fields: ReadonlyArray<readonly [string, Shape]>, at: At, report: Report): void {
  for (const [key, field] of fields) {
    const child = Object.hasOwn(value, key) ? value[key] : undefined;
    if (child === undefined || child === null || matchesScalar(child, field)) continue; // the common cases, with no path made
    check(child, field, { parent: at, key }, report);
  }
}

/** A list item or map value: present by construction, so `null` is a mismatch, not an absent field. */
function checkItem(value: unknown, shape: Shape, key: string | number, parent: At, report: Report): void {
  if (matchesScalar(value, shape)) return; // strings and booleans where they belong: no path made
  if (value === null) return report(spell({ parent, key }), `expected ${what(shape)}, found null`);
  check(value, shape, { parent, key }, report);
}

/** Whether `value` matches a shape that has no children (any value, a string, a boolean). */
function matchesScalar(value: unknown, shape: Shape): boolean {
  return shape.type === 'any' || ((shape.type === 'string' || shape.type === 'boolean') && typeof value === shape.type);
}

function what(shape: Shape): string {
  if (shape.type === 'any') return 'a value';
  if (shape.type === 'string' || shape.type === 'boolean') return `a ${shape.type}`;
  return shape.what;
}

export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What a value is, for messages: `a string ("abc")`, `a number (5)`, `a list`, `a mapping`, `null`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list of ${value.length} item${value.length === 1 ? '' : 's'}`;
  if (typeof value === 'string') return `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value)})`;
  if (typeof value === 'number' || typeof value === 'boolean') return `a ${typeof value} (${String(value)})`;
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}
