/**
 * What Tekton's mutating webhook does to an object before the apiserver validates it against the CRD schema.
 * The webhook (knative.dev/pkg defaulting, `roundTripPatch`) decodes the object into its Go type and encodes it
 * again, which writes out every non-`omitempty` field, and those are exactly the fields the generated CRD schema
 * lists as `required`. So a Task step without `name` is stored as `name: ""` and accepted. We model it by filling
 * each missing required field with its Go zero value: `""`, `0`, `false`, or an object (itself filled). Lists, maps
 * and untyped fields are left missing: Go encodes nil slices and maps as null (pruned again) and Tekton's
 * ParamValue refuses to encode an empty value, so those stay errors, as they are on a cluster.
 * Returns a copy; never mutates `value`.
 */
import { fieldSchema, type OpenApiSchema } from './structural-schema.js';

export function fillRequired(value: unknown, schema: OpenApiSchema | undefined): unknown {
  if (schema === undefined || typeof value !== 'object' || value === null) {
    return value;
  }
  if (Array.isArray(value)) {
    return value.map((item: unknown) => fillRequired(item, schema.items));
  }
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const childSchema = fieldSchema(schema, key);
    Object.defineProperty(out, key, {
      value: fillRequired(child, childSchema),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  addZeroValues(out, schema);
  return out;
}

function addZeroValues(object: Record<string, unknown>, schema: OpenApiSchema): void {
  for (const field of schema.required ?? []) {
    if (!Object.hasOwn(object, field)) {
      const zero = goZeroValue(fieldSchema(schema, field));
      if (zero !== undefined) {
        object[field] = zero;
      }
    }
  }
}

/** The JSON a Go zero value of a field with this schema encodes to, or undefined when it is null or unknown. */
function goZeroValue(schema: OpenApiSchema | undefined): unknown {
  if (schema === undefined) {
    return undefined;
  }
  if (schema['x-kubernetes-int-or-string'] === true) {
    return 0;
  }
  switch (schema.type) {
    case 'string':
      return '';
    case 'integer':
    case 'number':
      return 0;
    case 'boolean':
      return false;
    case 'object': {
      if (schema.properties === undefined) {
        return undefined;
      }
      const object: Record<string, unknown> = {};
      addZeroValues(object, schema);
      return object;
    }
    default:
      return undefined;
  }
}
