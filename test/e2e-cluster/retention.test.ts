/**
 * Retention of result volumes on the real cluster, with Tekton making the PVC from the run's volumeClaimTemplate,
 * the garbage collector of kube-controller-manager, the CSI provisioner deleting the volume, and our controller:
 * - `with-run` (default): the PVC outlives the run's completion and goes with the run (ownerReference, GC);
 * - `on-completion`: the controller deletes it once the run is done;
 * - a duration: kept that long after completion, then deleted.
 * In every case the PersistentVolume goes too (reclaimPolicy Delete), so nothing is left on the node.
 */
import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import { until } from '../support/eventually.js';
import { connectCluster, testNamespace, type E2eCluster } from '../support/node/e2e-cluster.js';
import { create, report, succeeded, waitDone } from '../support/node/runs.js';
import { setNamespaceConfig } from '../support/node/tlr-config.js';

let cluster: E2eCluster;

test.before(async () => {
  cluster = await connectCluster();
});

test.after.always(async () => {
  await cluster?.release();
});

const RUN = `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  generateName: keep-
spec:
  pipelineSpec:
    resultWorkspace:
      name: results
    tasks:
      - name: make
        taskSpec:
          results:
            - name: blob
              type: stringReference
          steps:
            - name: write
              image: docker.io/library/busybox:1.35
              script: |
                #!/bin/sh
                seq 1 10000 > "$(results.blob.path)"
`;

interface Claim { readonly name: string; readonly volume: string }

async function claims(ns: string): Promise<Claim[]> {
  const { stdout } = await cluster.kubectl(['-n', ns, 'get', 'pvc', '-o', 'jsonpath={range .items[*]}{.metadata.name} {.spec.volumeName}{"\\n"}{end}']);
  return stdout.split('\n').filter(Boolean).map((line) => {
    const [name = '', volume = ''] = line.split(' ');
    return { name, volume };
  });
}

async function volumeExists(pv: string): Promise<boolean> {
  const r = await cluster.kubectl(['get', 'pv', pv, '-o', 'name'], { allowFailure: true });
  return r.code === 0;
}

async function completedRun(ns: string): Promise<{ name: string; claim: Claim; completedAt: number }> {
  const name = await create(cluster, ns, RUN);
  const run = await waitDone(cluster, ns, 'pipelinerun', name);
  if (succeeded(run)?.status !== 'True') throw new Error(`run ${ns}/${name} did not succeed\n${await report(cluster, ns)}`);
  const [claim] = await claims(ns);
  if (!claim?.volume) throw new Error(`run ${ns}/${name} left no bound PVC\n${await report(cluster, ns)}`);
  return { name, claim, completedAt: Date.parse(run.status?.completionTime ?? '') };
}

test('with-run: the volume outlives completion and goes with the run (garbage collector, then the provisioner)', async (t) => {
  const ns = await testNamespace(t, cluster, 'keep');
  const { name, claim } = await completedRun(ns);
  await sleep(5000); // the controller has seen the completion by now
  t.deepEqual((await claims(ns)).map((c) => c.name), [claim.name], 'kept after completion');
  await cluster.kubectl(['-n', ns, 'delete', 'pipelinerun', name, '--wait=false']);
  await until(async () => (await claims(ns)).length === 0, 'the PVC goes with the run', 120_000, 1000);
  await until(async () => !(await volumeExists(claim.volume)), `the PV ${claim.volume} is deleted`, 120_000, 1000);
});

test('on-completion: the controller deletes the volume once the run is done; the run stays', async (t) => {
  const ns = await testNamespace(t, cluster, 'keep');
  await setNamespaceConfig(t, cluster, ns, { retention: 'on-completion' });
  const { name, claim } = await completedRun(ns);
  await until(async () => (await claims(ns)).length === 0, `the PVC is deleted`, 120_000, 1000);
  await until(async () => !(await volumeExists(claim.volume)), `the PV ${claim.volume} is deleted`, 120_000, 1000);
  const kept = await cluster.kubectl(['-n', ns, 'get', 'pipelinerun', name, '-o', 'name'], { allowFailure: true });
  t.is(kept.code, 0, 'the PipelineRun is left alone');
});

test('a duration (20s): kept that long after completion, then deleted', async (t) => {
  const ns = await testNamespace(t, cluster, 'keep');
  await setNamespaceConfig(t, cluster, ns, { retention: '20s' });
  const { claim, completedAt } = await completedRun(ns);
  await sleep(Math.max(0, completedAt + 8000 - Date.now()));
  t.deepEqual((await claims(ns)).map((c) => c.name), [claim.name], 'still there 8 s after completion');
  await until(async () => (await claims(ns)).length === 0, `the PVC is deleted`, 120_000, 1000);
  t.true(Date.now() - completedAt >= 20_000, 'not before the duration (from status.completionTime) passed');
  await until(async () => !(await volumeExists(claim.volume)), `the PV ${claim.volume} is deleted`, 120_000, 1000);
});

test('a PVC the user bound as the result workspace is never deleted, even with on-completion', async (t) => {
  const ns = await testNamespace(t, cluster, 'keep');
  await setNamespaceConfig(t, cluster, ns, { retention: 'on-completion' });
  const pvc = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'mine' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } };
  await cluster.kubectl(['-n', ns, 'apply', '-f', '-'], { input: JSON.stringify(pvc) });
  const yaml = RUN.replace('spec:\n  pipelineSpec:', 'spec:\n  workspaces:\n    - name: results\n      persistentVolumeClaim:\n        claimName: mine\n  pipelineSpec:');
  const name = await create(cluster, ns, yaml);
  const run = await waitDone(cluster, ns, 'pipelinerun', name);
  t.is(succeeded(run)?.status, 'True', `${succeeded(run)?.message ?? ''}\n${await report(cluster, ns)}`);
  await sleep(10_000); // well past the controller's reaction to the completion
  const claim = await cluster.kubectl(['-n', ns, 'get', 'pvc', 'mine', '-o', 'jsonpath={.status.phase} {.metadata.deletionTimestamp}']);
  t.is(claim.stdout.trim(), 'Bound', 'bound, and not being deleted');
});
