/**
 * Walking JSON-like values with Kubernetes-style field paths (`spec.tasks[2].taskSpec.steps[0].args[1]`).
 */
const SAFE_KEYS = new Map<string, boolean>();

export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  let plain = SAFE_KEYS.get(key);
  if (plain === undefined) {
    plain = /^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(key);
    if (SAFE_KEYS.size < 10_000) SAFE_KEYS.set(key, plain);
  }
  const safe = plain ? key : JSON.stringify(key);
  if (safe !== key) return `${parent}[${safe}]`;
  return parent === '' ? key : `${parent}.${key}`;
}

/** Calls `visit` for every string inside `value` (map keys excluded), depth first, in document order. */
export function forEachString(value: unknown, path: string, visit: (text: string, path: string) => void): void {
  if (typeof value === 'string') {
    visit(value, path);
  } else if (Array.isArray(value)) {
    value.forEach((item, i) => forEachString(item, childPath(path, i), visit));
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) forEachString(item, childPath(path, key), visit);
  }
}

/** Returns a copy of `value` with every string replaced by `map(text, path)`; unchanged subtrees are shared. */
export function mapStrings<T>(value: T, path: string, map: (text: string, path: string) => string): T {
  if (typeof value === 'string') return map(value, path) as T;
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((item: unknown, i) => {
      const next = mapStrings(item, childPath(path, i), map);
      changed ||= next !== item;
      return next;
    });
    return (changed ? out : value) as T;
  }
  if (value !== null && typeof value === 'object') {
    let out: Record<string, unknown> | undefined;
    for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
      const next = mapStrings(item, childPath(path, key), map);
      if (next !== item) out ??= { ...(value as Record<string, unknown>) };
      if (out) out[key] = next;
    }
    return (out ?? value) as T;
  }
  return value;
}

/** A deep copy of plain JSON data. */
export function clone<T>(value: T): T {
  return structuredClone(value);
}
