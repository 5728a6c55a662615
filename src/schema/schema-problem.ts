/** One way an object breaks its CRD's schema, in the words `kubectl apply` would use. */
export interface SchemaProblem {
  /** Kubernetes-style field path, e.g. `spec.pipelineSpec.tasks[2].taskSpec.steps[0].args[1]`; `''` is the object. */
  readonly path: string;
  /** What was expected and what was found, e.g. `unknown field "resultWorkspace"`, `expected string, found object`. */
  readonly message: string;
}

/** The JSON type of `value` as schemas name it: object, array, string, integer, number, boolean or null. */
export function jsonTypeOf(value: unknown): string {
  if (value === null) {
    return 'null';
  }
  if (Array.isArray(value)) {
    return 'array';
  }
  if (typeof value === 'number') {
    return Number.isInteger(value) ? 'integer' : 'number';
  }
  return typeof value;
}

const MAX_SHOWN = 60;

/** `value` as it would appear in a message: JSON, strings cut at 60 characters, collections by type only. */
export function showValue(value: unknown): string {
  if (typeof value === 'object' && value !== null) {
    return jsonTypeOf(value);
  }
  const json = JSON.stringify(value) ?? String(value);
  return json.length > MAX_SHOWN ? `${json.slice(0, MAX_SHOWN - 4)}…${json.slice(-1)}` : json;
}
