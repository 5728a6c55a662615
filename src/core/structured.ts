/**
 * Structured results stored by reference: `object` and `array` results whose JSON lives on the result volume.
 *
 * Tekton parses an object or array result when the TaskRun ends (the value must start with `{` or `[` and be a JSON
 * object of strings, or a JSON array of strings) and substitutes `$(tasks.t.results.r.key)` and
 * `$(tasks.t.results.r[i])` from it. Stored by reference, the result Tekton sees is our reference (a string), so:
 * - the producer's declaration becomes a string result, and its seal step checks the JSON against the declared type
 *   and properties (`--shapes`, src/core/structured-json.ts) before it publishes the reference;
 * - a consumer's `$(tasks.t.results.r.key)` / `[i]` becomes a selector token around the plain reference,
 *   `[[tlr:select:.key:$(tasks.t.results.r)]]`, which Tekton fills with the reference; the consumer pod's init
 *   container (scripts) or tlr-exec (args, command, env) replaces the whole token by that element of the verified
 *   JSON. The selectors a task uses are declared literally (env TLR_SELECTORS), like the references themselves.
 * Pure: shared by the rewrite, tlr-init and the CLI.
 */
import type { TaskResult } from '../api/tekton.js';

export type ResultType = 'string' | 'array' | 'object';

/** What a reference result holds: its Tekton type and, for an object, its declared properties. */
export interface ResultShape {
  readonly type: ResultType;
  /** The declared property names of an object result (Tekton requires them; each must be present in the value). */
  readonly properties?: readonly string[];
}

/** A result's shape as declared (its type; `stringReference` and no type are strings). */
export function shapeOf(result: Pick<TaskResult, 'type'> & { readonly properties?: unknown }): ResultShape {
  if (result.type === 'array') return { type: 'array' };
  if (result.type === 'object') {
    const properties = result.properties;
    const names = typeof properties === 'object' && properties !== null && !Array.isArray(properties) ? Object.keys(properties) : [];
    return { type: 'object', properties: names };
  }
  return { type: 'string' };
}

export function isStructured(shape: ResultShape | undefined): boolean {
  return shape !== undefined && shape.type !== 'string';
}

/** One element of a structured value: an object's key (`.key`) or an array's index (`[i]`). */
export type Selector = { readonly key: string } | { readonly index: number };

/** Keys Tekton accepts in `$(… .key)` (the dot form): what a selector's key may be. */
const KEY = /^[A-Za-z0-9_-]+$/;
const INDEX = /^(0|[1-9][0-9]{0,8})$/;

/** The selector an expression suffix stands for (`.key`, `[3]`); undefined for `''`, `.path`, `[*]`. */
export function selectorOfSuffix(suffix: string): Selector | undefined {
  if (suffix.startsWith('.') && suffix !== '.path' && KEY.test(suffix.slice(1))) return { key: suffix.slice(1) };
  const m = /^\[(\d+)\]$/.exec(suffix);
  if (m && INDEX.test(m[1] ?? '')) return { index: Number(m[1]) };
  return undefined;
}

/** `.key` or `[i]`: how a selector is written after the result name, in labels and tokens. */
export function formatSelector(selector: Selector): string {
  return 'key' in selector ? `.${selector.key}` : `[${selector.index}]`;
}

/** The fixed opening of a selector token. */
export const SELECT_OPENING = '[[tlr:select:';

/**
 * The token standing for one element of a reference result's value, around `reference` (the reference text, or the
 * Tekton expression that becomes it): `[[tlr:select:.key:<reference>]]`.
 */
export function selectorToken(selector: Selector, reference: string): string {
  return `${SELECT_OPENING}${formatSelector(selector)}:${reference}]]`;
}

/** A declared selector, `<task>/<result>.key` or `<task>/<result>[i]` (env TLR_SELECTORS), split; undefined if malformed. */
export function parseSelectorLabel(text: string): { label: string; selector: Selector } | undefined {
  const m = /^([a-z0-9][a-z0-9-]*\/[A-Za-z0-9][A-Za-z0-9._-]*?)(\.[A-Za-z0-9_-]+|\[[0-9]+\])$/.exec(text);
  if (!m) return undefined;
  const selector = selectorOfSuffix(m[2] ?? '');
  return selector === undefined ? undefined : { label: m[1] ?? '', selector };
}

/** How a structured value is described in messages: `an object with properties a, b` / `an array`. */
export function describeShape(shape: ResultShape): string {
  if (shape.type === 'array') return 'an array of strings';
  if (shape.type === 'object') {
    const props = shape.properties ?? [];
    return props.length === 0 ? 'an object of strings' : `an object of strings with properties ${props.join(', ')}`;
  }
  return 'a string';
}

/**
 * Why `selector` does not fit a structured shape (`.key` on an array, `[i]` on an object), as `expected …, found …`;
 * undefined when it fits. `whole` is the whole value's expression, `found` the expression written.
 */
export function selectorMismatch(shape: ResultShape, selector: Selector, whole: string, found: string): string | undefined {
  if (shape.type === 'object' && !('key' in selector)) return `expected a key, ${whole.slice(0, -1)}.<key>), found ${found}`;
  if (shape.type === 'array' && !('index' in selector)) return `expected an element, ${whole.slice(0, -1)}[<index>]), found ${found}`;
  return undefined;
}

/**
 * `<found> names key "k", which is not one of the declared properties of result "r" of task "t" (a, b)` when the
 * result declares properties and `selector` names another key; undefined otherwise (Tekton takes any key the value has,
 * so the caller warns, saying what fails when the value lacks it).
 */
export function undeclaredKey(shape: ResultShape, selector: Selector, found: string, result: string, task: string): string | undefined {
  if (!('key' in selector) || shape.properties === undefined || shape.properties.length === 0 || shape.properties.includes(selector.key)) return undefined;
  return `${found} names key "${selector.key}", which is not one of the declared properties of result "${result}" of task "${task}" (${[...shape.properties].sort().join(', ')})`;
}

/** The name `tlr fetch` gives one entry of an object or array pipeline result's value: `<result>.<key>`, `<result>[i]`. */
export function pipelineResultEntry(result: string, entry: string | number): string {
  return typeof entry === 'number' ? `${result}[${entry}]` : `${result}.${entry}`;
}

/** The seal step's `--shapes` text: `{"<result>":{"type":"object","properties":["a","b"]},"<other>":{"type":"array"}}`. */
export function formatShapes(shapes: ReadonlyMap<string, ResultShape>): string {
  const out: Record<string, ResultShape> = {};
  for (const [name, shape] of shapes) {
    out[name] = shape.type === 'object' ? { type: 'object', properties: [...(shape.properties ?? [])] } : { type: shape.type };
  }
  return JSON.stringify(out);
}

/** Parses `--shapes`; throws a TypeError saying what is wrong. */
export function parseShapes(text: string): Map<string, ResultShape> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new TypeError(`expected JSON, found ${JSON.stringify(text.slice(0, 80))} (${(error as Error).message})`, { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new TypeError('expected a JSON object of result name -> {"type": "object"|"array", "properties": [...]}');
  }
  return new Map(Object.entries(parsed as Record<string, unknown>).map(([name, value]) => [name, parseShape(name, value)]));
}

function parseShape(name: string, value: unknown): ResultShape {
  const v = (typeof value === 'object' && value !== null ? value : {}) as { type?: unknown; properties?: unknown };
  const props = v.properties;
  if (v.type === 'array' && props === undefined) return { type: 'array' };
  if (v.type === 'object' && (props === undefined || (Array.isArray(props) && props.every((p) => typeof p === 'string')))) {
    return { type: 'object', properties: (props) ?? [] };
  }
  throw new TypeError(`result "${name}": expected {"type": "object", "properties": [<names>]} or {"type": "array"}, found ${JSON.stringify(value)}`);
}
