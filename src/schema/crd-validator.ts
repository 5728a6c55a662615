/**
 * Validates Kubernetes objects against the CRDs that define them, as a kube-apiserver with strict field validation
 * (kubectl's default) would: unknown fields, wrong types, enums, patterns, required fields. Pure: the CRDs are
 * passed in (see `load-crds.ts` to read them from a directory). Each version's schema is compiled on first use and
 * cached. See `structural-schema.ts` for how the CRD schema is interpreted and `metadata-problems.ts` for metadata.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { TlrError } from '../errors.js';
import { ajvProblems } from './ajv-problems.js';
import { CRD_FORMATS } from './crd-formats.js';
import { servedSchemas, type ServedSchema } from './crd-versions.js';
import { metadataProblems } from './metadata-problems.js';
import { pruneNulls } from './prune-nulls.js';
import { jsonTypeOf, type SchemaProblem } from './schema-problem.js';
import { toAjvSchema } from './structural-schema.js';

export type { SchemaProblem } from './schema-problem.js';

export interface CrdValidator {
  /** Every way `obj` breaks its CRD's schema; empty when the apiserver would accept it. */
  validate(obj: unknown): SchemaProblem[];
  /** Whether some CRD serves `apiVersion` (`group/version`) for `kind`. */
  serves(apiVersion: string, kind: string): boolean;
}

interface Entry {
  readonly served: ServedSchema;
  compiled?: ValidateFunction;
}

export function createCrdValidator(crds: unknown[]): CrdValidator {
  const entries = new Map<string, Entry>();
  for (const crd of crds) {
    for (const served of servedSchemas(crd)) {
      const key = entryKey(served.apiVersion, served.kind);
      if (entries.has(key)) {
        throw new TlrError('E_SCHEMA', `two CustomResourceDefinitions serve ${served.apiVersion} ${served.kind}`);
      }
      entries.set(key, { served });
    }
  }
  const ajv = new Ajv({ strict: false, allErrors: true, verbose: true, formats: CRD_FORMATS });
  const compile = (entry: Entry): ValidateFunction => {
    entry.compiled ??= ajv.compile(rootSchema(entry.served));
    return entry.compiled;
  };
  return {
    serves: (apiVersion, kind) => entries.has(entryKey(apiVersion, kind)),
    validate: (obj) => validateObject(obj, entries, compile),
  };
}

function validateObject(obj: unknown, entries: Map<string, Entry>, compile: (e: Entry) => ValidateFunction): SchemaProblem[] {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    return [{ path: '', message: `expected a Kubernetes object (a mapping with apiVersion and kind), found ${jsonTypeOf(obj)}` }];
  }
  const { apiVersion, kind, metadata } = obj as Record<string, unknown>;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') {
    return [{ path: '', message: 'expected a Kubernetes object with string apiVersion and kind' }];
  }
  const entry = entries.get(entryKey(apiVersion, kind));
  if (entry === undefined) {
    return [{ path: 'kind', message: `no CustomResourceDefinition serves kind "${kind}" in version "${apiVersion}"` }];
  }
  const data = pruneNulls(obj, entry.served.schema);
  const validateFn = compile(entry);
  const problems = metadataProblems(metadata);
  if (!validateFn(data)) {
    problems.push(...ajvProblems(validateFn.errors ?? [], data));
  }
  return problems;
}

/** The version's schema for ajv, with `metadata` left to `metadataProblems`. */
function rootSchema(served: ServedSchema): Record<string, unknown> {
  const schema = toAjvSchema(served.schema);
  const properties = { ...(schema.properties as Record<string, unknown> | undefined), metadata: {} };
  return { ...schema, properties };
}

function entryKey(apiVersion: string, kind: string): string {
  return `${apiVersion} ${kind}`;
}
