/**
 * `npm run bench`: the project's speed and memory targets, measured (never asserted in tests).
 *   - tlr-init substitute of a 1 GiB result vs cat of the same file; seal vs sha256sum; peak RSS of each;
 *   - the rewrite of a 100-task pipeline (p50/p99);
 *   - admission: the webhook's HTTPS round trip, and the most costly ~3 MiB requests with /healthz latency meanwhile;
 *   - on the real API server: 1,000 runs provisioned and released by the controller;
 *   - on the real cluster (needs root): runs passing 1 KiB, 16 MiB and 1 GiB vs baselines, tlr fetch vs kubectl exec cat.
 * TLR_BENCH_ONLY=init|rewrite|admission|cluster|node runs one group (cluster: admission and the controller).
 * TLR_BENCH_SIZE (bytes) and TLR_BENCH_DIR (a directory on the disk to measure) change the defaults.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInitBenchmarks, type BenchResult } from './init-bench.js';
import { runRewriteBenchmark } from './rewrite-bench.js';
import { runControllerBenchmark, runWebhookBenchmark } from './cluster-bench.js';
import { runWorstCaseBenchmark } from './worst-case-bench.js';
import { runNodeBenchmarks } from './node-bench.js';

function print(title: string, results: BenchResult[]): void {
  console.log(`\n${title}`);
  for (const r of results) {
    const value = r.unit === 'ms' ? r.value.toFixed(3) : r.value.toFixed(r.unit === 'x' ? 3 : 1);
    console.log(`  ${r.name.padEnd(58)} ${value.padStart(10)} ${r.unit}${r.note ? `   (${r.note})` : ''}`);
  }
}

const size = Number(process.env.TLR_BENCH_SIZE ?? 1024 ** 3);
const dir = await mkdtemp(join(process.env.TLR_BENCH_DIR ?? tmpdir(), 'tlr-bench-'));
try {
  const only = process.env.TLR_BENCH_ONLY;
  if (!only || only === 'rewrite') print('rewrite (pure core)', runRewriteBenchmark());
  if (!only || only === 'init') print(`tlr-init on ${(size / 1024 ** 2).toFixed(0)} MiB (${dir})`, await runInitBenchmarks({ sizeBytes: size, dir, ...(process.env.TLR_BENCH_BEFORE_INIT ? { beforeCli: process.env.TLR_BENCH_BEFORE_INIT } : {}) }));
  if (!only || only === 'cluster' || only === 'admission') {
    print('admission webhook (HTTPS, in-process server, keep-alive client)', await runWebhookBenchmark());
    print('admission webhook, worst cases the API server accepts (~3 MiB), /healthz probed meanwhile', await runWorstCaseBenchmark());
  }
  if (!only || only === 'cluster') print('controller on the real API server', await runControllerBenchmark(Number(process.env.TLR_BENCH_RUNS ?? 1000)));
  if (!only || only === 'node') print('on the real cluster (kubelet, containerd, Tekton v1.15.0; wall time create -> done)', await runNodeBenchmarks());
} finally {
  await rm(dir, { recursive: true, force: true });
}
