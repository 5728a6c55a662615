/**
 * Turns a CRD's structural OpenAPI v3 schema into a JSON schema for ajv that accepts and refuses what a
 * kube-apiserver with strict field validation (kubectl's default) accepts and refuses:
 *
 * - an object node with `properties` gets `additionalProperties: false` (unknown fields are errors), unless it is
 *   `x-kubernetes-preserve-unknown-fields: true` or says `additionalProperties` itself. As in the apiserver, the
 *   flag covers its own node: a node without a schema below it (Tekton's embedded specs) accepts anything;
 * - `x-kubernetes-int-or-string: true` is `type: [integer, string]` (its `anyOf` is dropped, so the error says
 *   `expected integer or string`);
 * - `nullable: true` adds `null` to the type;
 * - `format` is kept only for the formats `KNOWN_FORMATS` checks; the apiserver ignores formats it does not know;
 * - `description`, `default` and the `x-kubernetes-*` keywords are dropped (ajv does not need them).
 */

/** The parts of an OpenAPI v3 schema node a structural CRD schema uses. */
export interface OpenApiSchema {
  type?: string;
  properties?: Record<string, OpenApiSchema>;
  required?: string[];
  items?: OpenApiSchema;
  additionalProperties?: boolean | OpenApiSchema;
  nullable?: boolean;
  default?: unknown;
  format?: string;
  anyOf?: OpenApiSchema[];
  allOf?: OpenApiSchema[];
  oneOf?: OpenApiSchema[];
  not?: OpenApiSchema;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  [keyword: string]: unknown;
}

export type AjvSchema = Record<string, unknown>;

/** Formats `crd-formats.ts` checks; any other `format` is ignored, as the apiserver ignores unknown formats. */
export const KNOWN_FORMATS: ReadonlySet<string> = new Set(['int32', 'int64', 'float', 'double', 'date-time', 'date', 'byte']);

const DROPPED = new Set(['description', 'default', 'example', 'externalDocs', 'nullable', 'format']);
const SUBSCHEMA_LISTS = ['anyOf', 'allOf', 'oneOf'] as const;

export function toAjvSchema(node: OpenApiSchema): AjvSchema {
  const out: AjvSchema = {};
  for (const [keyword, value] of Object.entries(node)) {
    if (!DROPPED.has(keyword) && !keyword.startsWith('x-kubernetes-')) {
      out[keyword] = value;
    }
  }
  if (node.format !== undefined && KNOWN_FORMATS.has(node.format)) {
    out.format = node.format;
  }
  if (node['x-kubernetes-int-or-string'] === true) {
    out.type = ['integer', 'string'];
    delete out.anyOf;
  }
  if (node.nullable === true && typeof out.type === 'string') {
    out.type = [out.type, 'null'];
  }
  convertChildren(node, out);
  if (node.properties !== undefined && node.additionalProperties === undefined) {
    if (node['x-kubernetes-preserve-unknown-fields'] !== true) {
      out.additionalProperties = false;
    }
  }
  return out;
}

function convertChildren(node: OpenApiSchema, out: AjvSchema): void {
  if (node.properties !== undefined) {
    out.properties = Object.fromEntries(
      Object.entries(node.properties).map(([name, child]) => [name, toAjvSchema(child)]),
    );
  }
  if (node.items !== undefined) {
    out.items = toAjvSchema(node.items);
  }
  if (typeof node.additionalProperties === 'object') {
    out.additionalProperties = toAjvSchema(node.additionalProperties);
  }
  if (node.not !== undefined) {
    out.not = toAjvSchema(node.not);
  }
  for (const list of SUBSCHEMA_LISTS) {
    const schemas = out[list] === undefined ? undefined : node[list];
    if (schemas !== undefined) {
      out[list] = schemas.map(toAjvSchema);
    }
  }
}

/** The schema of field `key` of an object with schema `schema`: a property, or the value schema of a map. */
export function fieldSchema(schema: OpenApiSchema, key: string): OpenApiSchema | undefined {
  if (schema.properties !== undefined) {
    return Object.hasOwn(schema.properties, key) ? schema.properties[key] : undefined;
  }
  return typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined;
}
