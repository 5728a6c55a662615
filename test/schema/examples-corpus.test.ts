/**
 * Tekton's own examples (examples/v1 of the v1.15.0 release, every file, recursively) are the conformance corpus:
 * each document parses, and each one of a kind a Tekton CRD serves validates with no problem.
 */
import test from 'ava';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createCrdValidator, type CrdValidator } from '../../src/schema/crd-validator.js';
import { loadCrdValidator } from '../../src/schema/load-crds.js';
import { readYamlFile, type YamlDocument } from '../../src/yaml/documents.js';
import { CRD_DIR, EXAMPLES_DIR } from './tekton-release.js';

interface Corpus {
  readonly files: string[];
  readonly documents: YamlDocument[];
}

async function readCorpus(): Promise<Corpus> {
  const entries = await readdir(EXAMPLES_DIR, { recursive: true });
  const files = entries.filter((name) => name.endsWith('.yaml')).sort();
  const documents: YamlDocument[] = [];
  for (const file of files) {
    documents.push(...(await readYamlFile(join(EXAMPLES_DIR, file))));
  }
  return { files, documents };
}

const corpus = readCorpus();

function typeOf(doc: YamlDocument): { apiVersion: string; kind: string } {
  return doc.object as { apiVersion: string; kind: string };
}

function served(validator: CrdValidator, docs: YamlDocument[]): YamlDocument[] {
  return docs.filter((doc) => validator.serves(typeOf(doc).apiVersion, typeOf(doc).kind));
}

function failures(validator: CrdValidator, docs: YamlDocument[]): string[] {
  return docs.flatMap((doc) =>
    validator.validate(doc.object).map((p) => `${doc.file}:${doc.line}: ${typeOf(doc).kind}: ${p.path}: ${p.message}`),
  );
}

test('every example file parses', async (t) => {
  const { files, documents } = await corpus;
  t.true(files.length >= 150, `only ${files.length} files under ${EXAMPLES_DIR}`);
  t.log(`${files.length} files, ${documents.length} documents`);
  const tekton = documents.filter((d) => typeOf(d).apiVersion.startsWith('tekton.dev/'));
  t.true(tekton.length >= 250);
});

test('every example of a kind with a CRD validates with no problem', async (t) => {
  const [{ documents }, validator] = await Promise.all([corpus, loadCrdValidator(CRD_DIR)]);
  const checked = served(validator, documents);
  t.log(`${checked.length} of ${documents.length} documents validated against the CRDs`);
  t.true(checked.length >= 260);
  for (const version of ['tekton.dev/v1', 'tekton.dev/v1beta1']) {
    const unchecked = documents.filter((d) => typeOf(d).apiVersion === version && !checked.includes(d));
    t.deepEqual(unchecked.map((d) => `${d.file}:${d.line}`), [], `${version} documents without a CRD`);
  }
  t.deepEqual(failures(validator, checked), []);
});

test('the check is not vacuous: an unknown spec field in any example is caught', async (t) => {
  const [{ documents }, validator] = await Promise.all([corpus, loadCrdValidator(CRD_DIR)]);
  const missed = served(validator, documents).filter((doc) => {
    const object = doc.object as { spec?: Record<string, unknown> };
    const probed = { ...object, spec: { ...object.spec, tlrProbe: true } };
    const found = validator.validate(probed);
    return found.length !== 1 || found[0]?.path !== 'spec.tlrProbe' || found[0].message !== 'unknown field "tlrProbe"';
  });
  t.deepEqual(missed.map((d) => `${d.file}:${d.line}`), []);
});

test('against the bare CRDs (no Tekton webhook), only the unnamed steps of two example Tasks fail', async (t) => {
  // The v1 Task CRD lists steps[].name as required (Step.Name has no omitempty). On a cluster, Tekton's defaulting
  // webhook round-trips the Task through Go and writes `name: ""` before the apiserver validates, so they pass.
  const { documents } = await corpus;
  const crds = (await readdir(CRD_DIR)).filter((f) => f.endsWith('.yaml'));
  const crdObjects = (await Promise.all(crds.map((f) => readYamlFile(join(CRD_DIR, f))))).flat().map((d) => d.object);
  const bare = createCrdValidator(crdObjects, { webhookRoundTrip: false });
  const file = join(EXAMPLES_DIR, 'pipelineruns/optional-workspaces.yaml');
  t.deepEqual(failures(bare, served(bare, documents)), [
    `${file}:9: Task: spec.steps[0].name: missing required field "name"`,
    `${file}:34: Task: spec.steps[0].name: missing required field "name"`,
  ]);
});
