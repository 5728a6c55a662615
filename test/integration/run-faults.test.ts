// Faults that are the run's own, on a real API server: a malformed remote Pipeline, a rewritten run the API server
// refuses on write-back (422, as Tekton's webhook or a policy answers), duplicate pipeline task names. Each fails the
// run once (Succeeded=False, reason ResultReferenceRefused, the message naming the field) and is never retried: no
// RetryingAfterError, no reconcile error counted.
import { AdmissionregistrationV1Api } from '@kubernetes/client-node';
import anyTest, { type TestFn } from 'ava';
import { REASON_REFUSED } from '../../src/api/names.js';
import type { PipelineRun } from '../../src/api/tekton.js';
import { createRun, eventually, getRun, startTlrEnvironment, type TlrEnvironment } from '../support/tlr-env.js';

const test = anyTest as TestFn<{ env: TlrEnvironment }>;

test.before(async (t) => {
  t.context.env = await startTlrEnvironment();
});
test.after.always(async (t) => {
  await t.context.env?.stop();
});

const TEKTON = { group: 'tekton.dev', version: 'v1', namespace: 'demo' };

async function reconcileErrors(env: TlrEnvironment): Promise<number> {
  return (await env.controller?.metrics.errors.get())?.values[0]?.value ?? 0;
}

/** Waits for the run to be failed by the controller; returns its condition message and its events' reasons. */
async function failed(env: TlrEnvironment, namespace: string, name: string): Promise<{ message: string; reasons: string[] }> {
  const condition = await eventually(async () => {
    const run = await getRun(env, namespace, name);
    const c = (run.status as { conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> } | undefined)?.conditions?.find((x) => x.type === 'Succeeded');
    return c?.status === 'False' ? c : undefined;
  }, `run ${name} to be failed`);
  const events = await env.core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` });
  const reasons = events.items.map((e) => e.reason ?? '');
  if (condition.reason !== REASON_REFUSED) throw new Error(`expected reason ${REASON_REFUSED}, found ${condition.reason}`);
  return { message: condition.message ?? '', reasons };
}

/** Plays Tekton's git resolver: answers the run's ResolutionRequest with `data`. */
async function resolve(env: TlrEnvironment, run: string, data: unknown): Promise<void> {
  const request = await eventually(async () => {
    const list = (await env.custom.listNamespacedCustomObject({ group: 'resolution.tekton.dev', version: 'v1beta1', namespace: 'demo', plural: 'resolutionrequests', labelSelector: `tekton.dev/pipelineRun=${run}` })) as { items: Array<Record<string, unknown> & { metadata: { name: string } }> };
    return list.items[0];
  }, 'a ResolutionRequest for the run');
  const source = { uri: 'git+https://example.com/org/repo.git', digest: { sha1: '0'.repeat(40) }, entryPoint: 'pipeline.yaml' };
  await env.custom.replaceNamespacedCustomObjectStatus({
    group: 'resolution.tekton.dev', version: 'v1beta1', namespace: 'demo', plural: 'resolutionrequests', name: request.metadata.name,
    body: { ...request, apiVersion: 'resolution.tekton.dev/v1beta1', kind: 'ResolutionRequest', status: { data: Buffer.from(JSON.stringify(data)).toString('base64'), refSource: source, source, conditions: [{ type: 'Succeeded', status: 'True', lastTransitionTime: new Date().toISOString() }] } },
  });
}

function remoteRun(prefix: string): PipelineRun {
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    metadata: { generateName: `${prefix}-`, annotations: { 'tlr.dev/result-workspace': 'results' } },
    spec: { pipelineRef: { resolver: 'git', params: [{ name: 'url', value: 'https://example.com/org/repo.git' }, { name: 'pathInRepo', value: 'pipeline.yaml' }] } },
  };
}

for (const [what, tasks, field] of [
  ['tasks: "x"', 'x', /spec\.pipelineRef: the Pipeline it names cannot be read: spec\.tasks: expected a list of pipeline tasks, found a string \("x"\)/],
  ['tasks: [null]', [null], /spec\.tasks\[0\]: expected a pipeline task .*found null/],
] as const) {
  test.serial(`a malformed remote Pipeline (${what}) fails the run once, naming the field`, async (t) => {
    const { env } = t.context;
    const errorsBefore = await reconcileErrors(env);
    const created = await createRun(env, remoteRun('remote-bad'));
    const name = created.metadata?.name ?? '';
    await resolve(env, name, { apiVersion: 'tekton.dev/v1', kind: 'Pipeline', metadata: { name: 'bad' }, spec: { workspaces: [{ name: 'results' }], tasks } });
    const { message, reasons } = await failed(env, 'demo', name);
    t.regex(message, field);
    t.false(reasons.includes('RetryingAfterError'), reasons.join(', '));
    t.is(reasons.filter((r) => r === REASON_REFUSED).length, 1);
    t.is(await reconcileErrors(env), errorsBefore, 'never retried');
  });
}

test.serial('a rewritten run the API server refuses on write-back (422 from a policy, as from Tekton\'s webhook) fails once with its message', async (t) => {
  const { env } = t.context;
  await env.core.createNamespace({ body: { metadata: { name: 'strict', labels: { 'refuse-rewrites': 'true' } } } });
  const admission = env.cluster.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  await admission.createValidatingAdmissionPolicy({
    body: {
      metadata: { name: 'no-rewritten-runs' },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: { resourceRules: [{ apiGroups: ['tekton.dev'], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['pipelineruns'] }] },
        validations: [{ expression: "!has(object.metadata.annotations) || !('tlr.dev/rewritten' in object.metadata.annotations)", message: 'validation failed: rewritten runs are not welcome here' }],
      },
    },
  });
  await admission.createValidatingAdmissionPolicyBinding({
    body: { metadata: { name: 'no-rewritten-runs' }, spec: { policyName: 'no-rewritten-runs', validationActions: ['Deny'], matchResources: { namespaceSelector: { matchLabels: { 'refuse-rewrites': 'true' } } } } },
  });
  try {
    // The policy takes effect once the API server has loaded it (a dry-run update of a probe run is refused).
    const probe = await createRun(env, { apiVersion: 'tekton.dev/v1', kind: 'PipelineRun', metadata: { generateName: 'probe-' }, spec: { pipelineRef: { name: 'none' }, status: 'PipelineRunPending' } }, 'strict');
    await eventually(async () => {
      try {
        const fresh = await getRun(env, 'strict', probe.metadata?.name ?? '');
        await env.custom.replaceNamespacedCustomObject({ ...TEKTON, namespace: 'strict', plural: 'pipelineruns', name: probe.metadata?.name ?? '', body: { ...fresh, metadata: { ...fresh.metadata, annotations: { 'tlr.dev/rewritten': 'v1' } } }, dryRun: 'All' });
        return undefined;
      } catch {
        return true;
      }
    }, 'the policy to take effect');
    const errorsBefore = await reconcileErrors(env);
    const created = await createRun(env, {
      apiVersion: 'tekton.dev/v1',
      kind: 'PipelineRun',
      metadata: { generateName: 'refused-' },
      spec: {
        pipelineSpec: {
          resultWorkspace: { name: 'results' },
          tasks: [{ name: 'make', taskSpec: { results: [{ name: 'blob', storage: 'reference' }], steps: [{ name: 's', image: 'alpine', script: 'date > $(results.blob.path)' }] } }],
        },
      },
    }, 'strict');
    const name = created.metadata?.name ?? '';
    const { message, reasons } = await failed(env, 'strict', name);
    t.regex(message, /the API server refused the rewritten run: .*rewritten runs are not welcome here.*\(HTTP 422\)/);
    t.false(reasons.includes('RetryingAfterError'), reasons.join(', '));
    t.is(reasons.filter((r) => r === REASON_REFUSED).length, 1);
    t.is(await reconcileErrors(env), errorsBefore, 'never retried');
    t.is((await getRun(env, 'strict', name)).spec.status, 'PipelineRunPending', 'held, failed: Tekton never starts it');
  } finally {
    await admission.deleteValidatingAdmissionPolicyBinding({ name: 'no-rewritten-runs' });
    await admission.deleteValidatingAdmissionPolicy({ name: 'no-rewritten-runs' });
  }
});

test.serial('duplicate pipeline task names in a stored Pipeline: refused, never a Task inlined under the wrong name', async (t) => {
  const { env } = t.context;
  const task = (name: string, image: string): Record<string, unknown> => ({
    apiVersion: 'tekton.dev/v1',
    kind: 'Task',
    metadata: { name, namespace: 'demo', annotations: { 'tlr.dev/reference-results': 'out' } },
    spec: { results: [{ name: 'out' }], steps: [{ name: 's', image, script: 'date > $(results.out.path)' }] },
  });
  for (const body of [task('first', 'alpine'), task('second', 'busybox')]) await env.custom.createNamespacedCustomObject({ ...TEKTON, plural: 'tasks', body });
  await env.custom.createNamespacedCustomObject({
    ...TEKTON,
    plural: 'pipelines',
    body: {
      apiVersion: 'tekton.dev/v1',
      kind: 'Pipeline',
      metadata: { name: 'twins', namespace: 'demo', annotations: { 'tlr.dev/result-workspace': 'results' } },
      spec: { workspaces: [{ name: 'results' }], tasks: [{ name: 'build', taskRef: { name: 'first' } }, { name: 'build', taskRef: { name: 'second' } }] },
    },
  });
  const created = await createRun(env, { apiVersion: 'tekton.dev/v1', kind: 'PipelineRun', metadata: { generateName: 'twins-' }, spec: { pipelineRef: { name: 'twins' } } });
  const { message } = await failed(env, 'demo', created.metadata?.name ?? '');
  t.regex(message, /spec\.pipelineSpec\.tasks\[1\]\.name: expected pipeline task names to be unique across tasks and finally, as Tekton requires; found "build" again \(first at spec\.pipelineSpec\.tasks\[0\]\)/);
  t.is((await getRun(env, 'demo', created.metadata?.name ?? '')).spec.pipelineSpec, undefined, 'nothing was inlined');
});
