/**
 * Turns ajv's errors (JSON pointers, "must be string") into SchemaProblems (field paths, "expected string, found
 * object"). Needs ajv's `verbose: true`, which puts the offending value in `error.data`.
 */
import type { ErrorObject } from 'ajv';
import { childPath, pointerToFieldPath } from './field-path.js';
import { jsonTypeOf, showValue, type SchemaProblem } from './schema-problem.js';

/** Patterns of the Kubernetes CRDs, by what they mean. */
const KNOWN_PATTERNS = new Map([
  [
    '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$',
    'a quantity such as "500m", "2" or "1Gi"',
  ],
]);

const FORMATS = new Map([
  ['int32', 'a 32-bit integer (-2147483648 to 2147483647)'],
  ['int64', 'a 64-bit integer'],
  ['date-time', 'an RFC 3339 date-time such as "2024-01-31T12:00:00Z"'],
  ['date', 'a date such as "2024-01-31"'],
  ['byte', 'base64-encoded data'],
]);

export function ajvProblems(errors: readonly ErrorObject[], data: unknown): SchemaProblem[] {
  const seen = new Set<string>();
  const problems: SchemaProblem[] = [];
  for (const error of errors) {
    const problem = ajvProblem(error, pointerToFieldPath(data, error.instancePath));
    const key = `${problem.path}\n${problem.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      problems.push(problem);
    }
  }
  return problems;
}

function ajvProblem(error: ErrorObject, path: string): SchemaProblem {
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties': {
      const field = String(params.additionalProperty);
      return { path: childPath(path, field), message: `unknown field "${field}"` };
    }
    case 'required': {
      const field = String(params.missingProperty);
      return { path: childPath(path, field), message: `missing required field "${field}"` };
    }
    case 'type':
      return { path, message: `expected ${typeList(params.type)}, found ${jsonTypeOf(error.data)}` };
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ');
      return { path, message: `expected one of ${allowed}, found ${showValue(error.data)}` };
    }
    case 'pattern': {
      const pattern = String(params.pattern);
      const expected = KNOWN_PATTERNS.get(pattern) ?? `a string matching /${pattern}/`;
      return { path, message: `expected ${expected}, found ${showValue(error.data)}` };
    }
    case 'format': {
      const format = String(params.format);
      return { path, message: `expected ${FORMATS.get(format) ?? `a ${format} value`}, found ${showValue(error.data)}` };
    }
    default:
      return { path, message: `${error.message ?? `fails "${error.keyword}"`}, found ${showValue(error.data)}` };
  }
}

function typeList(type: unknown): string {
  return Array.isArray(type) ? type.join(' or ') : String(type).split(',').join(' or ');
}
