/**
 * The webhook under the most costly requests the API server can send (worst-case.ts, ~3 MiB each): the round trip of
 * each (p50/p99 over TLR_BENCH_WORST_ITERATIONS requests, default 20, one at a time over a keep-alive connection) and,
 * measured at the same time over a second connection, the latency of GET /healthz (what the kubelet's probe and every
 * other admission request wait for while the event loop is busy). The webhook runs alone in a child process
 * (webhook-process.ts) with its defaults (worker threads, 4 s deadline), whose peak RSS is reported.
 * TLR_BENCH_WORST_CASES=0,2 runs only those cases (by index).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { makePair } from '../webhook/https-support.js';
import type { BenchResult } from './init-bench.js';
import { percentile } from './rewrite-bench.js';
import { worstCases } from './worst-case.js';

/** One request; a failed connection (the server resetting it) is an answer too: `000 <error code>`. */
function call(agent: Agent, port: number, path: string, body?: string): Promise<string> {
  return send(agent, port, path, body).catch((error: unknown) => `000 ${(error as { code?: string }).code ?? String(error)}`);
}

function send(agent: Agent, port: number, path: string, body?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, method: body === undefined ? 'GET' : 'POST', agent, headers: body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(`${res.statusCode ?? 0} ${Buffer.concat(chunks).toString()}`));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** How the webhook answered: allowed, patched, denied 422, error 500 (e.g. the deadline), or the HTTP status. */
function outcome(answer: string): string {
  const [status, ...rest] = answer.split(' ');
  if (status === '000') return `connection failed (${rest.join(' ')})`;
  if (status !== '200') return `HTTP ${status}`;
  const response = (JSON.parse(rest.join(' ')) as { response: { allowed: boolean; patch?: string; status?: { code: number } } }).response;
  if (response.allowed) return response.patch !== undefined ? 'patched' : 'allowed';
  return `denied ${response.status?.code ?? '?'}`;
}

export async function runWorstCaseBenchmark(iterations = Number(process.env.TLR_BENCH_WORST_ITERATIONS ?? 20)): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'tlr-bench-worst-'));
  const pair = await makePair(dir, 'bench');
  // With the NODE_OPTIONS of the shipped Deployment (its heap cap), as in the cluster.
  const nodeOptions = /name: NODE_OPTIONS\s+value: "?([^"\n]+)"?/.exec(readFileSync('config/400-webhook.yaml', 'utf8'))?.[1]?.trim() ?? '';
  const child = spawn(process.execPath, [fileURLToPath(new URL('./webhook-process.js', import.meta.url)), pair.certFile, pair.keyFile], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, NODE_OPTIONS: nodeOptions },
  });
  const server = await new Promise<{ port: number }>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (line) => resolve(JSON.parse(line) as { port: number }));
    child.once('exit', (code) => reject(new Error(`the webhook process exited with ${code}`)));
  });
  const reviews = new Agent({ keepAlive: true, maxSockets: 1, ca: pair.cert });
  const probes = new Agent({ keepAlive: true, maxSockets: 1, ca: pair.cert });
  const results: BenchResult[] = [];
  try {
    await call(probes, server.port, '/healthz');
    const only = process.env.TLR_BENCH_WORST_CASES?.split(',').map(Number);
    for (const [index, { name, run }] of worstCases().entries()) {
      if (only !== undefined && !only.includes(index)) continue;
      const body = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'bench', kind: { group: 'tekton.dev', version: 'v1', kind: 'PipelineRun' }, namespace: 'default', operation: 'CREATE', object: run } });
      const health: number[] = [];
      let done = false;
      const probing = (async (): Promise<void> => {
        while (!done) {
          const t0 = performance.now();
          await call(probes, server.port, '/healthz');
          health.push(performance.now() - t0);
        }
      })();
      const times: number[] = [];
      const outcomes = new Set<string>();
      for (let i = 0; i < iterations; i++) {
        const t0 = performance.now();
        outcomes.add(outcome(await call(reviews, server.port, '/mutate/pipelineruns', body)));
        times.push(performance.now() - t0);
      }
      done = true;
      await probing;
      times.sort((a, b) => a - b);
      health.sort((a, b) => a - b);
      const note = `${(body.length / 1024 / 1024).toFixed(2)} MiB review, ${[...outcomes].join('/')}, ${iterations} requests`;
      results.push(
        { name: `${name}: round trip p50`, value: percentile(times, 50), unit: 'ms', note },
        { name: `${name}: round trip p99`, value: percentile(times, 99), unit: 'ms' },
        { name: `${name}: /healthz meanwhile p50`, value: percentile(health, 50), unit: 'ms', note: `${health.length} probes` },
        { name: `${name}: /healthz meanwhile p99`, value: percentile(health, 99), unit: 'ms' },
        { name: `${name}: /healthz meanwhile max`, value: health.at(-1) ?? NaN, unit: 'ms' },
      );
    }
    const peak = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
    results.push({ name: 'webhook process peak RSS (VmHWM)', value: peak, unit: 'MiB', note: `main thread and worker threads; NODE_OPTIONS=${nodeOptions}` });
  } finally {
    reviews.destroy();
    probes.destroy();
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}
