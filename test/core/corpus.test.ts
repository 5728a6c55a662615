/**
 * Tekton's own examples/v1 as a conformance corpus (../shared/tekton/v1.15.0/examples/v1):
 *  - not opted in, every PipelineRun/TaskRun comes out of the rewrite as the very same object;
 *  - opted in (every string result stored by reference, or every result of any type), each run is either rewritten
 *    into objects that pass Tekton's CRD schemas with strict field validation, or refused with diagnostics that name
 *    object, field path and reason. Counts are logged (`npx ava --verbose`) and reported in the closing note.
 */
import test from 'ava';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { ANNOTATION_REFERENCE_RESULTS, ANNOTATION_RESULT_WORKSPACE } from '../../src/api/names.js';
import type { EmbeddedTask, KubeObject, PipelineSpec, TaskResult } from '../../src/api/tekton.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import type { RewriteOptions } from '../../src/core/options.js';
import { resolverFromObjects } from '../../src/core/resolver.js';
import { rewriteObject } from '../../src/core/rewrite.js';
import { RewriteError } from '../../src/errors.js';
import { validateWithEmbedded } from '../../src/schema/embedded-specs.js';
import { loadCrdValidator } from '../../src/schema/load-crds.js';
import { parseYamlDocuments } from '../../src/yaml/documents.js';

const TEKTON = '../shared/tekton/v1.15.0';
const CORPUS = join(TEKTON, 'examples/v1');

async function yamlFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await yamlFiles(path)));
    else if (entry.name.endsWith('.yaml')) out.push(path);
  }
  return out.sort();
}

const files = await yamlFiles(CORPUS);
const corpus = await Promise.all(
  files.map(async (file) => ({ file: relative(CORPUS, file), objects: parseYamlDocuments(await readFile(file, 'utf8'), file).map((d) => d.object as KubeObject) })),
);
const validator = await loadCrdValidator(join(TEKTON, 'crds'));
/**
 * Problems of the corpus itself, present before any rewrite. Tekton decodes embedded specs with Go's encoding/json,
 * which matches field names case-insensitively, so Tekton accepts `mountpath`; a schema check does not.
 */
const KNOWN_CORPUS_QUIRKS = [{ file: 'pipelineruns/beta/isolated-workspaces.yaml', message: 'unknown field "mountpath"' }];
const isRun = (o: KubeObject): boolean => o.kind === 'PipelineRun' || o.kind === 'TaskRun';
const options = (objects: KubeObject[]): RewriteOptions => ({
  config: parseConfig({}),
  featureFlags: parseFeatureFlags({ 'enable-api-fields': 'alpha', coschedule: 'workspaces' }),
  resolver: resolverFromObjects(objects),
});

test('the corpus is there and holds runs', (t) => {
  t.true(files.length > 60, `found ${files.length} files under ${CORPUS}`);
  t.true(corpus.flatMap((c) => c.objects).filter(isRun).length > 60);
});

test('not opted in: every run comes out as the very same object', (t) => {
  let runs = 0;
  for (const { file, objects } of corpus) {
    for (const run of objects.filter(isRun)) {
      const before = structuredClone(run);
      const result = rewriteObject(run, options(objects));
      t.is(result.object, run, `${file}: ${run.kind} ${run.metadata?.name ?? run.metadata?.generateName} unchanged`);
      t.false(result.changed);
      t.deepEqual(run, before);
      runs += 1;
    }
  }
  t.log(`${runs} runs from ${files.length} files passed through unchanged`);
});

/** Opts every object of a file in: string results only, or every result whatever its type. */
function optIn(objects: KubeObject[], all: boolean): KubeObject[] {
  const pick = (results: TaskResult[] | undefined): string => (results ?? []).filter((r) => all || (r.type ?? 'string') === 'string').filter((r) => r.value === undefined || all).map((r) => r.name).join(',');
  const annotate = (meta: { annotations?: Record<string, string> }, key: string, value: string): void => {
    if (value !== '') meta.annotations = { ...meta.annotations, [key]: value };
  };
  const optInSpec = (spec: PipelineSpec | undefined): void => {
    for (const pt of [...(spec?.tasks ?? []), ...(spec?.finally ?? [])]) {
      const ts = pt.taskSpec;
      if (ts && ts.steps) annotate((ts.metadata ??= {}), ANNOTATION_REFERENCE_RESULTS, pick(ts.results));
    }
  };
  return objects.map((original) => {
    const o = structuredClone(original);
    const meta = (o.metadata ??= {});
    const spec = (o.spec ?? {});
    if (o.kind === 'Task') annotate(meta, ANNOTATION_REFERENCE_RESULTS, pick(spec.results as TaskResult[]));
    if (o.kind === 'TaskRun' && spec.taskSpec) annotate(meta, ANNOTATION_REFERENCE_RESULTS, pick((spec.taskSpec as EmbeddedTask).results));
    if (o.kind === 'Pipeline') {
      annotate(meta, ANNOTATION_RESULT_WORKSPACE, 'tlr-results');
      optInSpec(spec);
    }
    if (o.kind === 'PipelineRun' && spec.pipelineSpec) {
      // Authors opt in where the pipeline is: a run of a referenced Pipeline inherits that Pipeline's annotation.
      annotate(meta, ANNOTATION_RESULT_WORKSPACE, 'tlr-results');
      optInSpec(spec.pipelineSpec as PipelineSpec | undefined);
    }
    return o;
  });
}

for (const all of [false, true]) {
  test(`opted in (${all ? 'every result' : 'every string result'}): rewritten runs pass the CRD schemas, or are refused with diagnostics`, (t) => {
    const counts = { rewritten: 0, unchanged: 0, refused: 0 };
    const reasons = new Map<string, number>();
    for (const { file, objects } of corpus) {
      const opted = optIn(objects, all);
      for (const run of opted.filter(isRun)) {
        const name = `${file}: ${run.kind} ${run.metadata?.name ?? run.metadata?.generateName}`;
        try {
          const result = rewriteObject(run, options(opted));
          counts[result.changed ? 'rewritten' : 'unchanged'] += 1;
          const problems = validateWithEmbedded(validator, result.object).filter((p) => !KNOWN_CORPUS_QUIRKS.some((q) => file === q.file && p.message === q.message));
          t.deepEqual(problems, [], `${name} and its embedded specs are valid after the rewrite`);
        } catch (error) {
          if (!(error instanceof RewriteError)) throw error;
          counts.refused += 1;
          for (const d of error.diagnostics.filter((x) => x.severity === 'error')) {
            t.regex(d.object, /^(PipelineRun|TaskRun) /, `${name}: diagnostic names the object`);
            t.regex(d.path, /^(spec|metadata)/, `${name}: diagnostic has a field path`);
            t.true(d.message.length > 40, `${name}: diagnostic explains itself`);
            const reason = d.message.replace(/"[^"]*"/g, '"…"').slice(0, 90);
            reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
          }
        }
      }
    }
    t.log(`rewritten ${counts.rewritten}, unchanged (no results to opt in) ${counts.unchanged}, refused ${counts.refused}`);
    for (const [reason, n] of reasons) t.log(`  refused x${n}: ${reason}`);
    // A floor against regressions: most of the corpus has no results at all, or uses them where values cannot go.
    t.true(counts.rewritten >= 12, `at least 12 runs rewritten, found ${counts.rewritten}`);
  });
}
