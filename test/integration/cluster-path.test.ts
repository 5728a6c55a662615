// The cluster path on a real kube-apiserver + etcd: the API server calls our webhooks over TLS, the controller runs
// as its ServiceAccount with the shipped RBAC, and what comes out is what the pure rewrite (`tlr render`) predicts.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import anyTest, { type TestFn } from 'ava';
import { parseAllDocuments, stringify as stringifyYaml } from 'yaml';
import { parseYamlObjects } from '../support/cluster.js';
import { runCli } from '../../src/cli/program.js';
import { ANNOTATION_HOLD, ANNOTATION_RESULT_VOLUME, ANNOTATION_REWRITTEN, LABEL_PIPELINE_RUN_UID, REASON_REFUSED } from '../../src/api/names.js';
import type { KubeObject, PipelineRun } from '../../src/api/tekton.js';
import { claimName } from '../../src/controller/reconciler.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { resolverFromObjects } from '../../src/core/resolver.js';
import { convertOnly } from '../../src/core/rewrite.js';
import { createRun, eventually, getRun, startTlrEnvironment, type TlrEnvironment } from '../support/tlr-env.js';

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

function released(env: TlrEnvironment, name: string): Promise<PipelineRun> {
  return eventually(async () => {
    const run = await getRun(env, 'demo', name);
    return run.metadata?.annotations?.[ANNOTATION_REWRITTEN] !== undefined && run.spec.status === undefined ? run : undefined;
  }, `PipelineRun demo/${name} to be rewritten and released`);
}

/**
 * What `tlr render files… --config examples/config.yaml --feature-flags <FLAGS> --namespace demo --claim <pvc>` prints
 * for the run: the CLI itself, in-process, with the claim the controller provisions for this run.
 */
async function rendered(files: readonly string[], created: PipelineRun): Promise<PipelineRun> {
  const dir = await mkdtemp(join(tmpdir(), 'tlr-render-'));
  try {
    const flags = join(dir, 'feature-flags.yaml');
    await writeFile(flags, stringifyYaml({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'feature-flags' }, data: FLAGS }));
    let out = '';
    let err = '';
    const code = await runCli(['render', ...files, '--config', 'examples/config.yaml', '--feature-flags', flags, '--namespace', 'demo', '--claim', claimName(created)], {
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
  return Object.fromEntries(Object.entries(run.metadata?.annotations ?? {}).filter(([k]) => k.startsWith('tlr.dev/') && k !== ANNOTATION_HOLD));
}

async function checkProvisioned(t: { is: (a: unknown, b: unknown) => void; deepEqual: (a: unknown, b: unknown) => void }, env: TlrEnvironment, run: PipelineRun): Promise<void> {
  const claim = claimName(run);
  t.is(run.metadata?.annotations?.[ANNOTATION_RESULT_VOLUME], `provisioned:${claim}`);
  const pvc = await env.core.readNamespacedPersistentVolumeClaim({ namespace: 'demo', name: claim });
  t.is(pvc.spec?.storageClassName, 'csi-results');
  t.is(pvc.spec?.resources?.requests?.storage, '2Gi');
  t.deepEqual(pvc.metadata?.ownerReferences?.map((o) => [o.kind, o.name, o.uid]), [['PipelineRun', run.metadata?.name, run.metadata?.uid]]);
  t.is(pvc.metadata?.labels?.[LABEL_PIPELINE_RUN_UID], run.metadata?.uid);
}

for (const example of ['large-json', 'sbom-by-path', 'stdout-capture', 'pipeline-results-finally']) {
  test.serial(`examples/${example}: the embedded run is held, rewritten exactly as tlr render --claim prints it, provisioned and released`, async (t) => {
    const { env } = t.context;
    const [input] = (await yamlObjects(`examples/${example}/pipelinerun.yaml`)) as PipelineRun[];
    if (!input) throw new Error('no run in the example');
    const created = await createRun(env, input);
    // Admission: converted to the annotation form and held, so Tekton cannot start it before the rewrite.
    t.is(created.spec.status, 'PipelineRunPending');
    t.is(created.metadata?.annotations?.[ANNOTATION_HOLD], 'controller');
    const run = await released(env, created.metadata?.name ?? '');
    const expected = await rendered([`examples/${example}/pipelinerun.yaml`], created);
    t.deepEqual(run.spec, expected.spec);
    t.deepEqual(ourAnnotations(run), ourAnnotations(expected));
    await checkProvisioned(t, env, run);
  });
}

test.serial('examples/taskref-files: a local pipelineRef with taskRefs is resolved by GET, inlined as tlr render prints it, and recorded', async (t) => {
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
  t.is(created.spec.status, 'PipelineRunPending');
  const run = await released(env, created.metadata?.name ?? '');
  const files = ['pipelinerun.yaml', 'pipeline.yaml', 'task-produce.yaml', 'task-consume.yaml'].map((f) => `examples/taskref-files/${f}`);
  t.deepEqual(run.spec, (await rendered(files, created)).spec);
  t.deepEqual((JSON.parse(run.metadata?.annotations?.['tlr.dev/original-refs'] ?? '{}') as { pipelineRef?: unknown }).pipelineRef, { name: 'release' });
  t.is(run.spec.pipelineRef, undefined);
  await checkProvisioned(t, env, run);
  // Recorded as an Event on the run.
  const events = await env.core.listNamespacedEvent({ namespace: 'demo', fieldSelector: `involvedObject.name=${run.metadata?.name}` });
  t.true(events.items.some((e) => e.reason === 'Rewritten' && e.type === 'Normal'));
});

test.serial('a remote-resolver pipelineRef is resolved through a ResolutionRequest the test answers', async (t) => {
  const { env } = t.context;
  const [pipeline] = await yamlObjects('examples/taskref-files/pipeline.yaml');
  if (!pipeline) throw new Error('no pipeline');
  const input: PipelineRun = {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    metadata: { generateName: 'remote-', annotations: { 'tlr.dev/result-workspace': 'results' } },
    spec: {
      pipelineRef: {
        resolver: 'git',
        params: [
          { name: 'url', value: 'https://example.com/org/repo.git' },
          { name: 'revision', value: 'main' },
          { name: 'pathInRepo', value: 'pipeline.yaml' },
        ],
      },
    },
  };
  const created = await createRun(env, input);
  const name = created.metadata?.name ?? '';
  // Play Tekton's git resolver: answer the request the controller made.
  const request = await eventually(async () => {
    const list = (await env.custom.listNamespacedCustomObject({
      group: 'resolution.tekton.dev', version: 'v1beta1', namespace: 'demo', plural: 'resolutionrequests',
      labelSelector: `tekton.dev/pipelineRun=${name}`,
    })) as { items: Array<{ metadata: { name: string; labels: Record<string, string>; ownerReferences?: Array<{ uid: string }> }; spec: { params: unknown } }> };
    return list.items[0];
  }, 'a ResolutionRequest for the run');
  t.is(request.metadata.labels['resolution.tekton.dev/type'], 'git');
  t.deepEqual(request.spec.params, input.spec.pipelineRef?.params);
  t.is(request.metadata.ownerReferences?.[0]?.uid, created.metadata?.uid);
  const data = Buffer.from(JSON.stringify(pipeline)).toString('base64');
  await env.custom.replaceNamespacedCustomObjectStatus({
    group: 'resolution.tekton.dev', version: 'v1beta1', namespace: 'demo', plural: 'resolutionrequests', name: request.metadata.name,
    body: { ...request, apiVersion: 'resolution.tekton.dev/v1beta1', kind: 'ResolutionRequest', status: { data, refSource: { uri: 'git+https://example.com/org/repo.git', digest: { sha1: '0'.repeat(40) }, entryPoint: 'pipeline.yaml' }, source: { uri: 'git+https://example.com/org/repo.git', digest: { sha1: '0'.repeat(40) }, entryPoint: 'pipeline.yaml' }, conditions: [{ type: 'Succeeded', status: 'True', lastTransitionTime: new Date().toISOString() }] } },
  });
  const run = await released(env, name);
  const stored = [
    { ...pipeline, metadata: { name: '' } },
    ...(await yamlObjects('examples/taskref-files/task-produce.yaml')),
    ...(await yamlObjects('examples/taskref-files/task-consume.yaml')),
  ];
  const resolver = resolverFromObjects(stored);
  const expected = rewritePipelineRun(
    { ...input, metadata: created.metadata },
    { config: parseConfig(CONFIG, 'demo'), featureFlags: parseFeatureFlags(FLAGS), resolver: { ...resolver, pipeline: () => pipeline as never }, provisionedClaim: claimName(created) },
  ).object;
  t.deepEqual(run.spec, expected.spec);
  t.deepEqual((JSON.parse(run.metadata?.annotations?.['tlr.dev/original-refs'] ?? '{}') as { pipelineRef?: unknown }).pipelineRef, input.spec.pipelineRef);
  await checkProvisioned(t, env, run);
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
  // And the controller leaves them alone: no PVC appears for them.
  await new Promise((r) => setTimeout(r, 1000));
  const pvcs = await env.core.listNamespacedPersistentVolumeClaim({ namespace: 'demo', labelSelector: 'tekton.dev/pipelineRun' });
  t.false(pvcs.items.some((p) => p.metadata?.name?.startsWith('plain-')));
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
          { name: 'use', taskSpec: { params: [{ name: 'b' }], steps: [{ name: 's', image: 'alpine', args: ['$(params.b)'] }] }, params: [{ name: 'b', value: '$(tasks.make.results.blob)' }] },
        ],
      },
    },
  };
  const error = await t.throwsAsync(createRun(env, input));
  const body = `${String((error as { body?: string }).body)} ${error?.message ?? ''}`;
  t.regex(body, /pipelineruns\.tlr\.dev/);
  t.regex(body, /spec\.pipelineSpec\.tasks\[1\]/);
  t.regex(body, /args/);
});

test.serial('a run refused by the controller fails with the rewrite message instead of retrying', async (t) => {
  const { env } = t.context;
  const pipeline = {
    apiVersion: 'tekton.dev/v1',
    kind: 'Pipeline',
    metadata: { name: 'refused', annotations: { 'tlr.dev/result-workspace': 'results' } },
    spec: {
      workspaces: [{ name: 'results' }],
      tasks: [
        { name: 'make', taskSpec: { metadata: { annotations: { 'tlr.dev/reference-results': 'blob' } }, results: [{ name: 'blob' }], steps: [{ name: 's', image: 'alpine', script: 'echo x > $(results.blob.path)' }] } },
        { name: 'use', taskSpec: { params: [{ name: 'b' }], steps: [{ name: 's', image: 'alpine', env: [{ name: 'B', value: '$(params.b)' }] }] }, params: [{ name: 'b', value: '$(tasks.make.results.blob)' }] },
      ],
    },
  };
  await applyStored(env, [pipeline]);
  const created = await createRun(env, {
    apiVersion: 'tekton.dev/v1', kind: 'PipelineRun',
    metadata: { generateName: 'refused-', annotations: { 'tlr.dev/result-workspace': 'results' } },
    spec: { pipelineRef: { name: 'refused' }, workspaces: [] },
  });
  const run = await eventually(async () => {
    const r = await getRun(env, 'demo', created.metadata?.name ?? '');
    return (r.status as { conditions?: unknown[] } | undefined)?.conditions ? r : undefined;
  }, 'the run to fail');
  const condition = (run.status as { conditions: Array<{ type: string; status: string; reason: string; message: string }> }).conditions[0];
  t.is(condition?.status, 'False');
  t.is(condition?.reason, REASON_REFUSED);
  t.regex(condition?.message ?? '', /env/);
  t.regex(condition?.message ?? '', /tasks\[1\]/);
  // Still held (Tekton never starts it), and no PVC was made for it.
  t.is(run.spec.status, 'PipelineRunPending');
  await t.throwsAsync(env.core.readNamespacedPersistentVolumeClaim({ namespace: 'demo', name: claimName(run) }));
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

test.serial('a standalone TaskRun with an embedded taskSpec is rewritten at admission; one with a taskRef is refused; pipeline TaskRuns are not sent', async (t) => {
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
  t.regex(String((error as { body?: string }).body), /taskruns\.tlr\.dev.*spec\.taskRef.*embedded spec\.taskSpec/);

  // Tekton's TaskRuns for a PipelineRun carry tekton.dev/pipelineRun: the objectSelector keeps them away from us.
  const requests = async (): Promise<number> =>
    ((await env.webhookRegistry.getSingleMetric('tlr_webhook_requests_total')?.get())?.values ?? []).filter((v) => v.labels.webhook === 'taskruns').reduce((n, v) => n + v.value, 0);
  const before = await requests();
  const child = await create({ ...taskRun, metadata: { generateName: 'child-', labels: { 'tekton.dev/pipelineRun': 'some-run' } } });
  t.is(await requests(), before);
  t.is(child.metadata?.annotations?.[ANNOTATION_REWRITTEN], undefined);
});
