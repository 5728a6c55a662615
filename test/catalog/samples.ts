/**
 * The public catalog's sample PipelineRuns under Tekton's default feature flags, every task result stored by
 * reference: how many the rewrite (the webhook's function) accepts, and why it refuses the rest. Measured twice: as
 * the rewrite chooses the result workspace (a workspace the tasks already share, under coschedule: workspaces), and
 * with a volume of its own forced (the run names `tlr-results`), which is what every run got before.
 *
 *   node dist/test/catalog/samples.js <catalog checkout> [--json]
 *
 * Each rewritten run is checked against Tekton v1.15.0's CRD schemas (run from the repository root). Static, like
 * measure.ts: it says what admission decides, not that the runs' images then work.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeObject, Pipeline, PipelineRun, PipelineTask, Task, TaskResult } from '../../src/api/tekton.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { resolverFromObjects } from '../../src/core/resolver.js';
import { RewriteError } from '../../src/errors.js';
import { validateWithEmbedded } from '../../src/schema/embedded-specs.js';
import type { CrdValidator } from '../../src/schema/crd-validator.js';
import { loadCrdValidator } from '../../src/schema/load-crds.js';
import { latestTaskDirs } from './catalog.js';

function sampleFiles(dir: string): string[] {
  const samples = join(dir, 'samples');
  return existsSync(samples) ? readdirSync(samples).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(samples, f)) : [];
}

function documents(file: string): KubeObject[] {
  try {
    return parseAllDocuments(readFileSync(file, 'utf8'), { logLevel: 'error' }).map((d) => d.toJS() as KubeObject).filter((o) => typeof o === 'object' && o !== null);
  } catch {
    return [];
  }
}

/** Every result stored by reference (the question is where they go, not which). */
function allByReference<T extends { results?: TaskResult[] }>(spec: T | undefined): T | undefined {
  if (spec?.results === undefined) return spec;
  return { ...spec, results: spec.results.map((r) => ({ ...r, storage: 'reference' })) };
}

function withReferences(run: PipelineRun): PipelineRun {
  const spec = run.spec.pipelineSpec;
  if (spec === undefined) return run;
  const tasks = (list: PipelineTask[] | undefined): PipelineTask[] | undefined => list?.map((pt) => (pt.taskSpec ? { ...pt, taskSpec: allByReference(pt.taskSpec) } : pt));
  return { ...run, spec: { ...run.spec, pipelineSpec: { ...spec, tasks: tasks(spec.tasks), finally: tasks(spec.finally) } } };
}

/** What the rewrite decided (a refusal by its first error, names elided). */
type Outcome = string;

let validator: CrdValidator | undefined;

function decide(run: PipelineRun, stored: readonly KubeObject[], forceOwnVolume: boolean): Outcome {
  const resolver = resolverFromObjects(stored);
  const named: PipelineRun = forceOwnVolume ? { ...run, metadata: { ...run.metadata, annotations: { ...run.metadata?.annotations, 'tlr.dev/result-workspace': 'tlr-results' } } } : run;
  try {
    const result = rewritePipelineRun(withReferences(named), { config: parseConfig({}), featureFlags: parseFeatureFlags({}), resolver });
    if (!result.changed) return 'no results';
    // What the API server would store: valid against Tekton's CRD schemas, embedded specs included.
    const problems = validator ? validateWithEmbedded(validator, result.object) : [];
    if (problems.length > 0) return `rewritten but schema-invalid: ${JSON.stringify(problems[0]).slice(0, 90)}`;
    return result.diagnostics.some((d) => /share workspace/.test(d.message)) ? 'rewritten (shared workspace)' : 'rewritten';
  } catch (error) {
    if (!(error instanceof RewriteError)) return `threw: ${String(error)}`;
    const first = error.diagnostics.find((d) => d.severity === 'error')?.message ?? '';
    if (/would bind \d+ PersistentVolumeClaims/.test(first)) return 'refused: two PVCs under coschedule: workspaces';
    if (/but no task stores a result by reference/.test(first)) return 'no results';
    return `refused: ${first.replace(/"[^"]*"/g, '"…"').slice(0, 90)}`;
  }
}

const marked = (o: KubeObject): KubeObject => (o.kind === 'Task' ? ({ ...o, spec: allByReference((o as Task).spec) }) : o);

/** A sample run with the Pipeline it names from the same file embedded (its tasks then marked like the rest). */
function embeddedRun(run: PipelineRun, stored: readonly KubeObject[]): PipelineRun {
  const name = run.spec.pipelineRef?.name;
  const pipeline = stored.find((o) => o.kind === 'Pipeline' && o.metadata?.name === name) as Pipeline | undefined;
  if (pipeline === undefined) return run;
  const { pipelineRef: _ref, ...spec } = run.spec;
  return { ...run, spec: { ...spec, pipelineSpec: pipeline.spec } };
}

/** Both outcomes of one sample run: now, and with a volume of its own (before). */
function measureRun(run: PipelineRun, stored: readonly KubeObject[]): { now: Outcome; before: Outcome } {
  const embedded = embeddedRun(run, stored);
  // A sample Tekton v1.15.0 would not admit as written (its own schema problem) says nothing about us.
  const invalid = validator ? validateWithEmbedded(validator, embedded) : [];
  if (invalid.length > 0) {
    const outcome = `not valid as written against v1.15.0's CRDs (${invalid[0]?.path ?? ''})`;
    return { now: outcome, before: outcome };
  }
  const now = decide(embedded, stored, false);
  return { now, before: now === 'no results' ? now : decide(embedded, stored, true) };
}

async function main(): Promise<void> {
  const [catalog, flag] = process.argv.slice(2);
  if (catalog === undefined) throw new Error('usage: node dist/test/catalog/samples.js <catalog checkout> [--json]');
  validator = await loadCrdValidator(join('../shared/tekton/v1.15.0', 'crds'));
  const latest = latestTaskDirs(catalog);
  // Sample runs name catalog Tasks by name: every latest Task, each marked to store its results by reference.
  const catalogTasks = latest.flatMap(({ name, dir }) => documents(join(dir, `${name}.yaml`))).filter((o) => o.kind === 'Task').map(marked);
  const tallies = { shared: new Map<Outcome, number>(), own: new Map<Outcome, number>() };
  let runs = 0;
  for (const file of latest.flatMap((t) => sampleFiles(t.dir))) {
    const docs = documents(file);
    const stored = [...docs.filter((o) => o.kind === 'Pipeline' || o.kind === 'Task').map(marked), ...catalogTasks];
    for (const run of docs.filter((o) => o.kind === 'PipelineRun' && o.apiVersion.startsWith('tekton.dev/'))) {
      runs++;
      const { now, before } = measureRun(run as PipelineRun, stored);
      // What needs a look (ours, not the sample's): named with the file.
      if (/^(rewritten but|threw)/.test(now)) process.stderr.write(`${file}: ${now}\n`);
      tallies.shared.set(now, (tallies.shared.get(now) ?? 0) + 1);
      tallies.own.set(before, (tallies.own.get(before) ?? 0) + 1);
    }
  }
  const table = (m: Map<Outcome, number>): Array<[Outcome, number]> => [...m.entries()].sort((a, b) => b[1] - a[1]);
  if (flag === '--json') {
    process.stdout.write(`${JSON.stringify({ runs, shared: Object.fromEntries(table(tallies.shared)), own: Object.fromEntries(table(tallies.own)) }, null, 2)}\n`);
    return;
  }
  process.stdout.write(`${runs} sample PipelineRuns (latest version of each catalog Task), every result by reference, Tekton's default flags\n`);
  for (const [key, title] of [['own', 'a result volume of its own (before)'], ['shared', 'the rewrite choosing (now)']] as const) {
    process.stdout.write(`\n${title}:\n`);
    for (const [outcome, n] of table(tallies[key])) process.stdout.write(`  ${String(n).padStart(4)}  ${outcome}\n`);
  }
}

await main();
