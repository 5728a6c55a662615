/**
 * Turns ajv's errors (JSON pointers, "must be string") into SchemaProblems (field paths, "expected string, found
 * object"). Needs ajv's `verbose: true`, which puts the offending value in `error.data`.
 */
import type { ErrorObject } from 'ajv';
import { childPath, pointerToFieldPath } from './field-path.js';
import { jsonTypeOf, showValue, type SchemaProblem } from './schema-problem.js';

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
    case 'pattern':
      return { path, message: `expected a string matching /${String(params.pattern)}/, found ${showValue(error.data)}` };
    case 'format':
      return { path, message: `expected a value of format ${String(params.format)}, found ${showValue(error.data)}` };
    default:
      return { path, message: `${error.message ?? `fails "${error.keyword}"`}, found ${showValue(error.data)}` };
  }
}

function typeList(type: unknown): string {
  return Array.isArray(type) ? type.join(' or ') : String(type).split(',').join(' or ');
}
