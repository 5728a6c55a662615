import test from 'ava';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TlrError } from '../../src/errors.js';
import { pathSegments, parseYamlDocuments, readYamlFile, stringifyYamlDocuments } from '../../src/yaml/documents.js';

function yamlError(t: import('ava').ExecutionContext, text: string): string {
  const error = t.throws(() => parseYamlDocuments(text, 'in.yaml'), { instanceOf: TlrError });
  t.is(error?.code, 'E_YAML');
  return error?.message ?? '';
}

test('each non-empty document becomes an object with its file and first content line', (t) => {
  const text = [
    '# leading comment',
    '---',
    '---',
    '# only a comment',
    '---',
    'apiVersion: v1',
    'kind: ConfigMap',
    'metadata: {name: a}',
    '---',
    '',
    '---',
    '~',
    '...',
    '---',
    'apiVersion: tekton.dev/v1',
    'kind: Task',
    '',
  ].join('\n');
  const docs = parseYamlDocuments(text, 'multi.yaml').map(({ locate: _locate, ...doc }) => doc);
  t.deepEqual(docs, [
    { object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' } }, file: 'multi.yaml', line: 6 },
    { object: { apiVersion: 'tekton.dev/v1', kind: 'Task' }, file: 'multi.yaml', line: 15 },
  ]);
});

test('an empty file has no documents', (t) => {
  t.deepEqual(parseYamlDocuments('', 'empty.yaml'), []);
  t.deepEqual(parseYamlDocuments('# nothing\n---\n', 'empty.yaml'), []);
});

const malformed: Array<[string, string, string]> = [
  ['a nested compact mapping', 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: a: b\n', '4:9: Nested mappings are not allowed in compact mappings'],
  ['a tab as indentation', 'apiVersion: v1\nkind: Pod\nspec:\n\targs: 1\n', '4:1: Tabs are not allowed as indentation'],
  ['an unclosed flow sequence', 'apiVersion: v1\nkind: Pod\nspec:\n  args: [a, b\n', '5:1: Flow sequence in block collection must be sufficiently indented and end with a ]'],
];
for (const [name, text, expected] of malformed) {
  test(`malformed YAML (${name}) is E_YAML with file:line:col`, (t) => {
    t.is(yamlError(t, text), `in.yaml:${expected}`);
  });
}

test('a duplicate key is E_YAML at the second occurrence', (t) => {
  t.is(yamlError(t, 'apiVersion: v1\nkind: Pod\nkind: Task\n'), 'in.yaml:3:1: Map keys must be unique');
});

test('every error of the file is reported, one per line', (t) => {
  const message = yamlError(t, 'apiVersion: v1\nkind: A\nkind: B\n---\n- a\n---\napiVersion: v1\nkind: C\na: 1\na: 2\n');
  t.deepEqual(message.split('\n'), [
    'in.yaml:3:1: Map keys must be unique',
    'in.yaml:5: expected a Kubernetes object (a mapping with apiVersion and kind), found a list',
    'in.yaml:10:1: Map keys must be unique',
  ]);
});

const notObjects: Array<[string, string, string]> = [
  ['a top-level list', '- apiVersion: v1\n  kind: Pod\n', 'found a list'],
  ['a string', 'hello\n', 'found a string'],
  ['a number', '42\n', 'found a number'],
  ['a boolean', 'true\n', 'found a boolean'],
  ['a mapping without kind', 'apiVersion: v1\n', 'found a mapping without string kind'],
  ['a mapping without either', 'metadata: {}\n', 'found a mapping without string apiVersion and kind'],
  ['a non-string apiVersion', 'apiVersion: 1\nkind: Pod\n', 'found a mapping without string apiVersion'],
];
for (const [name, text, found] of notObjects) {
  test(`a document that is ${name} is refused`, (t) => {
    t.is(yamlError(t, text), `in.yaml:1: expected a Kubernetes object (a mapping with apiVersion and kind), ${found}`);
  });
}

test('a mapping used as a key is refused with its position', (t) => {
  t.is(yamlError(t, 'apiVersion: v1\nkind: Pod\nx: {{y}}\n'), 'in.yaml:3:5: a mapping key must be a scalar, found a mapping');
});

test('plain scalars resolve as kubectl resolves them (YAML 1.1, timestamps stay strings)', (t) => {
  const [doc] = parseYamlDocuments(
    'apiVersion: v1\nkind: X\nyes: yes\noff: off\nmode: 0755\nhex: 0x1F\nwhen: 2024-01-31\ntime: 1:30\nquoted: "yes"\n',
    'in.yaml',
  );
  t.deepEqual(doc?.object, {
    apiVersion: 'v1',
    kind: 'X',
    true: true,
    false: false,
    mode: 493,
    hex: 31,
    when: '2024-01-31',
    time: '1:30',
    quoted: 'yes',
  });
});

test('stringify writes ---separated documents that parse back to the same objects', (t) => {
  const objects = [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a' }, data: { flag: 'yes', mode: '0755', n: '1' } },
    { apiVersion: 'tekton.dev/v1', kind: 'Task', spec: { steps: [{ script: '#!/bin/sh\necho hi\n' }] } },
  ];
  const text = stringifyYamlDocuments(objects);
  t.is(text.match(/^---$/gm)?.length, 1);
  t.regex(text, /flag: "yes"/);
  t.regex(text, /mode: "0755"/);
  t.regex(text, /script: \|/);
  t.deepEqual(
    parseYamlDocuments(text, 'out.yaml').map((d) => d.object),
    objects,
  );
});

test('stringify never folds long lines', (t) => {
  const long = `echo ${'x'.repeat(300)} ${'y'.repeat(300)}`;
  const text = stringifyYamlDocuments([{ apiVersion: 'v1', kind: 'X', script: long }]);
  t.true(text.split('\n').some((line) => line === `script: ${long}`));
});

test('readYamlFile reads and parses a file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tlr-yaml-'));
  const file = join(dir, 'a.yaml');
  await writeFile(file, 'apiVersion: v1\nkind: Pod\n');
  t.deepEqual((await readYamlFile(file)).map(({ locate: _locate, ...doc }) => doc), [{ object: { apiVersion: 'v1', kind: 'Pod' }, file, line: 1 }]);
});

test('readYamlFile on a missing file is E_INPUT "no such file"', async (t) => {
  const file = join(tmpdir(), 'tlr-does-not-exist', 'x.yaml');
  const error = await t.throwsAsync(readYamlFile(file), { instanceOf: TlrError });
  t.is(error?.code, 'E_INPUT');
  t.is(error?.message, `${file}: no such file`);
});

test('a field path is located at its node (line and column, 1-based), or at its deepest part the file holds', (t) => {
  const text = ['apiVersion: tekton.dev/v1', 'kind: Task', 'metadata:', '  annotations: {tlr.dev/x: "1"}', 'spec:', '  steps:', '    - name: a', '      image: bash', ''].join('\n');
  const [doc] = parseYamlDocuments(text, 't.yaml');
  t.deepEqual(doc?.locate?.('spec.steps[0].image'), { line: 8, col: 14 });
  t.deepEqual(doc?.locate?.('metadata.annotations[tlr.dev/x]'), { line: 4, col: 28 });
  t.deepEqual(doc?.locate?.('spec.steps[3].args[1]'), { line: 7, col: 5 }, 'steps: no [3], so the list');
  t.deepEqual(doc?.locate?.('spec.taskRef (Task "x") spec.steps[0]'), { line: 6, col: 3 }, 'up to the first part that is no field path: spec (taskRef is not in the file)');
  t.deepEqual(doc?.locate?.(''), { line: 1, col: 1 });
  t.deepEqual(pathSegments('a.b[0][tlr.dev/x].c-d'), ['a', 'b', 0, 'tlr.dev/x', 'c-d']);
});

test('after the first syntax error only a count of the rest (the parser lost its place); Tekton\'s [0] unquoted in a flow mapping is named', (t) => {
  const text = 'apiVersion: v1\nkind: PipelineRun\nspec:\n  v: {a: $(tasks.t.results.r[0]), b: 1}\n  c: 2\n';
  t.deepEqual(yamlError(t, text).split('\n'), [
    'in.yaml:4:29: Unexpected flow-seq-start at node end; inside a flow collection ({...} or [...]) a value holding [ ] { } or , must be quoted: write "$(tasks.t.results.r[0])", not $(tasks.t.results.r[0])',
    'in.yaml:4: and 11 more syntax error(s) in this document after this one, most likely caused by it',
  ]);
  // Quoted, it is the text Tekton reads.
  t.like(parseYamlDocuments(text.replace('$(tasks.t.results.r[0])', '"$(tasks.t.results.r[0])"'), 'in.yaml')[0]?.object, { spec: { v: { a: '$(tasks.t.results.r[0])' } } });
});
