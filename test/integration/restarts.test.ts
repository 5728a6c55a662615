// Failure modes on a real API server: the controller process killed (SIGKILL) at arbitrary points of its
// reconciles and restarted, conflicting writers (one dropping our label), RBAC briefly missing (transient 403s), and
// the webhook down.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import anyTest, { type TestFn } from 'ava';
import { LABEL_OPTED_IN } from '../../src/api/names.js';
import type { PipelineRun } from '../../src/api/tekton.js';
import { CoordinationV1Api, RbacAuthorizationV1Api, type V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { pino } from 'pino';
import { startController, type RunningController } from '../../src/controller/controller.js';
import { microTime } from '../../src/controller/leader.js';
import { CONTROLLER_SA, createRun, eventually, getRun, sampleOptedInRun, startTlrEnvironment, type TlrEnvironment } from '../support/tlr-env.js';

const test = anyTest as TestFn<{ env: TlrEnvironment; dir: string }>;

test.before(async (t) => {
  t.context.env = await startTlrEnvironment({ start: false });
  await t.context.env.startWebhook();
  t.context.dir = mkdtempSync(join(tmpdir(), 'tlr-restarts-'));
});
test.after.always(async (t) => {
  await t.context.env?.stop();
  if (t.context.dir) rmSync(t.context.dir, { recursive: true, force: true });
});


/** `tlr controller` as a real process, with the controller's ServiceAccount kubeconfig. */
function spawnController(env: TlrEnvironment, dir: string): { child: ChildProcess; synced: Promise<void> } {
  const kubeconfig = join(dir, 'controller.kubeconfig');
  writeFileSync(kubeconfig, env.cluster.kubeConfigAs(CONTROLLER_SA).exportConfig());
  const child = spawn(
    process.execPath,
    ['dist/src/cli/main.js', 'controller', '--kubeconfig', kubeconfig, '--namespace', 'tlr-system', '--http-port', '0', '--workers', '4', '--lease-duration', '2', '--resync', '2'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const synced = new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (line.includes('caches synced')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`controller exited (${code}) before syncing`)));
  });
  synced.catch(() => undefined);
  return { child, synced };
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

async function runsWithPrefix(env: TlrEnvironment, prefix: string): Promise<PipelineRun[]> {
  const list = (await env.custom.listNamespacedCustomObject({ group: 'tekton.dev', version: 'v1', namespace: 'demo', plural: 'pipelineruns' })) as { items: PipelineRun[] };
  return list.items.filter((r) => r.metadata?.name?.startsWith(`${prefix}-`));
}

/** A finished opted-in run with the PVC Tekton made from its volumeClaimTemplate (the test plays Tekton). */
async function finishedRunWithPvc(env: TlrEnvironment, prefix: string): Promise<{ run: PipelineRun; pvc: string }> {
  const run = await createRun(env, sampleOptedInRun(prefix));
  const template = run.spec.workspaces?.find((w) => w.volumeClaimTemplate !== undefined)?.volumeClaimTemplate as V1PersistentVolumeClaim;
  const pvc = `pvc-${(run.metadata?.uid ?? '').slice(0, 10)}`;
  await env.core.createNamespacedPersistentVolumeClaim({
    namespace: 'demo',
    body: { ...template, metadata: { ...template.metadata, name: pvc, ownerReferences: [{ apiVersion: 'tekton.dev/v1', kind: 'PipelineRun', name: run.metadata?.name ?? '', uid: run.metadata?.uid ?? '' }] } },
  });
  const now = new Date().toISOString();
  await env.custom.replaceNamespacedCustomObjectStatus({
    group: 'tekton.dev', version: 'v1', namespace: 'demo', plural: 'pipelineruns', name: run.metadata?.name ?? '',
    body: { ...(await getRun(env, 'demo', run.metadata?.name ?? '')), status: { startTime: now, completionTime: now, conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded', lastTransitionTime: now }] } },
  });
  return { run, pvc };
}

async function pvcGone(env: TlrEnvironment, name: string): Promise<boolean> {
  try {
    return (await env.core.readNamespacedPersistentVolumeClaim({ namespace: 'demo', name })).metadata?.deletionTimestamp !== undefined;
  } catch {
    return true;
  }
}

test.serial('killed at arbitrary points and restarted, with a writer dropping our label: every finished run\'s PVC deleted, labels put back', async (t) => {
  const { env, dir } = t.context;
  await env.setConfig({ retention: 'on-completion' });
  const total = 40;
  const finished = await Promise.all(Array.from({ length: total }, () => finishedRunWithPvc(env, 'crash')));
  // Another writer touches every run while the controller works, carelessly: it replaces the whole label map,
  // dropping tlr.dev/opted-in, which the controller's sweep must put back.
  let touching = true;
  const toucher = (async (): Promise<void> => {
    for (let round = 0; touching && round < 50; round++) {
      for (const run of await runsWithPrefix(env, 'crash')) {
        await env.custom
          .patchNamespacedCustomObject({
            group: 'tekton.dev', version: 'v1', namespace: 'demo', plural: 'pipelineruns', name: run.metadata?.name ?? '',
            body: [{ op: 'add', path: '/metadata/labels', value: { touched: String(round) } }],
          })
          .catch(() => undefined);
      }
    }
  })();
  for (const delayMs of [50, 150, 300, 600]) {
    const { child, synced } = spawnController(env, dir);
    await synced;
    await new Promise((r) => setTimeout(r, delayMs));
    await kill(child);
    const deleted = (await Promise.all(finished.map((f) => pvcGone(env, f.pvc)))).filter(Boolean).length;
    t.log(`killed ${delayMs} ms after sync: ${deleted}/${total} result PVCs deleted`);
  }
  touching = false;
  await toucher;
  const { child } = spawnController(env, dir);
  try {
    await eventually(async () => ((await Promise.all(finished.map((f) => pvcGone(env, f.pvc)))).every(Boolean) ? true : undefined), 'every result PVC to be deleted', 90_000);
    const runs = await eventually(async () => {
      const all = await runsWithPrefix(env, 'crash');
      return all.every((r) => r.metadata?.labels?.[LABEL_OPTED_IN] === 'true') ? all : undefined;
    }, 'the sweep to relabel every run', 30_000);
    t.is(runs.length, total);
    t.true(runs.every((r) => r.metadata?.labels?.touched !== undefined), 'the other writer\'s labels survived');
  } finally {
    await kill(child);
  }
});

test.serial('transient API errors (RBAC briefly missing) are retried until they clear', async (t) => {
  const { env } = t.context;
  await env.setConfig({ retention: 'on-completion' });
  const rbac = env.cluster.kubeConfig.makeApiClient(RbacAuthorizationV1Api);
  const bindings = (await rbac.listClusterRoleBinding()).items.filter((b) => b.subjects?.some((s) => s.kind === 'ServiceAccount' && s.name === 'tlr-controller'));
  t.true(bindings.length > 0);
  await env.startController();
  try {
    for (const b of bindings) await rbac.deleteClusterRoleBinding({ name: b.metadata?.name ?? '' });
    const { pvc } = await finishedRunWithPvc(env, 'forbidden');
    await new Promise((r) => setTimeout(r, 1500));
    t.false(await pvcGone(env, pvc), 'nothing happens without permission');
    for (const b of bindings) {
      const { metadata, ...rest } = b;
      await rbac.createClusterRoleBinding({ body: { ...rest, metadata: { name: metadata?.name, labels: metadata?.labels } } });
    }
    await eventually(async () => ((await pvcGone(env, pvc)) ? true : undefined), 'the PVC to be deleted once the permission is back', 60_000);
    t.pass();
  } finally {
    await env.stopController();
  }
});

test.serial('webhook down: opted-in and plain PipelineRuns are refused by the API server (failurePolicy Fail), unrelated pods still start', async (t) => {
  const { env } = t.context;
  await env.stopWebhook();
  try {
    const error = await t.throwsAsync(createRun(env, sampleOptedInRun('down')));
    t.regex(String((error as { body?: unknown }).body), /failed calling webhook \\?"pipelineruns\.tlr\.dev/);
    const pod = await env.core.createNamespacedPod({ namespace: 'demo', body: { metadata: { name: 'unrelated' }, spec: { containers: [{ name: 'c', image: 'alpine' }] } } });
    t.is(pod.metadata?.name, 'unrelated');
  } finally {
    await env.startWebhook();
  }
  const created = await createRun(env, sampleOptedInRun('back'));
  t.is(created.metadata?.annotations?.['tlr.dev/rewritten'], 'v1', 'back up: rewritten at admission again');
});

test.serial('two replicas: one leads, the other stands by and takes over when the leader stops; probes and metrics answer', async (t) => {
  const { env } = t.context;
  const logger = pino({ level: 'silent' });
  const start = (identity: string): Promise<RunningController> =>
    startController({
      kubeConfig: env.cluster.kubeConfigAs(CONTROLLER_SA),
      namespace: 'tlr-system',
      configMap: 'tlr-config',
      tektonNamespace: 'tekton-pipelines',
      leaseName: 'tlr-controller',
      identity,
      httpPort: 0,
      workers: 2,
      logger,
      leaseDurationSeconds: 2,
      renewDeadlineMs: 1500,
      retryPeriodMs: 250,
      onLeadershipLost: () => undefined,
    });
  const a = await start('replica-a');
  await a.leading;
  const b = await start('replica-b');
  let bLeads = false;
  void b.leading.then(() => (bLeads = true));
  try {
    const metric = async (c: RunningController): Promise<string> => (await fetch(`http://127.0.0.1:${c.httpPort}/metrics`)).text();
    t.is((await fetch(`http://127.0.0.1:${a.httpPort}/healthz`)).status, 200);
    t.is((await fetch(`http://127.0.0.1:${a.httpPort}/readyz`)).status, 200);
    // A standby is ready once it has read its configuration: it can take over at any moment.
    await eventually(async () => ((await fetch(`http://127.0.0.1:${b.httpPort}/readyz`)).status === 200 ? true : undefined), 'the standby to be ready');
    t.regex(await metric(a), /^tlr_controller_leader 1$/m);
    t.regex(await metric(b), /^tlr_controller_leader 0$/m);
    await env.setConfig({ retention: 'on-completion' });
    const first = await finishedRunWithPvc(env, 'replicas');
    await eventually(async () => ((await pvcGone(env, first.pvc)) ? true : undefined), 'the leader to apply the retention');
    // The reconcile is counted once it returns, a moment after the delete the test saw.
    await eventually(async () => (/^tlr_controller_reconciles_total\{result="retention"\} [1-9]/m.test(await metric(a)) ? true : undefined), 'the retention reconcile counted');
    t.false(bLeads);
    await a.stop(); // graceful: the lease is released, so b takes over at once
    const lease = await env.cluster.kubeConfig.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'tlr-controller', namespace: 'tlr-system' });
    t.not(lease.spec?.holderIdentity, 'replica-a');
    await b.leading;
    const second = await finishedRunWithPvc(env, 'replicas');
    await eventually(async () => ((await pvcGone(env, second.pvc)) ? true : undefined), 'the new leader to apply the retention');
    t.pass();
  } finally {
    await a.stop();
    await b.stop();
  }
});

test.serial('tlr controller exits 0 on SIGTERM and releases its lease', async (t) => {
  const { env, dir } = t.context;
  const { child, synced } = spawnController(env, dir);
  await synced;
  const code = await new Promise<number | null>((resolve) => {
    child.once('exit', (c) => resolve(c));
    child.kill('SIGTERM');
  });
  t.is(code, 0);
  const lease = await env.cluster.kubeConfig.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'tlr-controller', namespace: 'tlr-system' });
  t.is(lease.spec?.holderIdentity ?? '', '');
});

test.serial('a leader whose Lease is taken over gives up leadership (the CLI then exits for a restart)', async (t) => {
  const { env } = t.context;
  let lost = false;
  const controller = await startController({
    kubeConfig: env.cluster.kubeConfigAs(CONTROLLER_SA),
    namespace: 'tlr-system',
    configMap: 'tlr-config',
    tektonNamespace: 'tekton-pipelines',
    leaseName: 'tlr-controller',
    identity: 'replica-lost',
    httpPort: 0,
    workers: 1,
    logger: pino({ level: 'silent' }),
    leaseDurationSeconds: 2,
    renewDeadlineMs: 1500,
    retryPeriodMs: 250,
    onLeadershipLost: () => (lost = true),
  });
  try {
    await controller.leading;
    // Another replica (or an admin) takes the Lease: this one can no longer renew it.
    const leases = env.cluster.kubeConfig.makeApiClient(CoordinationV1Api);
    const lease = await leases.readNamespacedLease({ name: 'tlr-controller', namespace: 'tlr-system' });
    const now = microTime(new Date());
    await leases.replaceNamespacedLease({
      name: 'tlr-controller',
      namespace: 'tlr-system',
      body: { ...lease, spec: { ...lease.spec, holderIdentity: 'someone-else', renewTime: now, leaseDurationSeconds: 3600 } },
    });
    await eventually(() => Promise.resolve(lost ? true : undefined), 'the leader to notice', 10_000);
    t.regex(await (await fetch(`http://127.0.0.1:${controller.httpPort}/metrics`)).text(), /^tlr_controller_leader 0$/m);
    // And it stopped reconciling at once: a finished run is left to whoever leads now.
    await env.setConfig({ retention: 'on-completion' });
    const { pvc } = await finishedRunWithPvc(env, 'after-loss');
    await new Promise((r) => setTimeout(r, 1500));
    t.false(await pvcGone(env, pvc));
  } finally {
    await controller.stop();
    // Give the Lease back for the other tests.
    const leases = env.cluster.kubeConfig.makeApiClient(CoordinationV1Api);
    await leases.deleteNamespacedLease({ name: 'tlr-controller', namespace: 'tlr-system' }).catch(() => undefined);
  }
});
