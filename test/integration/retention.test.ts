// Retention on a real API server: provisioned PVCs go on completion or after a duration; a PVC the user bound is
// never deleted; an invalid tlr-config never deletes anything and holds new runs with an Event saying why.
import { AdmissionregistrationV1Api } from '@kubernetes/client-node';
import anyTest, { type TestFn } from 'ava';
import { ANNOTATION_REWRITTEN } from '../../src/api/names.js';
import type { PipelineRun } from '../../src/api/tekton.js';
import { claimName } from '../../src/controller/reconciler.js';
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

async function releasedRun(env: TlrEnvironment, input: PipelineRun): Promise<PipelineRun> {
  const created = await createRun(env, input);
  return eventually(async () => {
    const r = await getRun(env, 'demo', created.metadata?.name ?? '');
    return r.metadata?.annotations?.[ANNOTATION_REWRITTEN] && r.spec.status === undefined ? r : undefined;
  }, 'the run to be released');
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

test.serial('on-completion: the provisioned PVC is deleted when the run completes, not before', async (t) => {
  const { env } = t.context;
  await env.setConfig({ retention: 'on-completion' });
  const r = await releasedRun(env, run('oncomplete'));
  await new Promise((res) => setTimeout(res, 500));
  t.false(await isDeleted(env, claimName(r)));
  await complete(env, r);
  await eventually(async () => ((await isDeleted(env, claimName(r))) ? true : undefined), 'the PVC to be deleted');
  t.pass();
});

test.serial('a duration keeps the PVC that long after completion', async (t) => {
  const { env } = t.context;
  await env.setConfig({ retention: '3s' });
  const r = await releasedRun(env, run('keep'));
  await complete(env, r);
  const completed = Date.now();
  await new Promise((res) => setTimeout(res, 1000));
  t.false(await isDeleted(env, claimName(r)), 'kept during the duration');
  await eventually(async () => ((await isDeleted(env, claimName(r))) ? true : undefined), 'the PVC to be deleted after 3 s', 20_000);
  t.true(Date.now() - completed >= 2900);
});

test.serial('a PVC the user bound is used and never deleted', async (t) => {
  const { env } = t.context;
  await env.setConfig({ retention: 'on-completion' });
  await env.core.createNamespacedPersistentVolumeClaim({
    namespace: 'demo',
    body: { metadata: { name: 'mine' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } },
  });
  const r = await releasedRun(env, run('userpvc', [{ name: 'results', persistentVolumeClaim: { claimName: 'mine' } }]));
  t.deepEqual(r.spec.workspaces, [{ name: 'results', persistentVolumeClaim: { claimName: 'mine' } }]);
  await t.throwsAsync(env.core.readNamespacedPersistentVolumeClaim({ namespace: 'demo', name: claimName(r) }), undefined, 'nothing provisioned');
  await complete(env, r);
  await new Promise((res) => setTimeout(res, 1500));
  t.false(await isDeleted(env, 'mine'));
});

test.serial('an invalid tlr-config: self-contained runs are denied at admission; others wait with a Warning event until it is fixed', async (t) => {
  const { env } = t.context;
  const stored = run('stored');
  await env.cluster.serverSideApply(
    [{ apiVersion: 'tekton.dev/v1', kind: 'Pipeline', metadata: { name: 'stored', namespace: 'demo' }, spec: stored.spec.pipelineSpec } as never],
    { strict: true, fieldManager: 'user' },
  );
  await env.setConfig({ retention: 'forever' });
  // The webhook sees the whole run and checks it with the config: the user is told at once.
  const denied = await t.throwsAsync(createRun(env, run('selfcontained')));
  t.regex(String((denied as { body?: unknown }).body), /retention.*forever/);
  const created = await createRun(env, {
    ...stored,
    metadata: { generateName: 'badconfig-', annotations: { 'tlr.dev/result-workspace': 'results' } },
    spec: { pipelineRef: { name: 'stored' } },
  });
  const name = created.metadata?.name ?? '';
  const event = await eventually(async () => {
    const events = await env.core.listNamespacedEvent({ namespace: 'demo', fieldSelector: `involvedObject.name=${name}` });
    return events.items.find((e) => e.reason === 'ConfigInvalid');
  }, 'a ConfigInvalid event');
  t.regex(event.message ?? '', /retention.*forever/);
  t.is((await getRun(env, 'demo', name)).spec.status, 'PipelineRunPending');
  await env.setConfig({});
  await eventually(async () => {
    const r = await getRun(env, 'demo', name);
    return r.spec.status === undefined ? r : undefined;
  }, 'the run to be released after the fix');
  t.pass();
});

test.serial('a PVC the API server refuses (an admission policy) leaves the run held with a Warning event; it proceeds once allowed', async (t) => {
  const { env } = t.context;
  await env.setConfig({});
  await env.core.createNamespace({ body: { metadata: { name: 'locked', labels: { 'deny-pvcs': 'true' } } } });
  // A ValidatingAdmissionPolicy (what a policy engine or an exhausted quota amounts to): PVC creates in the namespace
  // are refused by the API server.
  const admission = env.cluster.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  await admission.createValidatingAdmissionPolicy({
    body: {
      metadata: { name: 'no-pvcs' },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['persistentvolumeclaims'] }] },
        validations: [{ expression: 'false', message: 'PVCs are not allowed in this namespace' }],
      },
    },
  });
  await admission.createValidatingAdmissionPolicyBinding({
    body: { metadata: { name: 'no-pvcs' }, spec: { policyName: 'no-pvcs', validationActions: ['Deny'], matchResources: { namespaceSelector: { matchLabels: { 'deny-pvcs': 'true' } } } } },
  });
  // The policy takes effect once the API server has loaded it.
  await eventually(async () => {
    try {
      await env.core.createNamespacedPersistentVolumeClaim({ namespace: 'locked', body: { metadata: { name: 'probe' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }, dryRun: 'All' });
      return undefined;
    } catch {
      return true;
    }
  }, 'the policy to take effect');
  const created = await createRun(env, run('locked'), 'locked');
  const name = created.metadata?.name ?? '';
  const event = await eventually(async () => {
    const events = await env.core.listNamespacedEvent({ namespace: 'locked', fieldSelector: `involvedObject.name=${name}` });
    return events.items.find((e) => e.reason === 'RetryingAfterError');
  }, 'a RetryingAfterError event');
  t.regex(event.message ?? '', /PVCs are not allowed in this namespace/);
  t.is((await getRun(env, 'locked', name)).spec.status, 'PipelineRunPending');
  await admission.deleteValidatingAdmissionPolicyBinding({ name: 'no-pvcs' });
  await eventually(async () => {
    const r = await getRun(env, 'locked', name);
    return r.spec.status === undefined ? r : undefined;
  }, 'the run to be released once the policy is gone', 120_000);
  t.pass();
});
