import test from 'ava';
import { pointerToken } from '../../src/core/json-walk.js';
import { diffPatch } from '../../src/webhook/json-patch.js';
import { applyPatch } from './apply-patch.js';

test('pointer tokens escape ~ and / (RFC 6901)', (t) => {
  t.is(pointerToken('tlr.dev/hold'), 'tlr.dev~1hold');
  t.is(pointerToken('a~/b'), 'a~0~1b');
  t.is(pointerToken(3), '3');
});

const cases: Array<{ name: string; original: unknown; desired: unknown; depth: number; ops: string[] }> = [
  { name: 'equal documents need no ops', original: { a: { b: 1 } }, desired: { a: { b: 1 } }, depth: 2, ops: [] },
  {
    name: 'members differing below the depth are replaced whole',
    original: { metadata: { name: 'x', annotations: { a: '1' } }, spec: { tasks: [1] } },
    desired: { metadata: { name: 'x', annotations: { a: '1', 'tlr.dev/hold': 'controller' } }, spec: { tasks: [1], status: 'PipelineRunPending' } },
    depth: 2,
    ops: ['add /metadata/annotations', 'add /spec/status'],
  },
  {
    name: 'members missing from the desired document are removed, with escaped keys',
    original: { spec: { 'a/b': 1, keep: 2 } },
    desired: { spec: { keep: 2 } },
    depth: 2,
    ops: ['remove /spec/a~1b'],
  },
  { name: 'a missing parent is added whole', original: { kind: 'X' }, desired: { kind: 'X', metadata: { annotations: { a: 'b' } } }, depth: 2, ops: ['add /metadata'] },
  { name: 'depth 0 replaces the root', original: { a: 1 }, desired: { a: 2 }, depth: 0, ops: ['replace '] },
];

for (const c of cases) {
  test(`diffPatch: ${c.name}, and the patch applies`, (t) => {
    const ops = diffPatch(c.original, c.desired, c.depth);
    t.deepEqual(ops.map((op) => `${op.op} ${op.path}`), c.ops);
    t.deepEqual(applyPatch(c.original, ops), c.desired);
  });
}
