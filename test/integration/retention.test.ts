// Retention on a real API server, with the controller as its ServiceAccount: the PVC Tekton makes from a run's
// volumeClaimTemplate (played here by the test, as Tekton's controller does it: the template's labels, the run as
// owner) goes on completion or after a duration; a PVC the user bound is never deleted; an invalid tlr-config deletes
// nothing, and runs checked with it are refused at admission.
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import anyTest, { type TestFn } from 'ava';
import { ANNOTATION_REWRITTEN } from '../../src/api/names.js';
import type { PipelineRun } from '../../src/api/tekton.js';
import { createRun, eventually, getRun, startTlrEnvironment, type TlrEnvironment } from '../support/tlr-env.js';

const test = anyTest as TestFn<{ env: TlrEnvironment }>;

test.before(async (t) => {
  t.context.env = await startTlrEnvironment();
});
test.after.always(async (t) => {
  await t.context.env?.stop();
});

function run(prefix: string, workspaces: unknown[] = []): PipelineRun {
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    metadata: { generateName: `${prefix}-`, annotations: { 'tlr.dev/result-workspace': 'results' } },
    spec: {
      workspaces: workspaces as never,
      pipelineSpec: {
        workspaces: [{ name: 'results' }],
        tasks: [
          { name: 'make', taskSpec: { metadata: { annotations: { 'tlr.dev/reference-results': 'blob' } }, results: [{ name: 'blob' }], steps: [{ name: 's', image: 'alpine', script: 'date > $(results.blob.path)' }] } },
        ],
      },
    },
  };
}

/** What Tekton's controller does when a run starts: a PVC from the result workspace's volumeClaimTemplate, owned by the run. */
async function tektonMakesPvc(env: TlrEnvironment, created: PipelineRun): Promise<string> {
  const template = created.spec.workspaces?.find((w) => w.volumeClaimTemplate !== undefined)?.volumeClaimTemplate as V1PersistentVolumeClaim | undefined;
  if (!template) throw new Error('the run has no volumeClaimTemplate');
  const name = `pvc-${(created.metadata?.uid ?? '').slice(0, 10)}`;
  await env.core.createNamespacedPersistentVolumeClaim({
    namespace: 'demo',
    body: {
      ...template,
      metadata: {
        ...template.metadata, name,
        ownerReferences: [{ apiVersion: 'tekton.dev/v1', kind: 'PipelineRun', name: created.metadata?.name ?? '', uid: created.metadata?.uid ?? '', controller: true }],
      },
    },
  });
  return name;
}

/** What Tekton's controller does when a run ends. */
async function complete(env: TlrEnvironment, r: PipelineRun): Promise<void> {
  const now = new Date().toISOString();
  const fresh = await getRun(env, 'demo', r.metadata?.name ?? '');
  await env.custom.replaceNamespacedCustomObjectStatus({
    group: 'tekton.dev', version: 'v1', namespace: 'demo', plural: 'pipelineruns', name: r.metadata?.name ?? '',
    body: { ...fresh, status: { startTime: now, completionTime: now, conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded', lastTransitionTime: now }] } },
  });
}

/** Deleted, or being deleted (no kube-controller-manager here to drop the pvc-protection finalizer). */
async function isDeleted(env: TlrEnvironment, name: string): Promise<boolean> {
  try {
    const pvc = await env.core.readNamespacedPersistentVolumeClaim({ namespace: 'demo', name });
    return pvc.metadata?.deletionTimestamp !== undefined;
  } catch {
    return true;
  }
}

test.serial('on-completion: the run\'s result PVC is deleted when the run completes, not before; another run\'s is kept', async (t) => {
  const { env } = t.context;
  await env.setConfig({ retention: 'on-completion' });
  const r = await createRun(env, run('oncomplete'));
  t.is(r.metadata?.annotations?.[ANNOTATION_REWRITTEN], 'v1');
  const other = await createRun(env, run('other'));
  const [pvc, otherPvc] = [await tektonMakesPvc(env, r), await tektonMakesPvc(env, other)];
  await new Promise((res) => setTimeout(res, 500));
  t.false(await isDeleted(env, pvc));
  await complete(env, r);
  await eventually(async () => ((await isDeleted(env, pvc)) ? true : undefined), 'the PVC to be deleted');
  t.false(await isDeleted(env, otherPvc), 'a PVC owned by another run stays');
  const events = await env.core.listNamespacedEvent({ namespace: 'demo', fieldSelector: `involvedObject.name=${r.metadata?.name}` });
  t.true(events.items.some((e) => e.reason === 'ResultVolumeDeleted' && (e.message ?? '').includes(pvc)));
});

test.serial('a duration keeps the PVC that long after completion', async (t) => {
  const { env } = t.context;
  await env.setConfig({ retention: '3s' });
  const r = await createRun(env, run('keep'));
  const pvc = await tektonMakesPvc(env, r);
  await complete(env, r);
  const completed = Date.now();
  await new Promise((res) => setTimeout(res, 1000));
  t.false(await isDeleted(env, pvc), 'kept during the duration');
  await eventually(async () => ((await isDeleted(env, pvc)) ? true : undefined), 'the PVC to be deleted after 3 s', 20_000);
  t.true(Date.now() - completed >= 2900);
});

test.serial('a PVC the user bound is used and never deleted', async (t) => {
  const { env } = t.context;
  await env.setConfig({ retention: 'on-completion' });
  await env.core.createNamespacedPersistentVolumeClaim({
    namespace: 'demo',
    body: { metadata: { name: 'mine' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } },
  });
  const r = await createRun(env, run('userpvc', [{ name: 'results', persistentVolumeClaim: { claimName: 'mine' } }]));
  t.deepEqual(r.spec.workspaces, [{ name: 'results', persistentVolumeClaim: { claimName: 'mine' } }]);
  await complete(env, r);
  await new Promise((res) => setTimeout(res, 1500));
  t.false(await isDeleted(env, 'mine'));
});

test.serial('an invalid tlr-config: opted-in runs are refused at admission saying why; nothing is deleted until it is fixed', async (t) => {
  const { env } = t.context;
  await env.setConfig({ retention: 'on-completion' });
  const r = await createRun(env, run('beforebad'));
  const pvc = await tektonMakesPvc(env, r);
  await env.setConfig({ retention: 'forever' });
  const denied = await t.throwsAsync(createRun(env, run('selfcontained')));
  t.regex(String((denied as { body?: unknown }).body), /retention.*forever/);
  await complete(env, r);
  await new Promise((res) => setTimeout(res, 1500));
  t.false(await isDeleted(env, pvc), 'an invalid config deletes nothing');
  await env.setConfig({ retention: 'on-completion' });
  await eventually(async () => ((await isDeleted(env, pvc)) ? true : undefined), 'the PVC to be deleted once the config is fixed');
  t.pass();
});

/** Gone for good: the PVC is no longer there at all. */
async function isGone(env: TlrEnvironment, name: string): Promise<boolean> {
  try {
    await env.core.readNamespacedPersistentVolumeClaim({ namespace: 'demo', name });
    return false;
  } catch {
    return true;
  }
}

async function setPodPhase(env: TlrEnvironment, name: string, phase: 'Running' | 'Succeeded'): Promise<void> {
  const pod = await env.core.readNamespacedPod({ namespace: 'demo', name });
  await env.core.replaceNamespacedPodStatus({ namespace: 'demo', name, body: { ...pod, status: { ...pod.status, phase } } });
}

test.serial('a deleted result PVC is held while a running pod names it, and released (pvc-protection removed) once none runs', async (t) => {
  const { env } = t.context;
  await env.setConfig({ retention: 'on-completion' });
  const r = await createRun(env, run('held'));
  const pvc = await tektonMakesPvc(env, r);
  const finalizers = (await env.core.readNamespacedPersistentVolumeClaim({ namespace: 'demo', name: pvc })).metadata?.finalizers ?? [];
  t.true(finalizers.includes('kubernetes.io/pvc-protection'), 'the API server protects every PVC');
  // A pod that names the PVC (a tlr fetch reader, say), scheduled and running; another, finished, that also names it.
  for (const [name, phase] of [['reader', 'Running'], ['finished-task', 'Succeeded']] as const) {
    await env.core.createNamespacedPod({
      namespace: 'demo',
      body: {
        metadata: { name: `${name}-${pvc}` },
        spec: { nodeName: 'node-x', containers: [{ name: 'c', image: 'busybox' }], volumes: [{ name: 'v', persistentVolumeClaim: { claimName: pvc } }] },
      },
    });
    await setPodPhase(env, `${name}-${pvc}`, phase);
  }
  await complete(env, r);
  await eventually(async () => ((await isDeleted(env, pvc)) ? true : undefined), 'the PVC to be deleted');
  await new Promise((res) => setTimeout(res, 1500));
  t.false(await isGone(env, pvc), 'held while the reader runs (Terminating, finalizer kept)');
  await setPodPhase(env, `reader-${pvc}`, 'Succeeded');
  // The controller looks again within RELEASE_RETRY_MS (15 s).
  await eventually(async () => ((await isGone(env, pvc)) ? true : undefined), 'the PVC to go once no pod runs', 40_000);
  const events = await env.core.listNamespacedEvent({ namespace: 'demo', fieldSelector: `involvedObject.name=${r.metadata?.name}` });
  t.true(events.items.some((e) => e.reason === 'ResultVolumeReleased' && (e.message ?? '').includes(pvc)));
});
