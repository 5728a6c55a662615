import test from 'ava';
import { pointerToFieldPath } from '../../src/schema/field-path.js';
import { fillRequired } from '../../src/schema/fill-required.js';
import { pruneNulls } from '../../src/schema/prune-nulls.js';
import type { OpenApiSchema } from '../../src/schema/structural-schema.js';

const schema: OpenApiSchema = {
  type: 'object',
  properties: {
    steps: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'port', 'resources', 'args', 'value'],
        properties: {
          name: { type: 'string' },
          port: { 'x-kubernetes-int-or-string': true },
          resources: { type: 'object', required: ['limit'], properties: { limit: { type: 'integer' } } },
          args: { type: 'array', items: { type: 'string' } },
          value: { 'x-kubernetes-preserve-unknown-fields': true },
          note: { type: 'string', nullable: true },
          mode: { type: 'string', default: 'fast' },
        },
      },
    },
    labels: { type: 'object', additionalProperties: { type: 'string' } },
  },
};

test('pruneNulls drops non-nullable nulls, defaults them when it can, keeps nullable ones and list items', (t) => {
  const input = { steps: [{ name: null, note: null, mode: null }, null], labels: { a: null }, unknown: null };
  t.deepEqual(pruneNulls(input, schema), { steps: [{ note: null, mode: 'fast' }, null], labels: {}, unknown: null });
  t.deepEqual(input, { steps: [{ name: null, note: null, mode: null }, null], labels: { a: null }, unknown: null });
});

test('fillRequired writes Go zero values for missing scalars and objects, not for lists or untyped fields', (t) => {
  const input = { steps: [{}, { name: 'b', port: 'http', resources: { limit: 2 } }] };
  t.deepEqual(fillRequired(input, schema), {
    steps: [
      { name: '', port: 0, resources: { limit: 0 } },
      { name: 'b', port: 'http', resources: { limit: 2 } },
    ],
  });
  t.deepEqual(input, { steps: [{}, { name: 'b', port: 'http', resources: { limit: 2 } }] });
});

test('field paths: dots for fields, brackets for indexes and keys that are not identifiers', (t) => {
  const data = { spec: { tasks: [{}, {}, { taskSpec: { steps: [{ args: ['a', 'b'] }] } }] }, labels: { 'a/b': 'x' } };
  t.is(pointerToFieldPath(data, '/spec/tasks/2/taskSpec/steps/0/args/1'), 'spec.tasks[2].taskSpec.steps[0].args[1]');
  t.is(pointerToFieldPath(data, '/labels/a~1b'), 'labels[a/b]');
  t.is(pointerToFieldPath(data, ''), '');
});
