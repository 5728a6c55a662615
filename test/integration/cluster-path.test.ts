// The cluster path on a real kube-apiserver + etcd: the API server calls our webhooks over TLS (the webhook reading
// stored Pipelines and Tasks as its ServiceAccount, with the shipped RBAC), and what the API server stores is what
// the pure rewrite (`tlr render`) predicts: Tekton forbids changing a created run's spec, so the rewrite is made in
// the create request.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import anyTest, { type TestFn } from 'ava';
import { parseAllDocuments, stringify as stringifyYaml } from 'yaml';
import { parseYamlObjects } from '../support/cluster.js';
import { runCli } from '../../src/cli/program.js';
import { ANNOTATION_RESULT_VOLUME, ANNOTATION_REWRITTEN, LABEL_OPTED_IN } from '../../src/api/names.js';
import type { KubeObject, PipelineRun } from '../../src/api/tekton.js';
import { convertOnly } from '../../src/core/rewrite.js';
import { createRun, startTlrEnvironment, type TlrEnvironment } from '../support/tlr-env.js';

const test = anyTest as TestFn<{ env: TlrEnvironment }>;
const CONFIG = { storageClassName: 'csi-results', size: '2Gi', maxResultSize: '1Gi' };
const FLAGS = { 'enable-api-fields': 'alpha' };

test.before(async (t) => {
  t.context.env = await startTlrEnvironment({ config: CONFIG, featureFlags: FLAGS });
});
test.after.always(async (t) => {
  await t.context.env?.stop();
});

/** The objects of a YAML file (a malformed document fails the test, never yields partial objects). */
async function yamlObjects(file: string): Promise<KubeObject[]> {
  return parseYamlObjects(await readFile(file, 'utf8'), file) as KubeObject[];
}

async function applyStored(env: TlrEnvironment, objects: readonly KubeObject[]): Promise<void> {
  // What a user does: `tlr convert files | kubectl apply -f -`.
  await env.cluster.serverSideApply(
    objects.map((o) => ({ ...convertOnly(o).object, metadata: { ...o.metadata, ...convertOnly(o).object.metadata, namespace: 'demo' } })),
    { strict: true, fieldManager: 'user' },
  );
}

/**
 * What `tlr render files… --config examples/config.yaml --feature-flags <FLAGS> --namespace demo` prints for the run:
 * the CLI itself, in-process.
 */
async function rendered(files: readonly string[]): Promise<PipelineRun> {
  const dir = await mkdtemp(join(tmpdir(), 'tlr-render-'));
  try {
    const flags = join(dir, 'feature-flags.yaml');
    await writeFile(flags, stringifyYaml({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'feature-flags' }, data: FLAGS }));
    let out = '';
    let err = '';
    const code = await runCli(['render', ...files, '--config', 'examples/config.yaml', '--feature-flags', flags, '--namespace', 'demo'], {
      out: (text) => (out += text),
      err: (text) => (err += text),
      stdin: () => Promise.resolve(''),
    });
    if (code !== 0) throw new Error(`tlr render exited ${code}: ${err}`);
    const run = parseAllDocuments(out).map((d) => d.toJS() as KubeObject).find((o) => o.kind === 'PipelineRun');
    if (!run) throw new Error('tlr render printed no PipelineRun');
    return run as PipelineRun;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function ourAnnotations(run: PipelineRun): Record<string, string> {
  return Object.fromEntries(Object.entries(run.metadata?.annotations ?? {}).filter(([k]) => k.startsWith('tlr.dev/')));
}

/** The result volume is a volumeClaimTemplate from the config: Tekton creates the PVC, owned by the run. */
function checkTemplate(t: { is: (a: unknown, b: unknown) => void }, run: PipelineRun): void {
  t.is(run.metadata?.annotations?.[ANNOTATION_RESULT_VOLUME], 'template');
  const template = run.spec.workspaces?.find((w) => w.volumeClaimTemplate !== undefined)?.volumeClaimTemplate as { spec?: { storageClassName?: string; resources?: { requests?: { storage?: string } } } } | undefined;
  t.is(template?.spec?.storageClassName, 'csi-results');
  t.is(template?.spec?.resources?.requests?.storage, '2Gi');
  t.is(run.metadata?.labels?.[LABEL_OPTED_IN], 'true');
  t.is(run.spec.status, undefined);
}

for (const example of ['large-json', 'sbom-by-path', 'stdout-capture', 'pipeline-results-finally']) {
  test.serial(`examples/${example}: the embedded run is stored rewritten, exactly as tlr render prints it`, async (t) => {
    const { env } = t.context;
    const [input] = (await yamlObjects(`examples/${example}/pipelinerun.yaml`)) as PipelineRun[];
    if (!input) throw new Error('no run in the example');
    const created = await createRun(env, input);
    const expected = await rendered([`examples/${example}/pipelinerun.yaml`]);
    t.deepEqual(created.spec, expected.spec);
    t.deepEqual(ourAnnotations(created), ourAnnotations(expected));
    checkTemplate(t, created);
  });
}

test.serial('examples/taskref-files: a local pipelineRef with taskRefs is read by GET at admission, inlined as tlr render prints it, and recorded', async (t) => {
  const { env } = t.context;
  const stored = [
    ...(await yamlObjects('examples/taskref-files/pipeline.yaml')),
    ...(await yamlObjects('examples/taskref-files/task-produce.yaml')),
    ...(await yamlObjects('examples/taskref-files/task-consume.yaml')),
  ];
  await applyStored(env, stored);
  const [input] = (await yamlObjects('examples/taskref-files/pipelinerun.yaml')) as PipelineRun[];
  if (!input) throw new Error('no run');
  const created = await createRun(env, input);
  const files = ['pipelinerun.yaml', 'pipeline.yaml', 'task-produce.yaml', 'task-consume.yaml'].map((f) => `examples/taskref-files/${f}`);
  t.deepEqual(created.spec, (await rendered(files)).spec);
  t.deepEqual((JSON.parse(created.metadata?.annotations?.['tlr.dev/original-refs'] ?? '{}') as { pipelineRef?: unknown }).pipelineRef, { name: 'release' });
  t.is(created.spec.pipelineRef, undefined);
  checkTemplate(t, created);
});

test.serial('an opted-in run naming a remote Pipeline is refused at admission, naming the field and the way out', async (t) => {
  const { env } = t.context;
  const input: PipelineRun = {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    metadata: { generateName: 'remote-', annotations: { 'tlr.dev/result-workspace': 'results' } },
    spec: { pipelineRef: { resolver: 'git', params: [{ name: 'url', value: 'https://example.com/org/repo.git' }] } },
  };
  const error = await t.throwsAsync(createRun(env, input));
  const body = `${String((error as { body?: string }).body)} ${error?.message ?? ''}`;
  t.regex(body, /pipelineruns\.tlr\.dev/);
  t.regex(body, /spec\.pipelineRef: a run that stores results by reference cannot name a remote Pipeline \(resolver \\?"git\\?"\)/);
});

test.serial('a stored Pipeline with twin pipeline task names is refused at admission, never a Task inlined under the wrong name', async (t) => {
  const { env } = t.context;
  const task = { name: 'make', taskSpec: { metadata: { annotations: { 'tlr.dev/reference-results': 'blob' } }, results: [{ name: 'blob' }], steps: [{ name: 's', image: 'alpine', script: 'echo x > $(results.blob.path)' }] } };
  await applyStored(env, [{
    apiVersion: 'tekton.dev/v1', kind: 'Pipeline', metadata: { name: 'twins', annotations: { 'tlr.dev/result-workspace': 'results' } },
    spec: { workspaces: [{ name: 'results' }], tasks: [task, { ...task, taskSpec: { ...task.taskSpec, steps: [{ name: 's', image: 'evil', script: 'true' }] } }] },
  }]);
  const error = await t.throwsAsync(createRun(env, { apiVersion: 'tekton.dev/v1', kind: 'PipelineRun', metadata: { generateName: 'twins-' }, spec: { pipelineRef: { name: 'twins' } } }));
  t.regex(`${String((error as { body?: string }).body)}`, /make/);
});

test.serial('runs that did not opt in are never touched', async (t) => {
  const { env } = t.context;
  let count = 0;
  for (const file of ['pipelinerun.yaml', 'pipelinerun-with-final-tasks.yaml', 'pipelinerun-with-pipelinespec-and-taskspec.yaml', 'pipelinerun-results.yaml']) {
    const runs = (await yamlObjects(`../shared/tekton/v1.15.0/examples/v1/pipelineruns/${file}`)).filter((o) => o.kind === 'PipelineRun') as PipelineRun[];
    for (const input of runs) {
    count++;
    const created = await createRun(env, { ...input, metadata: { ...input.metadata, name: undefined, generateName: 'plain-' } });
    t.deepEqual(created.spec, input.spec, file);
    t.deepEqual(ourAnnotations(created), {}, file);
    t.is(created.spec.status, undefined, file);
    }
  }
  t.true(count >= 4);
});

test.serial('a self-contained run the rewrite refuses is denied at admission with the field path', async (t) => {
  const { env } = t.context;
  const input: PipelineRun = {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    metadata: { generateName: 'bad-' },
    spec: {
      pipelineSpec: {
        resultWorkspace: { name: 'results' },
        tasks: [
          { name: 'make', taskSpec: { results: [{ name: 'blob', storage: 'reference' }], steps: [{ name: 's', image: 'alpine', script: 'echo x > $(results.blob.path)' }] } },
          // A file path is no image name (a whole value would take a copy).
          { name: 'use', taskSpec: { steps: [{ name: 's', image: 'registry/$(tasks.make.results.blob.path)', script: 'true' }] } },
        ],
      },
    },
  };
  const error = await t.throwsAsync(createRun(env, input));
  const body = `${String((error as { body?: string }).body)} ${error?.message ?? ''}`;
  t.regex(body, /pipelineruns\.tlr\.dev/);
  t.regex(body, /spec\.pipelineSpec\.tasks\[1\]\.taskSpec\.steps\[0\]\.image/);
});

test.serial('a consumer pod created the way Tekton creates it gets the substitute init container; other pods are never sent', async (t) => {
  const { env } = t.context;
  const [fixture] = await yamlObjects('test/webhook/fixtures/tekton-consumer-pod.yaml');
  if (!fixture) throw new Error('no fixture');
  const requests = async (): Promise<number> => {
    const metric = await env.webhookRegistry.getSingleMetric('tlr_webhook_requests_total')?.get();
    return (metric?.values ?? []).filter((v) => v.labels.webhook === 'pods').reduce((n, v) => n + v.value, 0);
  };
  const before = await requests();
  const pod = await env.core.createNamespacedPod({ namespace: 'demo', body: { ...fixture, metadata: { ...fixture.metadata, namespace: 'demo' } } as never });
  const init = pod.spec?.initContainers?.map((c) => c.name) ?? [];
  t.is(init[init.length - 1], 'tlr-substitute');
  const substitute = pod.spec?.initContainers?.at(-1);
  t.true(substitute?.volumeMounts?.some((m) => m.mountPath === '/tekton/scripts' && m.readOnly !== true));
  t.true(substitute?.volumeMounts?.some((m) => m.mountPath === '/tlr/results' && m.readOnly === true));
  t.is(await requests(), before + 1);
  const plain = await env.core.createNamespacedPod({
    namespace: 'demo',
    body: { metadata: { name: 'plain' }, spec: { containers: [{ name: 'c', image: 'alpine' }] } },
  });
  t.deepEqual(plain.spec?.initContainers ?? [], []);
  t.is(await requests(), before + 1);
});

test.serial('a standalone TaskRun with an embedded taskSpec is rewritten at admission; one opted in with a missing Task is refused naming it; pipeline TaskRuns are not sent', async (t) => {
  const { env } = t.context;
  const taskRun = {
    apiVersion: 'tekton.dev/v1',
    kind: 'TaskRun',
    metadata: { generateName: 'standalone-' },
    spec: {
      taskSpec: {
        results: [{ name: 'report', storage: 'reference' }],
        steps: [{ name: 'lint', image: 'alpine', script: 'seq 100000 > $(results.report.path)' }],
      },
    },
  };
  const create = (body: object): Promise<KubeObject> =>
    env.custom.createNamespacedCustomObject({ group: 'tekton.dev', version: 'v1', namespace: 'demo', plural: 'taskruns', body, fieldValidation: 'Strict' }) as Promise<KubeObject>;
  const created = await create(taskRun);
  t.is(created.metadata?.annotations?.[ANNOTATION_REWRITTEN], 'v1');
  t.is(created.metadata?.annotations?.[ANNOTATION_RESULT_VOLUME], 'template');
  const steps = (created.spec as { taskSpec: { steps: Array<{ name: string; script?: string }> } }).taskSpec.steps;
  t.deepEqual(steps.map((s) => s.name), ['tlr-prepare', 'lint', 'tlr-seal']);
  t.regex(steps[1]?.script ?? '', /\/tlr\/results\/\$\(context\.taskRun\.uid\)\/task\/report/);
  const workspace = (created.spec as { workspaces?: Array<{ volumeClaimTemplate?: { spec?: { storageClassName?: string } } }> }).workspaces?.[0];
  t.is(workspace?.volumeClaimTemplate?.spec?.storageClassName, 'csi-results');

  const error = await t.throwsAsync(create({ ...taskRun, metadata: { generateName: 'byref-', annotations: { 'tlr.dev/reference-results': 'report' } }, spec: { taskRef: { name: 'some-task' } } }));
  t.regex(String((error as { body?: string }).body), /taskruns\.tlr\.dev.*spec\.taskRef: the run opts in .*Task \\"some-task\\" was not found: expected it in the run's namespace/);

  // Tekton's TaskRuns for a PipelineRun carry tekton.dev/pipelineRun: the objectSelector keeps them away from us.
  const requests = async (): Promise<number> =>
    ((await env.webhookRegistry.getSingleMetric('tlr_webhook_requests_total')?.get())?.values ?? []).filter((v) => v.labels.webhook === 'taskruns').reduce((n, v) => n + v.value, 0);
  const before = await requests();
  const child = await create({ ...taskRun, metadata: { generateName: 'child-', labels: { 'tekton.dev/pipelineRun': 'some-run' } } });
  t.is(await requests(), before);
  t.is(child.metadata?.annotations?.[ANNOTATION_REWRITTEN], undefined);
});
