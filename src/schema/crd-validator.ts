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
import { fillRequired } from './fill-required.js';
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

export interface CrdValidatorOptions {
  /**
   * Model Tekton's mutating webhook, which runs before the apiserver's schema validation and writes every missing
   * `required` scalar or object field back as its Go zero value (see `fill-required.ts`): a step without `name` is
   * accepted, as on a cluster with Tekton installed. Default true; false validates against the bare CRDs, as an
   * API server without Tekton's webhook (e.g. a test API server with only the CRDs applied) does.
   */
  readonly webhookRoundTrip?: boolean;
}

interface Entry {
  readonly served: ServedSchema;
  compiled?: ValidateFunction;
}

export function createCrdValidator(crds: unknown[], options: CrdValidatorOptions = {}): CrdValidator {
  const roundTrip = options.webhookRoundTrip ?? true;
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
  const checkSchema: SchemaCheck = (entry, obj) => {
    const validateFn = (entry.compiled ??= ajv.compile(rootSchema(entry.served)));
    // What reaches the apiserver's schema validation: nulls pruned, then (optionally) Tekton's webhook round trip.
    const pruned = pruneNulls(obj, entry.served.schema);
    const admitted = roundTrip ? fillRequired(pruned, entry.served.schema) : pruned;
    return validateFn(admitted) ? [] : ajvProblems(validateFn.errors ?? [], admitted);
  };
  return {
    serves: (apiVersion, kind) => entries.has(entryKey(apiVersion, kind)),
    validate: (obj) => validateObject(obj, entries, checkSchema),
  };
}

type SchemaCheck = (entry: Entry, obj: object) => SchemaProblem[];

function validateObject(obj: unknown, entries: Map<string, Entry>, checkSchema: SchemaCheck): SchemaProblem[] {
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
  return [...metadataProblems(metadata), ...checkSchema(entry, obj)];
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
