// Deterministic crash points: a reconcile is cut off right after each write it makes (the ResolutionRequest, the PVC,
// the run's update), as if the process died there; a fresh reconciler (a restarted process: no memory, only what is
// in the API server) then finishes. Every time: one PVC, one ResolutionRequest, the run released once, nothing lost.
import anyTest, { type TestFn } from 'ava';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { ANNOTATION_REWRITTEN, LABEL_PIPELINE_RUN_UID } from '../../src/api/names.js';
import type { PipelineRun } from '../../src/api/tekton.js';
import { EventRecorder } from '../../src/controller/events.js';
import { ControllerMetrics } from '../../src/controller/metrics.js';
import { Reconciler } from '../../src/controller/reconciler.js';
import { makeClients, type Clients } from '../../src/k8s/api.js';
import { SettingsSource } from '../../src/k8s/settings.js';
import { CONTROLLER_SA, createRun, getRun, sampleOptedInRun, startTlrEnvironment, type TlrEnvironment } from '../support/tlr-env.js';

const test = anyTest as TestFn<{ env: TlrEnvironment; settings: SettingsSource }>;

test.before(async (t) => {
  t.context.env = await startTlrEnvironment({ start: false });
  await t.context.env.startWebhook();
  t.context.settings = new SettingsSource({
    clients: makeClients(t.context.env.cluster.kubeConfigAs(CONTROLLER_SA)),
    namespace: 'tlr-system',
    configMap: 'tlr-config',
    tektonNamespace: 'tekton-pipelines',
    logger: pino({ level: 'silent' }),
  });
  await t.context.settings.synced;
});
test.after.always(async (t) => {
  await t.context.settings?.stop();
  await t.context.env?.stop();
});

class Crash extends Error {}

/** The simulated death, however the controller wrapped the error it caused. */
function isCrash(err: unknown): boolean {
  return err instanceof Crash || (err instanceof Error && err.cause !== undefined && isCrash(err.cause));
}

/**
 * The controller's clients, except that the given API call succeeds and then the "process dies": the call's effect
 * is on the server, but the reconcile never sees its answer.
 */
function crashingAfter(clients: Clients, api: 'core' | 'custom', method: string): Clients {
  const target = clients[api] as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const wrapped = new Proxy(target, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver) as unknown;
      if (prop !== method || typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        await (value as (...a: unknown[]) => Promise<unknown>).apply(obj, args);
        throw new Crash(`died right after ${method}`);
      };
    },
  });
  return { ...clients, [api]: wrapped };
}

function reconciler(settings: SettingsSource, clients: Clients, run: PipelineRun): Reconciler {
  const logger = pino({ level: 'silent' });
  return new Reconciler({
    clients,
    settings,
    getRun: () => run,
    events: new EventRecorder(clients, 'controller', 'test', logger),
    metrics: new ControllerMetrics(new Registry()),
    logger,
  });
}

async function reconcileFresh(env: TlrEnvironment, settings: SettingsSource, clients: Clients, name: string): Promise<string> {
  // A restarted process has no memory: it starts from the run as the API server has it now.
  const run = await getRun(env, 'demo', name);
  return (await reconciler(settings, clients, run).reconcile('demo', name)).result;
}

async function checkSettled(t: { is: (a: unknown, b: unknown, m?: string) => void }, env: TlrEnvironment, name: string): Promise<void> {
  const run = await getRun(env, 'demo', name);
  t.is(run.spec.status, undefined, 'released');
  t.is(run.metadata?.annotations?.[ANNOTATION_REWRITTEN], 'v1');
  const pvcs = await env.core.listNamespacedPersistentVolumeClaim({ namespace: 'demo', labelSelector: `${LABEL_PIPELINE_RUN_UID}=${run.metadata?.uid}` });
  t.is(pvcs.items.length, 1, 'exactly one PVC');
}

for (const [api, method] of [
  ['core', 'createNamespacedPersistentVolumeClaim'],
  ['custom', 'replaceNamespacedCustomObject'],
  ['core', 'createNamespacedEvent'],
] as const) {
  test.serial(`died right after ${method}: a restart finishes the run once`, async (t) => {
    const { env, settings } = t.context;
    const created = await createRun(env, sampleOptedInRun('crash-point'));
    const name = created.metadata?.name ?? '';
    const clients = makeClients(env.cluster.kubeConfigAs(CONTROLLER_SA));
    const first = await reconcileFresh(env, settings, crashingAfter(clients, api, method), name).catch((err: unknown) => (isCrash(err) ? 'crashed' : String(err)));
    // The event recorder swallows its own failures (an event is never worth failing a run for).
    t.is(first, method === 'createNamespacedEvent' ? 'rewritten' : 'crashed');
    const second = await reconcileFresh(env, settings, clients, name);
    t.is(second, method === 'createNamespacedPersistentVolumeClaim' ? 'rewritten' : 'skipped');
    await checkSettled(t, env, name);
    t.is(await reconcileFresh(env, settings, clients, name), 'skipped', 'a third pass does nothing');
  });
}

test.serial('died right after creating the ResolutionRequest: the restart reuses it, never a second one', async (t) => {
  const { env, settings } = t.context;
  const [pipeline] = [{ apiVersion: 'tekton.dev/v1', kind: 'Pipeline', metadata: { name: 'remote' }, spec: sampleOptedInRun('x').spec.pipelineSpec }];
  const created = await createRun(env, {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    metadata: { generateName: 'crash-rr-', annotations: { 'tlr.dev/result-workspace': 'results' } },
    spec: { pipelineRef: { resolver: 'bundles', params: [{ name: 'bundle', value: 'registry.example/p:1' }, { name: 'name', value: 'remote' }, { name: 'kind', value: 'pipeline' }] } },
  });
  const name = created.metadata?.name ?? '';
  const clients = makeClients(env.cluster.kubeConfigAs(CONTROLLER_SA));
  await t.throwsAsync(reconcileFresh(env, settings, crashingAfter(clients, 'custom', 'createNamespacedCustomObject'), name), { instanceOf: Error });
  t.is(await reconcileFresh(env, settings, clients, name), 'waiting', 'the request is found again and not yet answered');
  const list = async (): Promise<Array<{ metadata: { name: string } }>> =>
    ((await env.custom.listNamespacedCustomObject({ group: 'resolution.tekton.dev', version: 'v1beta1', namespace: 'demo', plural: 'resolutionrequests', labelSelector: `tekton.dev/pipelineRun=${name}` })) as { items: Array<{ metadata: { name: string } }> }).items;
  const requests = await list();
  t.is(requests.length, 1);
  const request = requests[0];
  if (!request) return;
  // Tekton's bundles resolver answers.
  const full = (await env.custom.getNamespacedCustomObject({ group: 'resolution.tekton.dev', version: 'v1beta1', namespace: 'demo', plural: 'resolutionrequests', name: request.metadata.name })) as Record<string, unknown>;
  const source = { uri: 'registry.example/p', digest: { sha256: '0'.repeat(64) }, entryPoint: 'remote' };
  await env.custom.replaceNamespacedCustomObjectStatus({
    group: 'resolution.tekton.dev', version: 'v1beta1', namespace: 'demo', plural: 'resolutionrequests', name: request.metadata.name,
    body: { ...full, status: { data: Buffer.from(JSON.stringify(pipeline)).toString('base64'), refSource: source, source, conditions: [{ type: 'Succeeded', status: 'True', lastTransitionTime: new Date().toISOString() }] } },
  });
  t.is(await reconcileFresh(env, settings, clients, name), 'rewritten');
  t.is((await list()).length, 1);
  await checkSettled(t, env, name);
});
