/**
 * Rewrite latency for a 100-task pipeline: every task produces a reference result consumed by the next one's script.
 * Reported as p50/p99 over many iterations, with a same-process baseline (a structuredClone of the same run, the
 * floor any copy-then-edit transform pays) so the numbers survive noisy machines as ratios.
 */
import { performance } from 'node:perf_hooks';
import type { PipelineRun, PipelineTask } from '../../src/api/tekton.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import type { BenchResult } from './init-bench.js';

export function pipelineRunWithTasks(count: number): PipelineRun {
  const tasks: PipelineTask[] = [];
  for (let i = 0; i < count; i++) {
    tasks.push({
      name: `task-${i}`,
      ...(i > 0 ? { params: [{ name: 'input', value: `$(tasks.task-${i - 1}.results.out)` }] } : {}),
      taskSpec: {
        ...(i > 0 ? { params: [{ name: 'input' }] } : {}),
        results: [{ name: 'out', storage: 'reference' }, { name: 'small' }],
        steps: [
          { name: 'build', image: 'bash', script: `#!/bin/bash\nset -e\ncat > /tmp/in <<'EOF'\n${i > 0 ? '$(params.input)' : 'seed'}\nEOF\nsha256sum /tmp/in > $(results.out.path)\necho -n ok > $(results.small.path)\n` },
          { name: 'report', image: 'bash', args: ['--verbose'], env: [{ name: 'LEVEL', value: 'debug' }], script: 'echo done' },
        ],
      },
    });
  }
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    metadata: { name: 'bench', namespace: 'default' },
    spec: { pipelineSpec: { resultWorkspace: { name: 'results' }, tasks } },
  };
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

export function runRewriteBenchmark(iterations = 2000): BenchResult[] {
  const run = pipelineRunWithTasks(100);
  const options = { config: parseConfig({}), featureFlags: parseFeatureFlags({}) };
  for (let i = 0; i < 200; i++) rewritePipelineRun(run, options); // warm up the JIT
  const rewrite: number[] = [];
  const baseline: number[] = [];
  for (let i = 0; i < iterations; i++) {
    let t0 = performance.now();
    structuredClone(run);
    baseline.push(performance.now() - t0);
    t0 = performance.now();
    rewritePipelineRun(run, options);
    rewrite.push(performance.now() - t0);
  }
  rewrite.sort((a, b) => a - b);
  baseline.sort((a, b) => a - b);
  const p50 = percentile(rewrite, 50);
  const p99 = percentile(rewrite, 99);
  return [
    { name: 'rewrite 100-task PipelineRun p50', value: p50, unit: 'ms' },
    { name: 'rewrite 100-task PipelineRun p99', value: p99, unit: 'ms', note: 'target <= 5 ms' },
    { name: 'structuredClone of the same run p50 (baseline)', value: percentile(baseline, 50), unit: 'ms' },
    { name: 'rewrite p50 / clone p50', value: p50 / percentile(baseline, 50), unit: 'x' },
  ];
}
