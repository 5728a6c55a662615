import test from 'ava';
import { clone, forEachString, forEachText, mapStrings, mapText } from '../../src/core/json-walk.js';

const SAMPLE = { spec: { steps: [{ name: 's', args: ['a', 'b'] }], 'tlr.dev/x': 'y', n: 1, ok: true, none: null } };

test('clone copies deeply, keeps Dates as Dates and never turns a __proto__ key into a prototype', (t) => {
  const date = new Date('2026-01-02T03:04:05Z');
  const input = { ...SAMPLE, when: date, hostile: JSON.parse('{"__proto__": {"polluted": true}, "k": "v"}') as Record<string, unknown> };
  const out = clone(input);
  t.deepEqual(out, input);
  t.not(out.spec, input.spec);
  t.not(out.spec.steps[0], input.spec.steps[0]);
  t.true(out.when instanceof Date);
  t.is(out.when.getTime(), date.getTime());
  t.is(Object.getPrototypeOf(out.hostile), Object.prototype);
  t.is((out.hostile as { polluted?: unknown }).polluted, undefined);
  t.deepEqual(Object.keys(out.hostile), ['__proto__', 'k']);
});

test('mapText and mapStrings share unchanged subtrees and copy only changed paths', (t) => {
  for (const out of [mapText(SAMPLE, (s) => (s === 'b' ? 'B' : s)), mapStrings(SAMPLE, '', (s) => (s === 'b' ? 'B' : s))]) {
    t.deepEqual(out.spec.steps[0]?.args, ['a', 'B']);
    t.is(SAMPLE.spec.steps[0]?.args[1], 'b', 'input untouched');
    t.not(out, SAMPLE);
    t.is(out.spec['tlr.dev/x'], 'y');
  }
  t.is(mapText(SAMPLE, (s) => s), SAMPLE, 'nothing changed: the very same object');
});

test('mapStrings and forEachString give field paths on demand, Kubernetes-style', (t) => {
  const paths: string[] = [];
  forEachString(SAMPLE, 'obj', (_text, at) => paths.push(at()));
  t.deepEqual(paths, ['obj.spec.steps[0].name', 'obj.spec.steps[0].args[0]', 'obj.spec.steps[0].args[1]', 'obj.spec[tlr.dev/x]']);
  const texts: string[] = [];
  forEachText(SAMPLE, (text) => texts.push(text));
  t.deepEqual(texts, ['s', 'a', 'b', 'y']);
  const seen: string[] = [];
  mapStrings(SAMPLE, 'obj', (text, at) => {
    if (text === 'y') seen.push(at());
    return text;
  });
  t.deepEqual(seen, ['obj.spec[tlr.dev/x]']);
});
