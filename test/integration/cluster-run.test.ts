// The whole path for every example: the run is created on the real API server (rewritten by the webhook at
// admission), and what the API server then stores is run end to end on this machine by the local Tekton
// stand-in: the real seal step on the producers, the real tlr-substitute init container on the consumers, the
// consumers' scripts checked. The result volume is a temporary directory set as the cluster's `mountPath`.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import anyTest, { type TestFn } from 'ava';
import { parseYamlObjects } from '../support/cluster.js';
import { ANNOTATION_REWRITTEN } from '../../src/api/names.js';
import type { KubeObject, PipelineRun } from '../../src/api/tekton.js';
import { convertOnly } from '../../src/core/rewrite.js';
import { runCli } from '../../src/cli/program.js';
import { EXAMPLES } from '../support/example-checks.js';
import { runPipelineRunLocally } from '../support/local-tekton.js';
import { createRun, startTlrEnvironment, type TlrEnvironment } from '../support/tlr-env.js';

const test = anyTest as TestFn<{ env: TlrEnvironment; volume: string }>;

test.before(async (t) => {
  t.context.volume = await mkdtemp(join(tmpdir(), 'tlr-cluster-volume-'));
  t.context.env = await startTlrEnvironment({
    config: { storageClassName: 'csi-results', size: '2Gi', mountPath: t.context.volume },
    featureFlags: { 'enable-api-fields': 'alpha' },
  });
});
test.after.always(async (t) => {
  await t.context.env?.stop();
  if (t.context.volume) await rm(t.context.volume, { recursive: true, force: true });
});

/** The objects of a YAML file (a malformed document fails the test, never yields partial objects). */
async function objects(file: string): Promise<KubeObject[]> {
  return parseYamlObjects(await readFile(file, 'utf8'), file) as KubeObject[];
}

for (const [name, example] of Object.entries(EXAMPLES)) {
  test.serial(`example ${name}: what the cluster stores runs end to end`, async (t) => {
    const { env, volume } = t.context;
    const all = (await Promise.all(example.files.map((f) => objects(join('examples', name, f))))).flat();
    const stored = all.filter((o) => o.kind !== 'PipelineRun').map((o) => convertOnly(o).object);
    if (stored.length > 0) {
      await env.cluster.serverSideApply(stored.map((o) => ({ ...o, metadata: { ...o.metadata, namespace: 'demo' } })), { strict: true, fieldManager: 'user' });
    }
    const input = all.find((o) => o.kind === 'PipelineRun') as PipelineRun;
    const run = await createRun(env, input);
    t.is(run.metadata?.annotations?.[ANNOTATION_REWRITTEN], 'v1', 'rewritten at admission');
    const work = await mkdtemp(join(tmpdir(), `tlr-work-${name}-`));
    try {
      const result = await runPipelineRunLocally(run, { volume, workDir: work, uid: run.metadata?.uid ?? '' });
      await example.check(t, result, volume);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
}

test.serial('tlr fetch: finds the references the run recorded, starts a read-only reader pod on its PVC, cleans up', async (t) => {
  const { env } = t.context;
  const [input] = (await objects('examples/large-json/pipelinerun.yaml')) as PipelineRun[];
  if (!input) throw new Error('no run');
  const run = await createRun(env, input);
  const name = run.metadata?.name ?? '';
  // What Tekton's controller records once the producer ran: a child TaskRun bound to the PVC it made from the run's
  // volumeClaimTemplate, with the reference as its result.
  const token = '[[tlr:v1:sha256=' + 'a'.repeat(64) + `:size=5:path=${run.metadata?.uid ?? ''}/generate/payload]]`;
  const taskRun = (await env.custom.createNamespacedCustomObject({
    group: 'tekton.dev', version: 'v1', namespace: 'demo', plural: 'taskruns',
    body: {
      apiVersion: 'tekton.dev/v1', kind: 'TaskRun',
      metadata: { name: `${name}-generate`, labels: { 'tekton.dev/pipelineRun': name, 'tekton.dev/pipelineTask': 'generate' } },
      spec: { taskRef: { name: 'x' }, workspaces: [{ name: 'tlr-results', persistentVolumeClaim: { claimName: 'pvc-0123456789' } }] },
    },
  })) as KubeObject;
  await env.custom.replaceNamespacedCustomObjectStatus({
    group: 'tekton.dev', version: 'v1', namespace: 'demo', plural: 'taskruns', name: `${name}-generate`,
    body: { ...taskRun, status: { results: [{ name: 'payload', type: 'string', value: token }], podName: '' } },
  });
  const dir = await mkdtemp(join(tmpdir(), 'tlr-fetch-out-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(kubeconfig, env.cluster.kubeConfig.exportConfig());
  let err = '';
  const io = { out: () => undefined, err: (s: string) => (err += s), stdin: () => Promise.resolve('') };

  // A typo is refused before any pod is made, listing what exists.
  t.is(await runCli(['fetch', name, 'generate.paylod', '-n', 'demo', '-o', dir, '--kubeconfig', kubeconfig], io), 1);
  t.regex(err, /expected one of its results stored by reference \(generate\.payload\), found "generate\.paylod"/);

  // Its result PVC is gone: refused before any pod is made, with the reason.
  err = '';
  t.is(await runCli(['fetch', name, '-n', 'demo', '-o', dir, '--kubeconfig', kubeconfig, '--timeout', '2'], io), 1);
  t.regex(err, /PersistentVolumeClaim demo\/pvc-0123456789 \(the result volume of PipelineRun demo\/[^)]+\): not found: it was deleted/);
  await env.core.createNamespacedPersistentVolumeClaim({
    namespace: 'demo',
    body: { metadata: { name: 'pvc-0123456789' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } },
  });

  // No kubelet here: the reader pod never runs, so fetch stops at its timeout, says why, and deletes the pod.
  const pods = new Set<string>();
  const watcher = setInterval(() => {
    void env.core.listNamespacedPod({ namespace: 'demo', labelSelector: 'app.kubernetes.io/managed-by=tekton-large-results' }).then((l) => {
      for (const p of l.items) pods.add(JSON.stringify({ name: p.metadata?.name, volumes: p.spec?.volumes, mounts: p.spec?.containers[0]?.volumeMounts, args: p.spec?.containers[0]?.args, nonRoot: p.spec?.securityContext?.runAsNonRoot }));
    });
  }, 200);
  err = '';
  const code = await runCli(['fetch', name, '-n', 'demo', '-o', dir, '--kubeconfig', kubeconfig, '--timeout', '2'], io);
  clearInterval(watcher);
  t.is(code, 1);
  t.regex(err, /reader pod demo\/tlr-fetch-[0-9a-f]+: expected it Running within 2 s, found phase/);
  const seen = [...pods].map((p) => JSON.parse(p) as { volumes: Array<{ persistentVolumeClaim?: { claimName: string; readOnly: boolean } }>; mounts: Array<{ readOnly: boolean }>; nonRoot: boolean });
  t.true(seen.length >= 1, 'the reader pod was created');
  t.is(seen[0]?.volumes[0]?.persistentVolumeClaim?.claimName, 'pvc-0123456789');
  t.true(seen[0]?.volumes[0]?.persistentVolumeClaim?.readOnly);
  t.true(seen[0]?.mounts[0]?.readOnly);
  t.true(seen[0]?.nonRoot);
  const left = await env.core.listNamespacedPod({ namespace: 'demo', labelSelector: 'app.kubernetes.io/managed-by=tekton-large-results' });
  t.deepEqual(left.items.filter((p) => p.metadata?.deletionTimestamp === undefined).map((p) => p.metadata?.name), [], 'the reader pod is deleted');
  t.deepEqual((await readdir(dir)).filter((f) => f !== 'kubeconfig'), [], 'nothing unverified was written');
});
