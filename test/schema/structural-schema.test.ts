import test from 'ava';
import { toAjvSchema, type OpenApiSchema } from '../../src/schema/structural-schema.js';

test('objects with properties refuse unknown fields, at every level', (t) => {
  const schema: OpenApiSchema = {
    type: 'object',
    description: 'dropped',
    properties: { spec: { type: 'object', properties: { a: { type: 'string' } } } },
  };
  t.deepEqual(toAjvSchema(schema), {
    type: 'object',
    properties: { spec: { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false } },
    additionalProperties: false,
  });
});

test('preserve-unknown-fields nodes and maps keep unknown fields', (t) => {
  t.deepEqual(toAjvSchema({ 'x-kubernetes-preserve-unknown-fields': true }), {});
  t.deepEqual(
    toAjvSchema({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true, properties: { a: { type: 'string' } } }),
    { type: 'object', properties: { a: { type: 'string' } } },
  );
  t.deepEqual(toAjvSchema({ type: 'object', additionalProperties: { type: 'string' } }), {
    type: 'object',
    additionalProperties: { type: 'string' },
  });
});

test('int-or-string, nullable and formats', (t) => {
  t.deepEqual(
    toAjvSchema({ anyOf: [{ type: 'integer' }, { type: 'string' }], 'x-kubernetes-int-or-string': true, pattern: '^a' }),
    { type: ['integer', 'string'], pattern: '^a' },
  );
  t.deepEqual(toAjvSchema({ type: 'string', nullable: true }), { type: ['string', 'null'] });
  t.deepEqual(toAjvSchema({ type: 'integer', format: 'int32' }), { type: 'integer', format: 'int32' });
  t.deepEqual(toAjvSchema({ type: 'string', format: 'https://golang.org/pkg/time/#ParseDuration' }), { type: 'string' });
});

test('items, lists of schemas and required are kept', (t) => {
  t.deepEqual(
    toAjvSchema({ type: 'array', items: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } }),
    {
      type: 'array',
      items: { type: 'object', required: ['name'], properties: { name: { type: 'string' } }, additionalProperties: false },
    },
  );
});
