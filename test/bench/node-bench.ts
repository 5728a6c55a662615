/**
 * On the real cluster (test/support/node: kubelet, containerd, stock Tekton v1.15.0, ours as installed by
 * docs/install.md; two nodes): what passing a result costs, wall time from `kubectl create` until the run is done,
 * each case against a baseline run in the same session, rounds alternating, median of ROUNDS.
 *
 *   - 3 KiB: plain Tekton results (termination message, no volume) vs ours (reference on a fresh CSI volume);
 *     and the same 3 KiB passed by hand through a volumeClaimTemplate workspace (what users do without us, volume
 *     provisioning and the affinity assistant included): what our steps and init container add apart from the volume;
 *   - 1 MiB by value: Tekton's own `results-from: sidecar-logs` (max-result-size 1.5 MB) vs ours;
 *   - 1 GiB by path (the consumer hashes the file) vs the hand-made workspace passing the same bytes: sealing and
 *     verifying;
 *   - for each reference run, where the time goes (producer and consumer TaskRuns, tlr-prepare, tlr-seal,
 *     tlr-substitute, PV provisioning), from the recorded statuses (whole seconds);
 *   - `tlr fetch` of the 1 GiB result (reader pod, exec, verify while writing) vs `kubectl exec … cat` of the same
 *     file from a pod mounting the same volume.
 *
 * Uses the cluster in TLR_NODE_CLUSTER_STATE (e.g. the dev cluster's /run/tlr-dev-cluster/state.json) or starts one.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sha256File } from '../support/file-digest.js';
import { connectCluster, type E2eCluster } from '../support/node/e2e-cluster.js';
import { create, get, referenceOf, succeeded, taskRunOf, type RunObject } from '../support/node/runs.js';
import { setFeatureFlags } from '../support/node/tekton-flags.js';
import type { BenchResult } from './init-bench.js';

const ROUNDS = Number(process.env.TLR_BENCH_NODE_ROUNDS ?? 3);
const MIB = 1024 * 1024;
const BUSYBOX = 'docker.io/library/busybox:1.35';

type Mode = 'plain' | 'sidecar' | 'diy' | 'tlr';

/** A producer writing `bytes` of /dev/urandom and a consumer checking them, the way each mode passes a result. */
function pipelineRun(mode: Mode, bytes: number, byPath: boolean): string {
  // By value the bytes go through a script: text (base64 of random bytes, cut to size); by path, raw random bytes.
  const source = byPath ? `head -c ${bytes} /dev/urandom` : `head -c ${bytes} /dev/urandom | base64 | head -c ${bytes}`;
  const produce = {
    plain: { decl: '            - name: blob', out: '$(results.blob.path)', ws: '' },
    sidecar: { decl: '            - name: blob', out: '$(results.blob.path)', ws: '' },
    diy: { decl: '', out: '$(workspaces.data.path)/blob', ws: '        workspaces: [{name: data, workspace: data}]\n' },
    tlr: { decl: '            - name: blob\n              type: stringReference', out: '$(results.blob.path)', ws: '' },
  }[mode];
  // A sidecar-logs consumer cannot use a 1 MiB value in its script: Tekton puts scripts in the place-scripts init
  // container's arguments, and an argument over 128 KiB fails it (measured: "place-scripts" exited with code 1). So
  // that consumer receives the param and leaves it unused: what is measured is Tekton carrying the value.
  const use =
    mode === 'diy' ? 'sha256sum "$(workspaces.data.path)/blob"'
    : mode === 'sidecar' ? 'echo "received"'
    : byPath ? 'sha256sum "$(params.blob)"'
    : "cat > /tmp/v <<'TLR_END'\n                $(params.blob)\n                TLR_END\n                head -c -1 /tmp/v | sha256sum";
  const param = mode === 'diy' ? '' : `        params:\n          - name: blob\n            value: $(tasks.produce.results.blob${byPath ? '.path' : ''})\n`;
  return `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  generateName: bench-${mode}-
spec:
${mode === 'diy' ? `  workspaces:
    - name: data
      volumeClaimTemplate:
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 2Gi}}
` : ''}  pipelineSpec:
${mode === 'tlr' ? '    resultWorkspace:\n      name: results\n' : ''}${mode === 'diy' ? '    workspaces: [{name: data}]\n' : ''}    tasks:
      - name: produce
${produce.ws}        taskSpec:
${mode === 'diy' ? '          workspaces: [{name: data}]\n' : `          results:\n${produce.decl}\n`}          steps:
            - name: write
              image: ${BUSYBOX}
              script: |
                #!/bin/sh
                set -eu
                ${source} > "${produce.out}"
      - name: consume
        runAfter: [produce]
${mode === 'diy' ? '        workspaces: [{name: data, workspace: data}]\n' : param}        taskSpec:
${mode === 'diy' ? '          workspaces: [{name: data}]\n' : '          params: [{name: blob}]\n'}          steps:
            - name: use
              image: ${BUSYBOX}
              script: |
                #!/bin/sh
                set -eu
                ${use}
`;
}

async function timedRun(cluster: E2eCluster, ns: string, yaml: string): Promise<{ seconds: number; run: RunObject }> {
  const started = performance.now();
  const name = await create(cluster, ns, yaml);
  for (;;) {
    const run = await get(cluster, ns, 'pipelinerun', name);
    const status = succeeded(run)?.status;
    if (status === 'True') return { seconds: (performance.now() - started) / 1000, run };
    if (status === 'False') throw new Error(`bench run ${ns}/${name} failed: ${succeeded(run)?.message ?? ''}`);
    if (performance.now() - started > 300_000) throw new Error(`bench run ${ns}/${name} not done after 300 s`);
    await sleep(250);
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

interface Case {
  readonly name: string;
  readonly baseline: Mode;
  readonly bytes: number;
  readonly byPath: boolean;
}

const CASES: readonly Case[] = [
  { name: '3 KiB', baseline: 'plain', bytes: 3 * 1024, byPath: false },
  { name: '3 KiB', baseline: 'diy', bytes: 3 * 1024, byPath: false },
  { name: '1 MiB', baseline: 'sidecar', bytes: MIB, byPath: false },
  { name: '1 GiB by path', baseline: 'diy', bytes: 1024 * MIB, byPath: true },
];

const BASELINE_NAME: Record<Mode, string> = {
  plain: 'plain Tekton result', sidecar: 'Tekton results-from: sidecar-logs', diy: 'by hand through a workspace', tlr: 'reference',
};

/**
 * What Tekton's docs have an admin add for `results-from: sidecar-logs`: its controller reads the results sidecar's
 * log, and the release config does not let it (measured: "cannot get resource pods/log").
 */
const SIDECAR_LOGS_RBAC = JSON.stringify({
  apiVersion: 'v1', kind: 'List',
  items: [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'tlr-bench-tekton-pod-logs' }, rules: [{ apiGroups: [''], resources: ['pods/log'], verbs: ['get'] }] },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'tlr-bench-tekton-pod-logs' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'tlr-bench-tekton-pod-logs' },
      subjects: [{ kind: 'ServiceAccount', name: 'tekton-pipelines-controller', namespace: 'tekton-pipelines' }],
    },
  ],
});

/** Tekton's feature flags for a mode: sidecar-logs results (and a max-result-size that fits 1 MiB) only for that one. */
async function flagsFor(cluster: E2eCluster, mode: Mode, current: { sidecar: boolean }): Promise<void> {
  const sidecar = mode === 'sidecar';
  if (sidecar === current.sidecar) return;
  if (sidecar) await cluster.kubectl(['apply', '-f', '-'], { input: SIDECAR_LOGS_RBAC });
  await setFeatureFlags(cluster, sidecar ? { 'results-from': 'sidecar-logs', 'max-result-size': '1500000' } : { 'results-from': 'termination-message', 'max-result-size': '4096' });
  current.sidecar = sidecar;
}

/** Seconds between two RFC 3339 times (Kubernetes records whole seconds). */
function between(from: string | undefined, to: string | undefined): number {
  return from && to ? (Date.parse(to) - Date.parse(from)) / 1000 : NaN;
}

interface StepStatus { name: string; terminated?: { startedAt?: string; finishedAt?: string } }
interface PodTimes { status?: { initContainerStatuses?: { name: string; state?: { terminated?: { startedAt?: string; finishedAt?: string } } }[] } }

/** Where a reference run's time goes, from the statuses Kubernetes and Tekton record (whole seconds each). */
async function breakdown(cluster: E2eCluster, ns: string, run: RunObject): Promise<Record<string, number>> {
  const producer = await taskRunOf(cluster, ns, run, 'produce');
  const consumer = await taskRunOf(cluster, ns, run, 'consume');
  return {
    'producer TaskRun': between(producer.status?.startTime, producer.status?.completionTime),
    'consumer TaskRun': between(consumer.status?.startTime, consumer.status?.completionTime),
    'tlr-prepare step': stepSeconds(producer, 'tlr-prepare'),
    'tlr-seal step': stepSeconds(producer, 'tlr-seal'),
    'tlr-substitute init container': await substituteSeconds(cluster, ns, consumer),
    'PVC created -> PV provisioned': await provisioningSeconds(cluster, ns, run),
  };
}

function stepSeconds(taskRun: RunObject, name: string): number {
  const terminated = ((taskRun.status as { steps?: StepStatus[] } | undefined)?.steps ?? []).find((x) => x.name === name)?.terminated;
  return between(terminated?.startedAt, terminated?.finishedAt);
}

async function substituteSeconds(cluster: E2eCluster, ns: string, consumer: RunObject): Promise<number> {
  const pod = await get<PodTimes>(cluster, ns, 'pod', consumer.status?.podName ?? '');
  const terminated = pod.status?.initContainerStatuses?.find((c) => c.name === 'tlr-substitute')?.state?.terminated;
  return between(terminated?.startedAt, terminated?.finishedAt);
}

interface ClaimList { items: { metadata: { creationTimestamp: string; ownerReferences?: { uid: string }[] }; spec: { volumeName?: string } }[] }

async function provisioningSeconds(cluster: E2eCluster, ns: string, run: RunObject): Promise<number> {
  const pvcs = JSON.parse((await cluster.kubectl(['-n', ns, 'get', 'pvc', '-o', 'json'])).stdout) as ClaimList;
  const pvc = pvcs.items.find((p) => p.metadata.ownerReferences?.some((o) => o.uid === run.metadata.uid));
  if (!pvc?.spec.volumeName) return NaN;
  const pv = JSON.parse((await cluster.kubectl(['get', 'pv', pvc.spec.volumeName, '-o', 'json'])).stdout) as { metadata: { creationTimestamp: string } };
  return between(pvc.metadata.creationTimestamp, pv.metadata.creationTimestamp);
}

function execute(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/** `tlr fetch` of the run's 1 GiB result vs `kubectl exec cat` of the same file, alternating; verified both ways. */
async function fetchBench(cluster: E2eCluster, ns: string, run: RunObject, dir: string): Promise<BenchResult[]> {
  const producer = await taskRunOf(cluster, ns, run, 'produce');
  const reference = referenceOf(producer, 'blob');
  const claim = producer.spec.workspaces as { name: string; persistentVolumeClaim?: { claimName: string } }[] | undefined;
  const pvc = claim?.find((w) => w.persistentVolumeClaim)?.persistentVolumeClaim?.claimName;
  if (!reference || !pvc) throw new Error('the 1 GiB run recorded no reference or volume');
  const reader = {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bench-cat' },
    spec: {
      containers: [{ name: 'c', image: BUSYBOX, command: ['sleep', '3600'], volumeMounts: [{ name: 'v', mountPath: '/v', readOnly: true }] }],
      volumes: [{ name: 'v', persistentVolumeClaim: { claimName: pvc, readOnly: true } }],
    },
  };
  await cluster.kubectl(['-n', ns, 'apply', '-f', '-'], { input: JSON.stringify(reader) });
  await cluster.kubectl(['-n', ns, 'wait', '--for=condition=Ready', 'pod/bench-cat', '--timeout=120s'], { timeoutMs: 130_000 });
  const kubectl = join(cluster.binaries.kubernetes, 'kubectl');
  const tlrTimes: number[] = [];
  const catTimes: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const out = join(dir, `fetch-${round}`);
    let started = performance.now();
    const fetched = await execute(process.execPath, ['dist/src/cli/main.js', 'fetch', run.metadata.name, 'produce.blob', '-n', ns, '-o', out], { ...process.env, KUBECONFIG: cluster.kubeConfigPath });
    tlrTimes.push((performance.now() - started) / 1000);
    if (fetched.code !== 0) throw new Error(`tlr fetch failed: ${fetched.stderr}`);
    await rm(out, { recursive: true, force: true });
    const file = join(dir, `cat-${round}`);
    started = performance.now();
    const cat = await execute('sh', ['-c', `"$0" --kubeconfig "$1" -n "$2" exec bench-cat -- cat "/v/$3" > "$4"`, kubectl, cluster.kubeConfigPath, ns, reference.path, file]);
    catTimes.push((performance.now() - started) / 1000);
    if (cat.code !== 0) throw new Error(`kubectl exec cat failed: ${cat.stderr}`);
    if (round === 0 && (await sha256File(file)) !== reference.sha256) throw new Error('kubectl exec cat: the bytes differ from the reference');
    await rm(file, { force: true });
  }
  const [t, c] = [median(tlrTimes), median(catTimes)];
  return [
    { name: 'tlr fetch 1 GiB (reader pod + exec + verify), median', value: t, unit: 's', note: `${(1024 / t).toFixed(0)} MiB/s` },
    { name: 'baseline: kubectl exec cat of the same file, median', value: c, unit: 's', note: `${(1024 / c).toFixed(0)} MiB/s` },
    { name: 'tlr fetch / kubectl exec cat', value: t / c, unit: 'x' },
  ];
}

export async function runNodeBenchmarks(): Promise<BenchResult[]> {
  const cluster = await connectCluster();
  const ns = `bench-${Date.now().toString(36)}`;
  const dir = await mkdtemp(join(tmpdir(), 'tlr-node-bench-'));
  const results: BenchResult[] = [];
  try {
    await cluster.kubectl(['create', 'namespace', ns]);
    let gib: RunObject | undefined;
    const flags = { sidecar: false };
    for (const c of CASES) {
      const times: Record<'base' | 'tlr', number[]> = { base: [], tlr: [] };
      const parts: Record<string, number[]> = {};
      for (let round = 0; round < ROUNDS; round++) {
        await flagsFor(cluster, c.baseline, flags);
        times.base.push((await timedRun(cluster, ns, pipelineRun(c.baseline, c.bytes, c.byPath))).seconds);
        await flagsFor(cluster, 'tlr', flags);
        const subject = await timedRun(cluster, ns, pipelineRun('tlr', c.bytes, c.byPath));
        times.tlr.push(subject.seconds);
        for (const [part, seconds] of Object.entries(await breakdown(cluster, ns, subject.run))) (parts[part] ??= []).push(seconds);
        if (c.bytes >= 1024 * MIB) gib = subject.run;
      }
      const [b, s] = [median(times.base), median(times.tlr)];
      results.push(
        { name: `${c.name}: ${BASELINE_NAME[c.baseline]}, median`, value: b, unit: 's', note: times.base.map((x) => x.toFixed(1)).join(' ') },
        { name: `${c.name}: reference (ours), median`, value: s, unit: 's', note: times.tlr.map((x) => x.toFixed(1)).join(' ') },
        { name: `${c.name}: added per PipelineRun vs ${BASELINE_NAME[c.baseline]}`, value: s - b, unit: 's', note: `${(s / b).toFixed(2)}x; per TaskRun ${((s - b) / 2).toFixed(2)} s` },
        ...Object.entries(parts).map(([part, values]) => ({ name: `${c.name}: ours, ${part}, median`, value: median(values), unit: 's', note: 'whole seconds as recorded' })),
      );
    }
    if (gib) results.push(...(await fetchBench(cluster, ns, gib, dir)));
  } finally {
    await setFeatureFlags(cluster, { 'results-from': 'termination-message', 'max-result-size': '4096' }).catch(() => undefined);
    await cluster.kubectl(['delete', '--ignore-not-found', '-f', '-'], { input: SIDECAR_LOGS_RBAC, allowFailure: true });
    await cluster.kubectl(['delete', 'namespace', ns, '--wait=false'], { allowFailure: true });
    await rm(dir, { recursive: true, force: true });
    await cluster.release();
  }
  return results;
}
