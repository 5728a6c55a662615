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
  const metadataName = asRecord(object?.metadata)?.name;
  const name = typeof metadataName === 'string' ? metadataName : '(unnamed)';
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
    .map((version: unknown) => asRecord(version))
    .filter((version) => version?.served === true)
    .map((version) => servedSchema(name, group, kind, version));
}

function servedSchema(crdName: string, group: string, kind: string, version: Loose): ServedSchema {
  const schema = asRecord(asRecord(version?.schema)?.openAPIV3Schema);
  if (schema === undefined || typeof version?.name !== 'string') {
    throw new TlrError('E_SCHEMA', `CustomResourceDefinition ${crdName}: a served version has no name or no schema.openAPIV3Schema`);
  }
  return { apiVersion: `${group}/${version.name}`, kind, schema };
}

function asRecord(value: unknown): Loose {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
