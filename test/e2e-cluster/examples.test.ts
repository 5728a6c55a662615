/**
 * Every example, created with kubectl as a user would, run by stock Tekton v1.15.0 on the real cluster to Succeeded;
 * each consumer records the sha256 of the value (or file) it received, which must equal the sha256 the producer's
 * seal step put in its reference: the consumer saw exactly the bytes produced. And the control: the same pipeline
 * with plain Tekton results fails as Tekton says it does, which proves the example exercises the limit.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { connectCluster, testNamespace, type E2eCluster } from '../support/node/e2e-cluster.js';
import { create, failedStepLog, referenceOf, report, resultOf, succeeded, taskRunOf, waitDone } from '../support/node/runs.js';
import { enableAlphaFields } from '../support/node/tekton-flags.js';
import { tlr } from '../support/node/tlr-cli.js';

interface ExampleCase {
  readonly dir: string;
  /** Files applied before the run (stored Pipelines and Tasks). */
  readonly stored?: readonly string[];
  readonly producer: { readonly task: string; readonly result: string };
  readonly consumer: { readonly task: string; readonly values: Readonly<Record<string, string>> };
  /** What Tekton says when the same run stores its results the classic way. */
  readonly control: RegExp;
  /** Pipeline results `tlr fetch` must give, exactly (elements of structured results). */
  readonly fetched?: Readonly<Record<string, string>>;
}

/**
 * What Tekton v1.15.0's entrypoint logs when a step's results do not fit its termination message
 * (pkg/termination/write.go); the TaskRun then says the step "exited with code 1".
 */
const TOO_LARGE = /Termination message is above max allowed size 4096, caused by large task result/;

const EXAMPLES: readonly ExampleCase[] = [
  { dir: 'large-json', producer: { task: 'generate', result: 'payload' }, consumer: { task: 'summarise', values: { count: '70000' } }, control: TOO_LARGE },
  { dir: 'sbom-by-path', producer: { task: 'build', result: 'sbom' }, consumer: { task: 'licenses', values: { 'mit-count': '6667' } }, control: TOO_LARGE },
  { dir: 'stdout-capture', producer: { task: 'lint', result: 'report' }, consumer: { task: 'summary', values: { warnings: '100000' } }, control: TOO_LARGE },
  { dir: 'pipeline-results-finally', producer: { task: 'changelog', result: 'text' }, consumer: { task: 'notify', values: { lines: '20000' } }, control: TOO_LARGE },
  {
    dir: 'taskref-files', stored: ['pipeline.yaml', 'task-produce.yaml', 'task-consume.yaml'],
    producer: { task: 'build', result: 'images' }, consumer: { task: 'sign', values: { signed: '3000' } }, control: TOO_LARGE,
  },
  {
    dir: 'catalog-env', stored: ['task-json-stats.yaml'],
    producer: { task: 'inventory', result: 'document' }, consumer: { task: 'stats', values: { count: '7000' } }, control: TOO_LARGE,
  },
  {
    dir: 'structured-results', producer: { task: 'build', result: 'files' },
    consumer: { task: 'check', values: { count: '3000', last: 'src/module-0/file-3000.go' } }, control: TOO_LARGE,
    fetched: { digest: `sha256:${createHash('sha256').update('app').digest('hex')}`, 'last-file': 'src/module-0/file-3000.go' },
  },
];

let cluster: E2eCluster;

test.before(async () => {
  cluster = await connectCluster();
  await enableAlphaFields(cluster); // stdoutConfig (two examples), as an admin sets it
});

test.after.always(async () => {
  await cluster?.release();
});

const file = (dir: string, name: string): Promise<string> => readFile(join('examples', dir, name), 'utf8');

for (const example of EXAMPLES) {
  test(`example ${example.dir}: Succeeded on Tekton v1.15.0, the consumer got exactly the producer's bytes`, async (t) => {
    const ns = await testNamespace(t, cluster, 'ex');
    for (const stored of example.stored ?? []) await cluster.kubectl(['-n', ns, 'apply', '-f', '-'], { input: await file(example.dir, stored) });
    const name = await create(cluster, ns, await file(example.dir, 'pipelinerun.yaml'));
    const run = await waitDone(cluster, ns, 'pipelinerun', name);
    t.is(succeeded(run)?.status, 'True', `${succeeded(run)?.message ?? ''}\n${await report(cluster, ns)}`);

    const producer = await taskRunOf(cluster, ns, run, example.producer.task);
    const reference = referenceOf(producer, example.producer.result);
    t.truthy(reference, `the producer's result ${example.producer.result} is a reference: ${resultOf(producer, example.producer.result)}`);
    t.true((resultOf(producer, example.producer.result) ?? '').length < 400, 'Tekton carried only the small reference');
    const consumer = await taskRunOf(cluster, ns, run, example.consumer.task);
    t.is(resultOf(consumer, 'sha256'), reference?.sha256, 'the consumer hashed exactly the bytes the producer sealed');
    for (const [result, value] of Object.entries(example.consumer.values)) t.is(resultOf(consumer, result), value, result);
    if (example.fetched !== undefined) {
      const dir = await mkdtemp(join(tmpdir(), 'tlr-example-'));
      t.teardown(() => rm(dir, { recursive: true, force: true }));
      const fetched = await tlr(['fetch', name, ...Object.keys(example.fetched), '-n', ns, '-o', dir], cluster.kubeConfigPath);
      t.is(fetched.code, 0, fetched.stderr);
      for (const [result, value] of Object.entries(example.fetched)) t.is(await readFile(join(dir, result), 'utf8'), value, `tlr fetch ${result}`);
    }

    // Tekton's affinity assistant (coschedule: workspaces, a ReadWriteOnce volume): every pod of the run on the
    // node holding the volume, on a cluster of several nodes.
    const nodes = await podNodes(ns, name);
    t.true(nodes.length >= 2, `the run's pods: ${nodes.join(', ')}`);
    t.deepEqual([...new Set(nodes)], [await volumeNode(ns)], 'every TaskRun pod on the volume\'s node');
  });

  test(`example ${example.dir} with plain Tekton results: fails as Tekton says (the limit is real)`, async (t) => {
    const ns = await testNamespace(t, cluster, 'ctl');
    for (const stored of example.stored ?? []) {
      await cluster.kubectl(['-n', ns, 'apply', '-f', '-'], { input: plainTekton(await file(example.dir, stored)) });
    }
    const name = await create(cluster, ns, plainTekton(await file(example.dir, 'pipelinerun.yaml')));
    const run = await waitDone(cluster, ns, 'pipelinerun', name);
    t.is(succeeded(run)?.status, 'False', 'without references the run fails');
    const producer = await taskRunOf(cluster, ns, run, example.producer.task);
    t.regex(succeeded(producer)?.message ?? '', /exited with code 1/, await report(cluster, ns));
    const { log } = await failedStepLog(cluster, ns, producer);
    t.regex(log, example.control, `the producer's failed step logged:\n${log.slice(-2000)}`);
  });
}

async function podNodes(ns: string, run: string): Promise<string[]> {
  const { stdout } = await cluster.kubectl(['-n', ns, 'get', 'pods', '-l', `tekton.dev/pipelineRun=${run}`, '-o', 'jsonpath={.items[*].spec.nodeName}']);
  return stdout.split(' ').filter(Boolean);
}

/** The node of the run's one result PV (its node affinity, which the CSI driver's topology gives it). */
async function volumeNode(ns: string): Promise<string> {
  const pv = (await cluster.kubectl(['-n', ns, 'get', 'pvc', '-o', 'jsonpath={.items[0].spec.volumeName}'])).stdout.trim();
  const { stdout } = await cluster.kubectl(['get', 'pv', pv, '-o', 'jsonpath={.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}']);
  return stdout.trim();
}

/**
 * The same YAML without any opt-in: no result workspace (field, annotation or the workspace it names), no reference
 * results, no tlr.dev annotations; a by-path use of a result (`$(tasks.t.results.r.path)`) becomes a use of its value.
 */
function plainTekton(yaml: string): string {
  return parseAllDocuments(yaml).map((doc) => {
    const object = doc.toJS() as { metadata?: { annotations?: Record<string, string> } };
    const workspace = object.metadata?.annotations?.['tlr.dev/result-workspace'];
    const text = stringify(strip(object, workspace));
    return text.replace(/\$\(tasks\.([\w-]+)\.results\.([\w-]+)\.path\)/g, '$$(tasks.$1.results.$2)');
  }).join('---\n');
}

function strip(value: unknown, workspace: string | undefined): unknown {
  if (Array.isArray(value)) return value.map((v) => strip(v, workspace));
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (key === 'resultWorkspace' || key === 'storage') continue;
    const kept = stripField(key, v, workspace);
    if (kept !== undefined) out[key] = kept;
  }
  return out;
}

/** One field without the opt-in: the result workspace's declaration, tlr.dev annotations, the stringReference type. */
function stripField(key: string, v: unknown, workspace: string | undefined): unknown {
  if (key === 'workspaces' && Array.isArray(v) && workspace) {
    return v.filter((w) => (w as { name?: unknown }).name !== workspace).map((w) => strip(w, workspace));
  }
  if (key === 'annotations' && v && typeof v === 'object') {
    const kept = Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([k]) => !k.startsWith('tlr.dev/')));
    return Object.keys(kept).length > 0 ? kept : undefined;
  }
  return key === 'type' && v === 'stringReference' ? 'string' : strip(v, workspace);
}
