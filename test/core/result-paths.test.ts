/**
 * The producer rewrite's one combined matcher for result paths, checked against the per-name patterns it replaced
 * (one regex pass per result name, O(results × text)) as an oracle, on generated texts and name sets: the same
 * replacements, in one pass whatever the number of names.
 */
import test from 'ava';
import fc from 'fast-check';
import { forEachResultPath, replaceResultPaths } from '../../src/core/variables.js';

/** The old rewrite, name by name (its pattern as it was). */
function oracle(text: string, names: readonly string[], replacement: (name: string) => string): string {
  let out = text;
  for (const name of names) {
    const n = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const pattern = new RegExp(`\\$\\(results(?:\\.${n}|\\[(["'])${n}\\1\\])\\.path\\)|/tekton/results/${n}(?![-A-Za-z0-9_.])`, 'g');
    out = out.replace(pattern, () => replacement(name));
  }
  return out;
}

const NAMES = ['out', 'out.txt', 'a.b', 'a', 'b-2', 'x_y', 'path', 'r1'];
const piece = fc.oneof(
  fc.constantFrom(...NAMES).map((n) => `$(results.${n}.path)`),
  fc.constantFrom(...NAMES).map((n) => `$(results["${n}"].path)`),
  fc.constantFrom(...NAMES).map((n) => `$(results['${n}'].path)`),
  fc.constantFrom(...NAMES).map((n) => `/tekton/results/${n}`),
  fc.constantFrom('/', '.', '-', '_', ' ', '$(', ')', '"', "'", '[', ']', 'results', '.path', '/tekton/results/', '$(results.'),
  fc.string({ maxLength: 4 }),
);

test('the combined matcher replaces exactly what the per-name patterns replaced', (t) => {
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 20 }).map((p) => p.join('')), fc.uniqueArray(fc.constantFrom(...NAMES), { maxLength: 5 }), (text, names) => {
      const to = (name: string): string => `<${name}>`;
      return replaceResultPaths(text, new Set(names), to) === oracle(text, names, to);
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

test('every spelling of a path is found, and nothing else: the literal form takes the longest name', (t) => {
  const found: string[] = [];
  forEachResultPath('$(results.a.b.path) $(results["c"].path) $(results[\'d\'].path) /tekton/results/out.txt/x $(results.e) /tekton/results/', (n) => found.push(n));
  t.deepEqual(found, ['a.b', 'c', 'd', 'out.txt']);
  t.is(replaceResultPaths('> /tekton/results/out.txt > /tekton/results/out', new Set(['out']), () => 'V'), '> /tekton/results/out.txt > V');
});

test('5,000 names and a text naming each: every path replaced, one pass', (t) => {
  const names = Array.from({ length: 5000 }, (_, i) => `r${i}`);
  const text = names.map((n) => `echo > $(results.${n}.path)`).join('\n');
  const out = replaceResultPaths(text, new Set(names), (n) => `/vol/${n}`);
  t.is(out, names.map((n) => `echo > /vol/${n}`).join('\n'));
});
