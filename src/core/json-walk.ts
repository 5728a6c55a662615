/**
 * Walking JSON-like values with Kubernetes-style field paths (`spec.tasks[2].taskSpec.steps[0].args[1]`).
 */
const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * `parent` + one field, map key or list index, in the style of k8s.io/apimachinery's field.Path (what the API server
 * and kubectl print): fields joined by dots, indexes and any key that is not a plain identifier in brackets, unquoted
 * (`metadata.annotations[tlr.dev/reference-results]`, `spec.tasks[2]`).
 */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number' || !FIELD_NAME.test(key)) return `${parent}[${key}]`;
  return parent === '' ? key : `${parent}.${key}`;
}

/** Escapes one JSON Pointer reference token (RFC 6901): `~` -> `~0`, `/` -> `~1`. */
export function pointerToken(key: string | number): string {
  return String(key).replaceAll('~', '~0').replaceAll('/', '~1');
}

/**
 * A field path computed only when asked for (most strings walked never need theirs). It is the path of the string
 * being visited: call it during the visit, not after.
 */
export type LazyPath = () => string;

/**
 * The place a walk is at: the keys from the root, pushed and popped as the walk goes (no allocation per value), and
 * one function per walk that spells them out on demand. `undefined` for walks that never ask (`forEachText`,
 * `mapText`).
 */
interface Trail {
  readonly keys: Array<string | number>;
  readonly spell: LazyPath;
}

function trail(root: string): Trail {
  const keys: Array<string | number> = [];
  return { keys, spell: () => keys.reduce<string>((path, key) => childPath(path, key), root) };
}

const NO_PATH: LazyPath = () => '';

/** Calls `visit` for every string inside `value` (map keys excluded), depth first, in document order. */
export function forEachString(value: unknown, path: string, visit: (text: string, path: LazyPath) => void): void {
  walkStrings(value, trail(path), visit);
}

function walkStrings(value: unknown, at: Trail | undefined, visit: (text: string, path: LazyPath) => void): void {
  if (typeof value === 'string') {
    visit(value, at?.spell ?? NO_PATH);
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      at?.keys.push(i);
      walkStrings(value[i], at, visit);
      at?.keys.pop();
    }
  } else if (value !== null && typeof value === 'object') {
    for (const key in value) {
      at?.keys.push(key);
      walkStrings((value as Record<string, unknown>)[key], at, visit);
      at?.keys.pop();
    }
  }
}

/** Returns a copy of `value` with every string replaced by `map(text, path)`; unchanged subtrees are shared. */
export function mapStrings<T>(value: T, path: string, map: (text: string, path: LazyPath) => string): T {
  return mapWithPath(value, trail(path), map);
}

function mapWithPath<T>(value: T, at: Trail | undefined, map: (text: string, path: LazyPath) => string): T {
  if (typeof value === 'string') return map(value, at?.spell ?? NO_PATH) as T;
  if (Array.isArray(value)) return mapList(value, at, map) as T;
  if (value !== null && typeof value === 'object') return mapRecord(value as Record<string, unknown>, at, map) as T;
  return value;
}

function mapList(value: unknown[], at: Trail | undefined, map: (text: string, path: LazyPath) => string): unknown[] {
  let out: unknown[] | undefined;
  for (let i = 0; i < value.length; i++) {
    const item: unknown = value[i];
    at?.keys.push(i);
    const next = mapWithPath(item, at, map);
    at?.keys.pop();
    if (next !== item) out ??= value.slice();
    if (out) out[i] = next;
  }
  return out ?? value;
}

function mapRecord(value: Record<string, unknown>, at: Trail | undefined, map: (text: string, path: LazyPath) => string): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const key in value) {
    const item = value[key];
    at?.keys.push(key);
    const next = mapWithPath(item, at, map);
    at?.keys.pop();
    if (next !== item) out ??= { ...value };
    if (out) setOwn(out, key, next);
  }
  return out ?? value;
}

/** `forEachString` for callers that need no field paths (the rewrite's hot path: no path is ever built). */
export function forEachText(value: unknown, visit: (text: string) => void): void {
  walkStrings(value, undefined, visit);
}

/** `mapStrings` for callers that need no field paths; unchanged subtrees are shared. */
export function mapText<T>(value: T, map: (text: string) => string): T {
  return mapWithPath(value, undefined, map);
}

/**
 * A deep copy of plain JSON data (what Kubernetes objects are once parsed; a Date from a YAML timestamp is copied as a
 * Date). About ten times faster than structuredClone on a 100-task run, and the rewrite copies every run it changes.
 */
export function clone<T>(value: T): T {
  return copy(value) as T;
}

function copy(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(copy);
  if (value instanceof Date) return new Date(value.getTime());
  const out: Record<string, unknown> = {};
  for (const key in value) setOwn(out, key, copy((value as Record<string, unknown>)[key]));
  return out;
}

/** `obj[key] = value`, except that a `__proto__` key (JSON.parse makes it an own property) stays data, not a prototype. */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}
