/**
 * tlr reads YAML as kubectl does and writes YAML kubectl reads back unchanged. The expected values are kubectl's own
 * (sigs.k8s.io/yaml on go-yaml v2, through test/yaml/kubectl-oracle; see test/fixtures/kubectl-yaml/README.md):
 * every scalar of the table, as a value and as a key, and every document of Tekton v1.15.0's examples and of our
 * fixture Tasks; then what tlr writes (and what `tlr convert` writes for objects that did not opt in) reads back
 * the same.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { convertOnly } from '../../src/core/rewrite.js';
import type { KubeObject } from '../../src/api/tekton.js';
import { TlrError } from '../../src/errors.js';
import { parseYamlDocuments, stringifyYamlDocuments } from '../../src/yaml/documents.js';
import { canonicalHash, corpusFiles, FIXTURES } from './kubectl-corpus.js';

type Expected = string | { error: string };
const SCALARS = JSON.parse(readFileSync(`${FIXTURES}/scalars.json`, 'utf8')) as Array<[string, Expected, Expected]>;
const CORPUS = JSON.parse(readFileSync(`${FIXTURES}/corpus.json`, 'utf8')) as Record<string, Expected[]>;
const HEADER = 'apiVersion: v1\nkind: X\n';

/** The object tlr reads from `text` without its header, or the error. */
function read(text: string): { value?: Record<string, unknown>; error?: string } {
  try {
    const [doc] = parseYamlDocuments(`${HEADER}${text}`, 'in.yaml');
    const { apiVersion: _a, kind: _k, ...rest } = doc?.object as Record<string, unknown>;
    return { value: rest };
  } catch (error) {
    if (!(error instanceof TlrError)) throw error;
    return { error: error.message };
  }
}

/**
 * What tlr must read, given kubectl's JSON: the same value; an error where kubectl errs; an error too for an
 * integer a JavaScript number cannot hold exactly (tlr refuses it rather than change it).
 */
function mustRead(expected: Expected): { value?: unknown; error?: true } {
  if (typeof expected !== 'string') return { error: true };
  // An integer JSON token that a JavaScript number would print otherwise: tlr cannot carry it.
  const exactness = [...expected.matchAll(/[:[,](-?\d+)(?=[,}\]])/g)].every(([, digits]) => digits === '-0' || String(Number(digits)) === digits);
  return exactness ? { value: JSON.parse(expected) as unknown } : { error: true };
}

test(`${SCALARS.length} plain scalars, as values and as keys, are read as kubectl reads them`, (t) => {
  const wrong: string[] = [];
  for (const [scalar, asValue, asKey] of SCALARS) {
    for (const [text, expected] of [[`v: ${scalar}\n`, asValue], [`${scalar}: k\n`, asKey]] as const) {
      const want = mustRead(expected);
      const got = read(text);
      const same = want.error ? got.error !== undefined : got.error === undefined && canonicalHash(got.value) === canonicalHash(want.value);
      if (!same) wrong.push(`${JSON.stringify(text)}: kubectl ${JSON.stringify(expected)}, tlr ${JSON.stringify(got.error ?? got.value)}`);
    }
  }
  t.deepEqual(wrong, []);
});

test('every scalar as a string is written so that kubectl reads that string back', (t) => {
  const wrong: string[] = [];
  for (const [scalar, asValue] of SCALARS) {
    const written = stringifyYamlDocuments([{ apiVersion: 'v1', kind: 'X', v: scalar }]);
    const kubectlReadsPlainAsString = typeof asValue === 'string' && (JSON.parse(asValue) as { v: unknown }).v === scalar;
    if (written.includes(`\nv: ${scalar}\n`) && !kubectlReadsPlainAsString) wrong.push(`${scalar} written plain; kubectl reads ${JSON.stringify(asValue)}`);
    if (read(written.slice(HEADER.length)).value?.v !== scalar) wrong.push(`${scalar} does not read back`);
  }
  t.deepEqual(wrong, []);
});

test('the issue\'s cases: ".", "-.", "+.", "._", "0x_" stay strings; a quoted "0o17" is written quoted', (t) => {
  for (const s of ['.', '-.', '+.', '._', '0x_']) {
    t.deepEqual(read(`v: ${s}\n`).value, { v: s });
    t.is(stringifyYamlDocuments([{ v: s }]), `v: ${s}\n`, 'written back as it was, not .nan');
  }
  t.deepEqual(read('v: "0o17"\n').value, { v: '0o17' });
  t.is(stringifyYamlDocuments([{ v: '0o17' }]), 'v: "0o17"\n');
  t.deepEqual(read('v: 0o17\n').value, { v: 15 });
});

test('what JSON (or kubectl) cannot hold is an error naming the line, not a changed value', (t) => {
  t.is(read('a: 1\nv: .nan\n').error, 'in.yaml:4:4: .nan is not a number JSON can hold (kubectl fails with "json: unsupported value: NaN"); quote it if it is a string');
  t.regex(read('v: 12345678901234567891\n').error ?? '', /^in\.yaml:3:4: the integer 12345678901234567891 cannot be carried exactly/);
  t.regex(read('~: x\n').error ?? '', /^in\.yaml:3:1: a mapping key must not be null/);
});

const files = corpusFiles();

test(`the corpus (${files.length} files: Tekton v1.15.0's examples and our fixture Tasks) is read as kubectl reads it`, (t) => {
  t.true(files.length > 150, 'the Tekton examples are there (../shared/tekton/v1.15.0)');
  t.deepEqual(files.map((f) => f.name).filter((n) => CORPUS[n] === undefined), [], 'every corpus file has expected values (regenerate them)');
  for (const { name, path } of files) {
    const docs = parseYamlDocuments(readFileSync(path, 'utf8'), name);
    t.deepEqual(docs.map((d) => canonicalHash(d.object)), CORPUS[name], name);
  }
});

test('written back by tlr, and through `tlr convert` (nothing opted in), every corpus document reads the same', (t) => {
  for (const { name, path } of files) {
    const objects = parseYamlDocuments(readFileSync(path, 'utf8'), name).map((d) => d.object);
    const converted = objects.map((o) => convertOnly(o as KubeObject).object);
    for (const out of [objects, converted]) {
      const back = parseYamlDocuments(stringifyYamlDocuments(out), name);
      t.deepEqual(back.map((d) => canonicalHash(d.object)), CORPUS[name], name);
    }
  }
});
