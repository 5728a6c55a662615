/**
 * A producer whose steps run as a non-root user writes a reference result on a fresh CSI volume, on both kinds of
 * driver the harness installs (test/support/node/storage.ts):
 * - `tlr-hostpath` (CSIDriver fsGroupPolicy: File, the cluster's default class): the defaults work, since the kubelet
 *   makes the new volume's root group-writable for the fsGroup (65532) the rewrite gives the run's pods;
 * - `tlr-hostpath-default-policy` (the API's default policy, no fsType: the kubelet ignores fsGroup, the root stays
 *   root's 0755): the producer's `tlr-prepare` step fails and says why and what to do; with `prepareRunAsRoot: "true"`
 *   for the namespace the same run succeeds.
 * (docs/install.md, "A writable volume root".)
 */
import test, { type ExecutionContext } from 'ava';
import { connectCluster, testNamespace, type E2eCluster } from '../support/node/e2e-cluster.js';
import { create, failedStepLog, referenceOf, report, resultOf, succeeded, taskRunOf, waitDone, type RunObject } from '../support/node/runs.js';
import { setNamespaceConfig } from '../support/node/tlr-config.js';

let cluster: E2eCluster;

test.before(async () => {
  cluster = await connectCluster();
});

test.after.always(async () => {
  await cluster?.release();
});

/** 40,000 numbered lines (~290 KB, far over the termination message) written by uid 1000, read by a root consumer. */
const RUN = `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  generateName: non-root-
spec:
  pipelineSpec:
    resultWorkspace:
      name: results
    tasks:
      - name: produce
        taskSpec:
          results:
            - name: lines
              type: stringReference
          steps:
            - name: write
              image: docker.io/library/busybox:1.35
              securityContext:
                runAsUser: 1000
                runAsGroup: 1000
                runAsNonRoot: true
                allowPrivilegeEscalation: false
              script: |
                #!/bin/sh
                set -eu
                id
                seq 1 40000 > "$(results.lines.path)"
      - name: consume
        params:
          - name: lines
            value: $(tasks.produce.results.lines)
        taskSpec:
          params:
            - name: lines
          results:
            - name: count
            - name: sha256
          steps:
            - name: hash
              image: docker.io/library/busybox:1.35
              script: |
                #!/bin/sh
                set -eu
                cat > /tmp/v <<'TLR_END'
                $(params.lines)
                TLR_END
                head -c -1 /tmp/v > /tmp/value
                wc -l < /tmp/value | tr -d ' \\n' > "$(results.count.path)"
                sha256sum /tmp/value | cut -d' ' -f1 | tr -d '\\n' > "$(results.sha256.path)"
`;

async function runIt(namespace: string): Promise<RunObject> {
  const name = await create(cluster, namespace, RUN);
  return waitDone(cluster, namespace, 'pipelinerun', name);
}

/**
 * Runs the pipeline and checks that it succeeded and that the consumer got exactly the 40,000 lines the non-root
 * producer wrote; returns the storage class of the run's volume.
 */
async function deliveredOn(t: ExecutionContext, ns: string): Promise<string> {
  const run = await runIt(ns);
  t.is(succeeded(run)?.status, 'True', `${succeeded(run)?.message ?? ''}\n${await report(cluster, ns)}`);
  const producer = await taskRunOf(cluster, ns, run, 'produce');
  const consumer = await taskRunOf(cluster, ns, run, 'consume');
  t.is(resultOf(consumer, 'count'), '40000');
  t.is(resultOf(consumer, 'sha256'), referenceOf(producer, 'lines')?.sha256);
  return (await cluster.kubectl(['-n', ns, 'get', 'pvc', '-o', 'jsonpath={.items[*].spec.storageClassName}'])).stdout;
}

test('a non-root producer on a volume whose CSI driver applies fsGroup: works with the defaults', async (t) => {
  const ns = await testNamespace(t, cluster, 'nonroot');
  t.is(await deliveredOn(t, ns), 'tlr-hostpath', 'the default class (fsGroupPolicy: File)');
});

test('a volume whose driver ignores fsGroup: tlr-prepare fails and says whose the root is and the ways out', async (t) => {
  const ns = await testNamespace(t, cluster, 'nonroot');
  await setNamespaceConfig(t, cluster, ns, { storageClassName: 'tlr-hostpath-default-policy' });
  const run = await runIt(ns);
  t.is(succeeded(run)?.status, 'False', 'the run fails');
  const producer = await taskRunOf(cluster, ns, run, 'produce');
  const { step, log } = await failedStepLog(cluster, ns, producer);
  t.is(step, 'tlr-prepare', `the first step fails: ${await report(cluster, ns)}`);
  t.regex(log, /cannot write results into \/tlr\/results\/produce: \/tlr\/results\/produce is owned by uid 0 gid 0 with mode 0755/, log);
  t.regex(log, /this step runs as uid 65532/, log);
  t.regex(log, /prepareRunAsRoot/, log);
  t.regex(log, /fsGroupPolicy/, log);
});

test('a volume whose driver ignores fsGroup, with prepareRunAsRoot for the namespace: the non-root producer works', async (t) => {
  const ns = await testNamespace(t, cluster, 'nonroot');
  await setNamespaceConfig(t, cluster, ns, { storageClassName: 'tlr-hostpath-default-policy', prepareRunAsRoot: 'true' });
  t.is(await deliveredOn(t, ns), 'tlr-hostpath-default-policy');
});
