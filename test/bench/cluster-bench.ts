/**
 * Cluster-side benchmarks, on the real kube-apiserver + etcd of the test harness:
 *   - the webhook's HTTPS round trip for a 100-task opted-in PipelineRun (p50/p99), against two baselines measured
 *     in the same process over the same keep-alive TLS connection: GET /healthz (the TLS + HTTP floor) and the
 *     same-size run that did not opt in;
 *   - 1,000 opted-in PipelineRuns created at once, each rewritten by the webhook at admission: time until all are
 *     created; then all finished, each with the PVC Tekton would have made from its volumeClaimTemplate: time until
 *     `tlr controller` (a child process running as its ServiceAccount, retention on-completion) deleted every one,
 *     and the controller's peak RSS (VmHWM).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import { ANNOTATION_REWRITTEN } from '../../src/api/names.js';
import { LABEL_RESULT_VOLUME } from '../../src/controller/reconciler.js';
import type { PipelineRun } from '../../src/api/tekton.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { startWebhookServer } from '../../src/webhook/server.js';
import { startCluster } from '../support/cluster.js';
import { CONTROLLER_SA, createRun, freePort, sampleOptedInRun, startTlrEnvironment } from '../support/tlr-env.js';
import type { BenchResult } from './init-bench.js';
import { percentile, pipelineRunWithTasks } from './rewrite-bench.js';

function post(agent: Agent, port: number, path: string, body: string | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: body === undefined ? 'GET' : 'POST', agent, headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString()) : reject(new Error(`HTTP ${res.statusCode}`))));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function review(run: PipelineRun, uid: string): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: 'tekton.dev', version: 'v1', kind: 'PipelineRun' },
      resource: { group: 'tekton.dev', version: 'v1', resource: 'pipelineruns' },
      operation: 'CREATE',
      namespace: 'default',
      name: run.metadata?.name,
      userInfo: { username: 'bench' },
      object: run,
    },
  });
}

function notOptedIn(run: PipelineRun): PipelineRun {
  const text = JSON.stringify(run).replace(/"resultWorkspace":\{"name":"results"\},/g, '').replace(/,"storage":"reference"/g, '');
  return JSON.parse(text) as PipelineRun;
}

async function timeRequests(iterations: number, send: () => Promise<unknown>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    await send();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b);
}

export async function runWebhookBenchmark(iterations = 1000): Promise<BenchResult[]> {
  const cluster = await startCluster({ tektonCrds: false });
  const dir = mkdtempSync(join(tmpdir(), 'tlr-bench-webhook-'));
  try {
    const cert = await cluster.issueServingCert(['127.0.0.1']);
    writeFileSync(join(dir, 'tls.crt'), cert.certPem);
    writeFileSync(join(dir, 'tls.key'), cert.keyPem);
    const server = await startWebhookServer({
      port: 0,
      host: '127.0.0.1',
      certFile: join(dir, 'tls.crt'),
      keyFile: join(dir, 'tls.key'),
      settings: { config: () => parseConfig({}), featureFlags: () => parseFeatureFlags({}) },
      logger: pino({ level: 'silent' }),
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: cert.caPem });
    const run = pipelineRunWithTasks(100);
    const opted = review(run, 'u');
    const plain = review(notOptedIn(run), 'u');
    const answer = JSON.parse(await post(agent, server.port, '/mutate/pipelineruns', opted)) as { response: { patch?: string } };
    if (answer.response.patch === undefined) throw new Error('the opted-in run got no patch: not a valid benchmark');
    for (let i = 0; i < 100; i++) await post(agent, server.port, '/mutate/pipelineruns', opted);
    const floor: number[] = [];
    const optedTimes: number[] = [];
    const plainTimes: number[] = [];
    // Interleaved so that machine noise hits all three alike.
    for (let i = 0; i < iterations; i++) {
      floor.push(...(await timeRequests(1, () => post(agent, server.port, '/healthz', undefined))));
      optedTimes.push(...(await timeRequests(1, () => post(agent, server.port, '/mutate/pipelineruns', opted))));
      plainTimes.push(...(await timeRequests(1, () => post(agent, server.port, '/mutate/pipelineruns', plain))));
    }
    [floor, optedTimes, plainTimes].forEach((a) => a.sort((x, y) => x - y));
    agent.destroy();
    await server.close();
    return [
      { name: 'webhook round trip, 100-task opted-in run p50', value: percentile(optedTimes, 50), unit: 'ms', note: `${(opted.length / 1024).toFixed(0)} KiB review` },
      { name: 'webhook round trip, 100-task opted-in run p99', value: percentile(optedTimes, 99), unit: 'ms', note: 'target <= 20 ms' },
      { name: 'webhook round trip, same run not opted in p50', value: percentile(plainTimes, 50), unit: 'ms' },
      { name: 'GET /healthz over the same TLS connection p50 (floor)', value: percentile(floor, 50), unit: 'ms' },
      { name: 'opted-in p50 / not-opted-in p50', value: percentile(optedTimes, 50) / percentile(plainTimes, 50), unit: 'x' },
    ];
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** NODE_OPTIONS of the controller container in config/400-controller.yaml. */
function deploymentNodeOptions(): string {
  const text = readFileSync('config/400-controller.yaml', 'utf8');
  return /name: NODE_OPTIONS\s+value: "?([^"\n]+)"?/.exec(text)?.[1]?.trim() ?? '';
}


/** What Tekton does for a run: the PVC from its volumeClaimTemplate when it starts, the Succeeded condition when it ends. */
async function finish(env: Awaited<ReturnType<typeof startTlrEnvironment>>, run: PipelineRun): Promise<void> {
  const template = run.spec.workspaces?.find((w) => w.volumeClaimTemplate !== undefined)?.volumeClaimTemplate as V1PersistentVolumeClaim;
  await env.core.createNamespacedPersistentVolumeClaim({
    namespace: 'demo',
    body: { ...template, metadata: { ...template.metadata, name: `pvc-${(run.metadata?.uid ?? '').slice(0, 10)}`, ownerReferences: [{ apiVersion: 'tekton.dev/v1', kind: 'PipelineRun', name: run.metadata?.name ?? '', uid: run.metadata?.uid ?? '' }] } },
  });
  const now = new Date().toISOString();
  await env.custom.replaceNamespacedCustomObjectStatus({
    group: 'tekton.dev', version: 'v1', namespace: 'demo', plural: 'pipelineruns', name: run.metadata?.name ?? '',
    body: { ...run, status: { startTime: now, completionTime: now, conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded', lastTransitionTime: now }] } },
  });
}

export async function runControllerBenchmark(total = 1000, concurrency = 32): Promise<BenchResult[]> {
  const env = await startTlrEnvironment({ start: false, config: { retention: 'on-completion' } });
  const dir = mkdtempSync(join(tmpdir(), 'tlr-bench-controller-'));
  try {
    await env.startWebhook();
    const kubeconfig = join(dir, 'controller.kubeconfig');
    writeFileSync(kubeconfig, env.cluster.kubeConfigAs(CONTROLLER_SA).exportConfig());
    // The process runs with the NODE_OPTIONS the shipped Deployment sets (heap cap), as it would in the cluster.
    const nodeOptions = deploymentNodeOptions();
    const httpPort = await freePort();
    const child = spawn(process.execPath, ['dist/src/cli/main.js', 'controller', '--kubeconfig', kubeconfig, '--http-port', String(httpPort), '--workers', '8', '--log-level', 'warn'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, NODE_OPTIONS: nodeOptions, ...(process.env.BENCH_ARENA ? { MALLOC_ARENA_MAX: process.env.BENCH_ARENA } : {}) },
    });
    const peak = (): number => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
    // Ready when the Lease shows it leads (its logs are at warn level): poll the Lease.
    const started = performance.now();
    for (;;) {
      const lease = await env.cluster.kubeConfig
        .makeApiClient((await import('@kubernetes/client-node')).CoordinationV1Api)
        .readNamespacedLease({ name: 'tlr-controller', namespace: 'tlr-system' })
        .catch(() => undefined);
      if (lease?.spec?.holderIdentity) break;
      if (performance.now() - started > 30_000) throw new Error('controller did not take the lease');
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 500));
    const idleRss = peak();
    createInterface({ input: child.stdout }).on('line', () => undefined);

    const t0 = performance.now();
    let next = 0;
    const names: string[] = [];
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) {
          next++;
          const created = await createRun(env, sampleOptedInRun('load'));
          names.push(created.metadata?.name ?? '');
        }
      }),
    );
    const created = performance.now() - t0;
    // Every run finished, with the PVC Tekton makes from its volumeClaimTemplate (labelled, owned by the run).
    const list = (await env.custom.listNamespacedCustomObject({ group: 'tekton.dev', version: 'v1', namespace: 'demo', plural: 'pipelineruns' })) as { items: PipelineRun[] };
    const rewritten = list.items.filter((r) => r.metadata?.annotations?.[ANNOTATION_REWRITTEN] !== undefined);
    let finishing = 0;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (finishing < rewritten.length) {
        const run = rewritten[finishing++];
        if (run) await finish(env, run);
      }
    }));
    const t1 = performance.now();
    let left = total;
    for (;;) {
      left = (await env.core.listNamespacedPersistentVolumeClaim({ namespace: 'demo', labelSelector: LABEL_RESULT_VOLUME })).items.filter((p) => p.metadata?.deletionTimestamp === undefined).length;
      if (left === 0 || performance.now() - t1 > 300_000) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const retention = performance.now() - t1;
    const rss = peak();
    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    const gauge = (name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN) / 1024 ** 2;
    const breakdown = `now: rss ${gauge('process_resident_memory_bytes').toFixed(0)}, heap used ${gauge('nodejs_heap_size_used_bytes').toFixed(0)}, external ${gauge('nodejs_external_memory_bytes').toFixed(0)} MiB`;
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    if (rewritten.length < total || left > 0) throw new Error(`${rewritten.length}/${total} rewritten at admission, ${left} result PVCs left`);
    return [
      { name: `${total} runs: all created, each rewritten at admission`, value: created / 1000, unit: 's', note: `${concurrency} concurrent creates through the webhook` },
      { name: `${total} finished runs: every result PVC deleted (retention on-completion)`, value: retention / 1000, unit: 's', note: 'from the last run marked finished' },
      { name: 'controller peak RSS (VmHWM)', value: rss, unit: 'MiB', note: `target: below the Deployment's 384 MiB limit; ${idleRss.toFixed(0)} MiB idle before the load; NODE_OPTIONS=${nodeOptions}; ${breakdown}` },
    ];
  } finally {
    await env.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
