/**
 * The size and nesting depth of a JSON-like value, measured without recursion (an object nested 100,000 deep is
 * measured, not a stack overflow), stopping as soon as either passes its limit.
 */
import { childPath } from '../json-walk.js';

export interface Measure {
  /**
   * About the length of the value's JSON text, never more: strings and keys with their quotes, colons, commas and
   * brackets (escapes and multi-byte characters are not counted, so the real JSON is at least this long).
   */
  readonly bytes: number;
  /** Maps and lists nested inside each other (a scalar is 0, `{a: 1}` is 1). */
  readonly depth: number;
  /** Set when the walk stopped because the nesting passed `maxDepth`: the field path where it did. */
  readonly tooDeepAt?: string;
  /** True when the walk stopped early because a limit was passed. */
  readonly exceeded: boolean;
}

/**
 * Walks the value with an explicit stack (values and their depths side by side; strings and scalars are counted where
 * they are found, never pushed), so measuring allocates little and recurses not at all.
 */
export function measure(value: unknown, limits: { maxBytes: number; maxDepth: number }): Measure {
  if (typeof value !== 'object' || value === null) return { bytes: scalarBytes(value), depth: 0, exceeded: false };
  let bytes = 0;
  let depth = 0;
  const values: object[] = [value];
  const depths: number[] = [1];
  const visit = (child: unknown, d: number): void => {
    if (typeof child === 'object' && child !== null) {
      values.push(child);
      depths.push(d + 1);
    } else {
      bytes += scalarBytes(child);
    }
  };
  while (values.length > 0) {
    const v = values.pop() as Record<string, unknown> | unknown[];
    const d = depths.pop() as number;
    if (d > limits.maxDepth) return { bytes, depth: d, tooDeepAt: deepPath(value, limits.maxDepth), exceeded: true };
    if (d > depth) depth = d;
    if (Array.isArray(v)) {
      bytes += 1 + (v.length > 0 ? v.length : 1);
      for (let i = 0; i < v.length; i++) visit(v[i], d);
    } else {
      const keys = Object.keys(v);
      bytes += 1 + (keys.length > 0 ? keys.length : 1);
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as string;
        bytes += key.length + 3;
        visit(v[key], d);
      }
    }
    if (bytes > limits.maxBytes) return { bytes, depth, exceeded: true };
  }
  return { bytes, depth, exceeded: false };
}

function scalarBytes(v: unknown): number {
  if (typeof v === 'string') return v.length + 2;
  if (v === null || v === true) return 4;
  if (v === false) return 5;
  return typeof v === 'number' ? String(v).length : 0;
}

/**
 * The field path of a place nested deeper than `maxDepth`, its first segments only when long
 * (`spec.params[0].value.a.a…`): searched only once the walk found there is one.
 */
function deepPath(value: unknown, maxDepth: number): string {
  interface Node {
    readonly value: unknown;
    readonly depth: number;
    readonly parent?: Node;
    readonly key?: string | number;
  }
  const stack: Node[] = [{ value, depth: 1 }];
  while (stack.length > 0) {
    const node = stack.pop() as Node;
    const v = node.value;
    if (typeof v !== 'object' || v === null) continue;
    if (node.depth > maxDepth) {
      const keys: Array<string | number> = [];
      for (let n: Node | undefined = node; n?.key !== undefined; n = n.parent) keys.push(n.key);
      return format(keys.reverse());
    }
    const entries: Array<[string | number, unknown]> = Array.isArray(v) ? v.map((c: unknown, i) => [i, c]) : Object.entries(v);
    for (const [key, child] of entries) if (typeof child === 'object' && child !== null) stack.push({ value: child, depth: node.depth + 1, parent: node, key });
  }
  return '';
}

function format(keys: ReadonlyArray<string | number>): string {
  const shown = keys.slice(0, 12).reduce<string>((path, key) => childPath(path, key), '');
  return keys.length > 12 ? `${shown}…` : shown;
}
