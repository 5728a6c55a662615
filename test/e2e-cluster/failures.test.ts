/**
 * When a reference result goes wrong on the real cluster, the run fails and says what went wrong where a user looks
 * (`kubectl describe`, `tkn pr describe`, the step's log): a file changed after it was sealed (by a pod outside the
 * run that mounts the claim), a result over maxResultSize, a result the producer never wrote.
 */
import test from 'ava';
import { eventually } from '../support/eventually.js';
import { connectCluster, testNamespace, type E2eCluster } from '../support/node/e2e-cluster.js';
import { create, failedStepLog, get, report, succeeded, taskRunOf, waitDone, type RunObject } from '../support/node/runs.js';
import { setNamespaceConfig } from '../support/node/tlr-config.js';
import { claimOf, runOnClaim } from '../support/node/volume-pod.js';

let cluster: E2eCluster;

test.before(async () => {
  cluster = await connectCluster();
});

test.after.always(async () => {
  await cluster?.release();
});

/**
 * produce (writes `$WRITE` to the result) → gate (optional: reads it by path, then waits until someone outside the
 * run marked the run directory, `tampered`) → consume.
 */
function pipelineRun(options: { write: string; gate?: boolean }): string {
  const gate = options.gate !== true ? '' : `
      - name: gate
        runAfter: [produce]
        taskSpec:
          steps:
            - name: wait
              image: docker.io/library/busybox:1.35
              script: |
                #!/bin/sh
                test -s "$(tasks.produce.results.blob.path)"
                for i in $(seq 1 180); do [ -e /tlr/results/tampered ] && exit 0; sleep 1; done
                exit 1`;
  return `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  generateName: fail-
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
                set -eu
                ${options.write}${gate}
      - name: consume
        runAfter: [${options.gate === true ? 'gate' : 'produce'}]
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

interface PodStatus {
  readonly status: { readonly initContainerStatuses?: readonly { name: string; state: { terminated?: { exitCode: number; message?: string } } }[] };
}

async function runToEnd(ns: string, yaml: string): Promise<RunObject> {
  const name = await create(cluster, ns, yaml);
  return waitDone(cluster, ns, 'pipelinerun', name);
}

test("a result file changed after it was sealed: the consumer's init container refuses it (InitContainerFailed, both digests)", async (t) => {
  const ns = await testNamespace(t, cluster, 'fail');
  const name = await create(cluster, ns, pipelineRun({ write: 'seq 1 20000 > "$(results.blob.path)"', gate: true }));
  // No task of the run can change it (isolation.test.ts); a pod mounting the claim whole can, while the gate waits.
  // The gate's pod Running: its init container has verified the file, its step waits for the mark.
  const gate = await eventually(async () => {
    const running = await get(cluster, ns, 'pipelinerun', name);
    const child = running.status?.childReferences?.find((c) => c.pipelineTaskName === 'gate');
    if (child === undefined) return undefined;
    const taskRun = await get(cluster, ns, 'taskrun', child.name);
    const pod = taskRun.status?.podName === undefined ? undefined : await get<{ status?: { phase?: string } }>(cluster, ns, 'pod', taskRun.status.podName);
    return pod?.status?.phase === 'Running' ? { run: running, taskRun } : undefined;
  }, 'the gate task running', 300_000, 500);
  const dir = `/volume/${gate.run.metadata.uid}`;
  await runOnClaim(cluster, ns, claimOf(gate.taskRun), `echo tampered >> ${dir}/produce/blob; touch ${dir}/tampered`);
  const run = await waitDone(cluster, ns, 'pipelinerun', name);
  t.is(succeeded(run)?.status, 'False', 'the run fails');
  const consumer = await taskRunOf(cluster, ns, run, 'consume');
  const condition = succeeded(consumer);
  t.is(condition?.reason, 'InitContainerFailed', await report(cluster, ns));
  t.regex(condition?.message ?? '', /"tlr-substitute" exited with code 1/);
  const message = await initContainerMessage(ns, consumer);
  t.regex(message, /does not match its reference: expected sha256 [0-9a-f]{64}/, `the init container's termination message: ${message}`);
  const described = await cluster.kubectl(['-n', ns, 'describe', 'pod', consumer.status?.podName ?? '']);
  t.regex(described.stdout, /does not match its reference/, 'kubectl describe pod shows it');
  // ...and where users look first: an Event on the TaskRun and on the PipelineRun (our controller).
  for (const [kind, name] of [['taskrun', consumer.metadata.name], ['pipelinerun', run.metadata.name]] as const) {
    const events = await eventsOf(ns, kind, name, 'ResultUnusable');
    t.regex(events, /tlr-substitute refused a result: .*does not match its reference/, `${kind} events: ${events}`);
    const describedRun = await cluster.kubectl(['-n', ns, 'describe', kind, name]);
    t.regex(describedRun.stdout, /ResultUnusable/, `kubectl describe ${kind}`);
  }
});

test('a result over maxResultSize: the producer fails, its log has both sizes and the config key', async (t) => {
  const ns = await testNamespace(t, cluster, 'fail');
  await setNamespaceConfig(t, cluster, ns, { maxResultSize: '64Ki' });
  const run = await runToEnd(ns, pipelineRun({ write: 'head -c 100000 /dev/zero | tr "\\\\0" x > "$(results.blob.path)"' }));
  t.is(succeeded(run)?.status, 'False', 'the run fails');
  const producer = await taskRunOf(cluster, ns, run, 'produce');
  t.regex(succeeded(producer)?.message ?? '', /exited with code 1/, await report(cluster, ns));
  const { step, log } = await failedStepLog(cluster, ns, producer);
  t.is(step, 'tlr-seal');
  t.regex(log, /Result "blob" is 100000 bytes, over the limit of 65536 bytes \(config key maxResultSize\)/, log);
  t.falsy(run.status?.childReferences?.find((c) => c.pipelineTaskName === 'consume'), 'the consumer never ran');
});

test('a reference result the producer never wrote: the consumer fails naming it, never runs with a missing value', async (t) => {
  const ns = await testNamespace(t, cluster, 'fail');
  const run = await runToEnd(ns, pipelineRun({ write: 'echo "forgot to write the result"' }));
  t.is(succeeded(run)?.status, 'False', 'the run fails');
  const producer = await taskRunOf(cluster, ns, run, 'produce');
  t.is(succeeded(producer)?.status, 'True', 'the producer itself succeeded (Tekton lets a result go unwritten)');
  const consumer = await taskRunOf(cluster, ns, run, 'consume');
  t.is(succeeded(consumer)?.reason, 'InitContainerFailed', await report(cluster, ns));
  const message = await initContainerMessage(ns, consumer);
  t.regex(message, /result "blob" was not produced/, `the init container's termination message: ${message}`);
  t.regex(await eventsOf(ns, 'pipelinerun', run.metadata.name, 'ResultUnusable'), /was not produced/, 'an Event on the PipelineRun says so');
});

/** The messages of the Events with this reason on the object (waits a little: the controller records them). */
async function eventsOf(ns: string, kind: string, name: string, reason: string): Promise<string> {
  const messages = async (): Promise<string> =>
    (await cluster.kubectl(['-n', ns, 'get', 'events', '--field-selector', `involvedObject.name=${name},reason=${reason}`, '-o', 'jsonpath={.items[*].message}'])).stdout;
  return eventually(async () => (await messages()).trim() || undefined, `a ${reason} Event on ${kind} ${ns}/${name}`, 30_000, 1000).catch(() => '');
}

async function initContainerMessage(ns: string, taskRun: RunObject): Promise<string> {
  const pod = await get<PodStatus>(cluster, ns, 'pod', taskRun.status?.podName ?? '');
  return pod.status.initContainerStatuses?.find((s) => s.name === 'tlr-substitute')?.state.terminated?.message ?? '';
}

test("a consumer whose producer failed never starts; the run's status names the producer's failure", async (t) => {
  const ns = await testNamespace(t, cluster, 'fail');
  const run = await runToEnd(ns, pipelineRun({ write: 'seq 1 20000 > "$(results.blob.path)"; echo "compiler crashed" >&2; exit 3' }));
  t.is(succeeded(run)?.status, 'False');
  const producer = await taskRunOf(cluster, ns, run, 'produce');
  t.is(succeeded(producer)?.reason, 'StepFailed', await report(cluster, ns));
  t.regex(succeeded(producer)?.message ?? '', /"step-write" exited with code 3/);
  t.falsy(run.status?.childReferences?.find((c) => c.pipelineTaskName === 'consume'), 'no consumer TaskRun');
  t.regex(succeeded(run)?.message ?? '', /Failed: 1/);
});

test('a producer retried by Tekton (retries: 1): the consumer gets the successful attempt\'s value, not the failed one\'s', async (t) => {
  const ns = await testNamespace(t, cluster, 'fail');
  const yaml = pipelineRun({
    // Attempt 0 writes a value and fails; attempt 1 writes another and succeeds.
    write: 'if [ "$(context.task.retry-count)" = 0 ]; then seq 1 20000 > "$(results.blob.path)"; exit 1; fi\n                seq 1 30000 > "$(results.blob.path)"',
  }).replace('      - name: produce\n', '      - name: produce\n        retries: 1\n');
  const run = await runToEnd(ns, yaml);
  t.is(succeeded(run)?.status, 'True', `${succeeded(run)?.message ?? ''}\n${await report(cluster, ns)}`);
  const producer = await taskRunOf(cluster, ns, run, 'produce');
  t.is((producer.status as { retriesStatus?: unknown[] } | undefined)?.retriesStatus?.length, 1, 'one failed attempt before');
  const consumer = await taskRunOf(cluster, ns, run, 'consume');
  const { stdout } = await cluster.kubectl(['-n', ns, 'logs', consumer.status?.podName ?? '', '-c', 'step-use']);
  // seq 1 30000 is 168,894 bytes; seq 1 20000 is 108,894.
  t.is(stdout.trim(), '168894', "the consumer's value is the retry's");
});
