/**
 * The served versions of an apiextensions.k8s.io/v1 CustomResourceDefinition, each with its OpenAPI v3 schema.
 */
import { TlrError } from '../errors.js';
import type { OpenApiSchema } from './structural-schema.js';

export interface ServedSchema {
  /** `group/version`, e.g. `tekton.dev/v1`. */
  readonly apiVersion: string;
  readonly kind: string;
  readonly schema: OpenApiSchema;
}

type Loose = Record<string, unknown> | undefined;

/** Throws `E_SCHEMA` when `crd` is not a v1 CustomResourceDefinition with a schema for every served version. */
export function servedSchemas(crd: unknown): ServedSchema[] {
  const object = asRecord(crd);
  const name = typeof asRecord(object?.metadata)?.name === 'string' ? String(asRecord(object?.metadata)?.name) : '?';
  if (object?.apiVersion !== 'apiextensions.k8s.io/v1' || object.kind !== 'CustomResourceDefinition') {
    throw new TlrError('E_SCHEMA', `${name}: expected an apiextensions.k8s.io/v1 CustomResourceDefinition`);
  }
  const spec = asRecord(object.spec);
  const group = spec?.group;
  const kind = asRecord(spec?.names)?.kind;
  const versions = spec?.versions;
  if (typeof group !== 'string' || typeof kind !== 'string' || !Array.isArray(versions)) {
    throw new TlrError('E_SCHEMA', `CustomResourceDefinition ${name}: expected spec.group, spec.names.kind and spec.versions`);
  }
  return versions
    .map((v: unknown) => asRecord(v))
    .filter((v) => v?.served === true)
    .map((v) => {
      const schema = asRecord(asRecord(v?.schema)?.openAPIV3Schema);
      if (schema === undefined || typeof v?.name !== 'string') {
        throw new TlrError('E_SCHEMA', `CustomResourceDefinition ${name}: a served version has no name or no schema.openAPIV3Schema`);
      }
      return { apiVersion: `${group}/${v.name}`, kind, schema: schema as OpenApiSchema };
    });
}

function asRecord(value: unknown): Loose {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
