/**
 * The size and nesting depth of a JSON-like value, measured without recursion (an object nested 100,000 deep is
 * measured, not a stack overflow), stopping as soon as either passes its limit.
 */
import { childPath } from '../json-walk.js';

export interface Measure {
  /** About the length of the value's JSON text: strings, keys and a few bytes per value. */
  readonly bytes: number;
  /** Maps and lists nested inside each other (a scalar is 0, `{a: 1}` is 1). */
  readonly depth: number;
  /** Set when the walk stopped because the nesting passed `maxDepth`: the field path where it did. */
  readonly tooDeepAt?: string;
  /** True when the walk stopped early because a limit was passed. */
  readonly exceeded: boolean;
}

interface Entry {
  readonly value: unknown;
  readonly depth: number;
  readonly parent: Entry | undefined;
  readonly key: string | number;
}

export function measure(value: unknown, limits: { maxBytes: number; maxDepth: number }): Measure {
  let bytes = 0;
  let depth = 0;
  const stack: Entry[] = [{ value, depth: 0, parent: undefined, key: '' }];
  while (stack.length > 0) {
    const entry = stack.pop() as Entry;
    const v = entry.value;
    if (typeof v === 'string') {
      bytes += v.length + 3;
    } else if (v !== null && typeof v === 'object') {
      const d = entry.depth + 1;
      if (d > limits.maxDepth) return { bytes, depth: d, tooDeepAt: pathOf(entry), exceeded: true };
      if (d > depth) depth = d;
      bytes += 2;
      if (Array.isArray(v)) {
        bytes += v.length;
        v.forEach((item: unknown, i) => stack.push({ value: item, depth: d, parent: entry, key: i }));
      } else {
        for (const key of Object.keys(v)) {
          bytes += key.length + 4;
          stack.push({ value: (v as Record<string, unknown>)[key], depth: d, parent: entry, key });
        }
      }
    } else {
      bytes += 6;
    }
    if (bytes > limits.maxBytes) return { bytes, depth, exceeded: true };
  }
  return { bytes, depth, exceeded: false };
}

/** The field path of an entry, its first segments only when it is long (`spec.params[0].value.a.a…`). */
function pathOf(entry: Entry): string {
  const keys: Array<string | number> = [];
  for (let e: Entry | undefined = entry; e?.parent !== undefined; e = e.parent) keys.push(e.key);
  keys.reverse();
  const shown = keys.slice(0, 12).reduce<string>((path, key) => childPath(path, key), '');
  return keys.length > 12 ? `${shown}…` : shown;
}
