/**
 * The seal step's termination message carries every reference of its task; Tekton fails a step whose message is over
 * 4096 bytes. The rewrite computes it (test/e2e-cluster/termination.test.ts runs the largest that fits on Tekton).
 */
import test from 'ava';
import type { PipelineRun } from '../../src/api/tekton.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { sealMessageBytes } from '../../src/core/termination-budget.js';
import { optedInRun } from './run-fixture.js';

const config = parseConfig({});

function run(count: number): PipelineRun {
  const names = Array.from({ length: count }, (_, i) => `result-${i}`);
  return optedInRun([{
    name: 'build',
    taskSpec: {
      results: [...names.map((name) => ({ name, storage: 'reference' })), { name: 'classic' }],
      steps: [{ name: 'w', image: 'bash', script: names.map((n) => `echo > $(results.${n}.path)`).join('\n') }],
    },
  }]);
}

test('20 references fit in the seal step’s 4096 bytes; 21 are refused with the numbers and the ways out', (t) => {
  const featureFlags = parseFeatureFlags({});
  t.notThrows(() => rewritePipelineRun(run(20), { config, featureFlags }));
  const error = t.throws(() => rewritePipelineRun(run(21), { config, featureFlags }));
  t.regex(
    error?.message ?? '',
    /spec\.pipelineSpec\.tasks\[0\]\.taskSpec\.results: pipeline task "build": its 21 results stored by reference put 4\d{3} bytes into its tlr-seal step's termination message \(each reference up to 156 bytes with its name\), over the 4096 bytes Tekton takes from a container \(feature flag results-from: termination-message\), before its 1 classic result\(s\); expected them to fit\..*enable-termination-message-compression.*results-from: sidecar-logs/,
  );
});

test('with compression about 69 fit, and beyond that it is a warning (an estimate); sidecar-logs has no such limit', (t) => {
  const compressed = parseFeatureFlags({ 'enable-termination-message-compression': 'True' });
  t.true(compressed.terminationMessageCompression, "read as Go's ParseBool reads it");
  const out = rewritePipelineRun(run(80), { config, featureFlags: compressed });
  t.regex(out.diagnostics.find((d) => d.severity === 'warning' && /termination message/.test(d.message))?.message ?? '', /put an estimated \d+ bytes .*\(compressed, /);
  t.false(rewritePipelineRun(run(60), { config, featureFlags: compressed }).diagnostics.some((d) => /termination message/.test(d.message)));
  t.is(sealMessageBytes('build', ['a'], 1 << 30, parseFeatureFlags({ 'results-from': 'sidecar-logs' })), undefined);
  const error = t.throws(() => parseFeatureFlags({ 'enable-termination-message-compression': 'yes' }));
  t.regex(error?.message ?? '', /enable-termination-message-compression.*found "yes"/);
});

test('the computed size is an upper bound: the longest size and zone forms, the run’s 36-character uid', (t) => {
  const flags = parseFeatureFlags({});
  const one = sealMessageBytes('build', ['r'], 1 << 30, flags)?.bytes ?? 0;
  // [{"key":"StartedAt","value":"2026-12-02T08:00:00.000+00:00","type":3},{"key":"r","value":"<ref>","type":1}]
  const ref = `[[tlr:v1:sha256=${'0'.repeat(64)}:size=9999999999:path=${'0'.repeat(36)}/build/r]]`;
  t.is(one, `[{"key":"StartedAt","value":"2026-12-02T08:00:00.000+00:00","type":3},{"key":"r","value":"${ref}","type":1}]`.length);
});
