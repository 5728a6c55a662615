/**
 * What the apiserver does with `null`s before it validates a custom resource (apiextensions-apiserver's
 * defaulting/prunenulls.go): a `null` field whose schema is not `nullable` is replaced by the field's `default`, or
 * removed when it has none. So `emptyDir:` (null) in YAML is accepted where an object is expected. `null` items of
 * lists are left alone (and then fail validation). Returns a copy; never mutates `value`.
 */
import { fieldSchema, type OpenApiSchema } from './structural-schema.js';

export function pruneNulls(value: unknown, schema: OpenApiSchema | undefined): unknown {
  if (schema === undefined || typeof value !== 'object' || value === null) {
    return value;
  }
  if (Array.isArray(value)) {
    return value.map((item: unknown) => pruneNulls(item, schema.items));
  }
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
    const childSchema = fieldSchema(schema, key);
    if (child !== null || childSchema === undefined || childSchema.nullable === true) {
      setField(out, key, pruneNulls(child, childSchema));
    } else if (childSchema.default !== undefined) {
      setField(out, key, childSchema.default);
    }
  }
  return out;
}

/** Plain assignment would treat a `__proto__` key from YAML as the prototype. */
function setField(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
