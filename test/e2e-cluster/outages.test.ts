/**
 * Our components down, on the real cluster, and what a user sees (docs/operations.md, "When the webhook is down",
 * "When the controller is down"); each restarted, runs complete. Every test puts the Deployments back as they were.
 */
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { until } from '../support/eventually.js';
import { connectCluster, testNamespace, type E2eCluster } from '../support/node/e2e-cluster.js';
import { create, report, succeeded, taskRunOf, waitDone, type RunObject } from '../support/node/runs.js';
import { setNamespaceConfig, TLR_NAMESPACE } from '../support/node/tlr-config.js';

let cluster: E2eCluster;

test.before(async () => {
  cluster = await connectCluster();
});

test.after.always(async () => {
  await cluster?.release();
});

function run(sleepSeconds: number): string {
  return `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  generateName: outage-
spec:
  pipelineSpec:
    resultWorkspace:
      name: results
    tasks:
      - name: produce
        taskSpec:
          results:
            - name: blob
              type: stringReference
          steps:
            - name: write
              image: docker.io/library/busybox:1.35
              script: |
                #!/bin/sh
                seq 1 20000 > "$(results.blob.path)"
                sleep ${sleepSeconds}
      - name: consume
        params:
          - name: blob
            value: $(tasks.produce.results.blob)
        taskSpec:
          params:
            - name: blob
          steps:
            - name: use
              image: docker.io/library/busybox:1.35
              script: |
                #!/bin/sh
                printf '%s' "$(params.blob)" | wc -c
`;
}

async function scale(deployment: string, replicas: number): Promise<void> {
  await cluster.kubectl(['-n', TLR_NAMESPACE, 'scale', 'deployment', deployment, `--replicas=${replicas}`]);
  if (replicas > 0) {
    await cluster.kubectl(['-n', TLR_NAMESPACE, 'rollout', 'status', 'deployment', deployment, '--timeout=180s'], { timeoutMs: 190_000 });
    if (deployment === 'tlr-webhook') await webhookServing();
    return;
  }
  await until(async () => (await cluster.kubectl(['-n', TLR_NAMESPACE, 'get', 'pods', '-l', `app.kubernetes.io/name=${deployment}`, '-o', 'name'])).stdout.trim() === '',
    `the pods of ${deployment} to go`, 120_000, 1000);
}

/** The Service has endpoints again (a rollout can finish a moment before the endpoints controller catches up). */
async function webhookServing(): Promise<void> {
  await until(async () => {
    const { stdout } = await cluster.kubectl(['-n', TLR_NAMESPACE, 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=tlr-webhook', '-o', 'jsonpath={.items[*].endpoints[*].conditions.ready}']);
    return stdout.includes('true');
  }, 'a ready endpoint of the tlr-webhook Service', 60_000, 1000);
}

test.serial('webhook down: creating a PipelineRun fails with the API server\'s error, nothing is created; back up, runs complete', async (t) => {
  const ns = await testNamespace(t, cluster, 'outage');
  t.teardown(() => scale('tlr-webhook', 2));
  await scale('tlr-webhook', 0);
  const refused = await cluster.kubectl(['-n', ns, 'create', '-f', '-'], { input: run(0), allowFailure: true });
  t.not(refused.code, 0);
  t.regex(refused.stderr, /failed calling webhook "pipelineruns\.tlr\.dev"/, refused.stderr);
  const none = await cluster.kubectl(['-n', ns, 'get', 'pipelineruns', '-o', 'name']);
  t.is(none.stdout.trim(), '', 'nothing was created');
  await scale('tlr-webhook', 2);
  const name = await create(cluster, ns, run(0));
  const done = await waitDone(cluster, ns, 'pipelinerun', name);
  t.is(succeeded(done)?.status, 'True', `${succeeded(done)?.message ?? ''}\n${await report(cluster, ns)}`);
});

test.serial('webhook down while a run is under way: its consumer pod cannot be created, and the TaskRun says why', async (t) => {
  const ns = await testNamespace(t, cluster, 'outage');
  t.teardown(() => scale('tlr-webhook', 2));
  const name = await create(cluster, ns, run(20));
  await sleep(3000);
  await scale('tlr-webhook', 0);
  const done: RunObject = await waitDone(cluster, ns, 'pipelinerun', name);
  t.is(succeeded(done)?.status, 'False', 'the run fails');
  const consumer = await taskRunOf(cluster, ns, done, 'consume');
  const condition = succeeded(consumer);
  t.log(`consumer TaskRun: ${condition?.reason ?? ''}: ${condition?.message ?? ''}`);
  t.is(condition?.reason, 'PodCreationFailed', await report(cluster, ns));
  t.regex(condition?.message ?? '', /pods\.tlr\.dev/);
});

test.serial('controller down: runs complete without it; retention catches up when it is back', async (t) => {
  const ns = await testNamespace(t, cluster, 'outage');
  await setNamespaceConfig(t, cluster, ns, { retention: 'on-completion' });
  t.teardown(() => scale('tlr-controller', 2));
  await scale('tlr-controller', 0);
  const name = await create(cluster, ns, run(0));
  const done = await waitDone(cluster, ns, 'pipelinerun', name);
  t.is(succeeded(done)?.status, 'True', `${succeeded(done)?.message ?? ''}\n${await report(cluster, ns)}`);
  await sleep(5000);
  const kept = await cluster.kubectl(['-n', ns, 'get', 'pvc', '-o', 'name']);
  t.not(kept.stdout.trim(), '', 'the volume waits for the controller');
  await scale('tlr-controller', 2);
  await until(async () => (await cluster.kubectl(['-n', ns, 'get', 'pvc', '-o', 'name'])).stdout.trim() === '', 'retention applied once the controller is back', 120_000, 1000);
});
