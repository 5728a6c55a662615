/**
 * The checks on `metadata` that stand in for the apiserver's ObjectMeta validation (a CRD schema only says
 * `metadata: {type: object}`): a string `name` or `generateName` is required, `namespace` is a string, and
 * `labels` / `annotations` map strings to strings. Nothing else in `metadata` is checked.
 */
import { jsonTypeOf, type SchemaProblem } from './schema-problem.js';

const STRING_FIELDS = ['name', 'generateName', 'namespace'] as const;
const STRING_MAPS = ['labels', 'annotations'] as const;

export function metadataProblems(metadata: unknown): SchemaProblem[] {
  if (metadata === undefined) {
    return [{ path: 'metadata', message: 'missing required field "metadata"' }];
  }
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    return [{ path: 'metadata', message: `expected object, found ${jsonTypeOf(metadata)}` }];
  }
  const meta = metadata as Record<string, unknown>;
  const problems: SchemaProblem[] = [];
  if (meta.name === undefined && meta.generateName === undefined) {
    problems.push({ path: 'metadata.name', message: 'missing required field "name" (or "generateName")' });
  }
  for (const field of STRING_FIELDS) {
    const value = meta[field];
    if (value !== undefined && typeof value !== 'string') {
      problems.push({ path: `metadata.${field}`, message: `expected string, found ${jsonTypeOf(value)}` });
    }
  }
  for (const field of STRING_MAPS) {
    problems.push(...stringMapProblems(meta[field], `metadata.${field}`));
  }
  return problems;
}

function stringMapProblems(value: unknown, path: string): SchemaProblem[] {
  if (value === undefined || value === null) {
    return [];
  }
  if (typeof value !== 'object' || Array.isArray(value)) {
    return [{ path, message: `expected object (a map of strings), found ${jsonTypeOf(value)}` }];
  }
  return Object.entries(value as Record<string, unknown>)
    .filter(([, entry]) => typeof entry !== 'string')
    .map(([key, entry]) => ({ path: `${path}[${key}]`, message: `expected string, found ${jsonTypeOf(entry)}` }));
}
