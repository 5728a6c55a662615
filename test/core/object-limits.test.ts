/**
 * The limits of src/core/limits.ts, at their boundaries: each refusal names the limit and the numbers, and what is
 * just inside passes. Among them the run that only outgrows etcd once rewritten (a long mountPath turns every short
 * path token into a long path), which the rewrite must measure although small runs skip measuring.
 */
import test from 'ava';
import type { PipelineRun, PipelineTask } from '../../src/api/tekton.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { MAX_NESTING_DEPTH, MAX_OBJECT_BYTES, MAX_REFERENCE_RESULTS_PER_TASK, MAX_REPORTED_ERRORS } from '../../src/core/limits.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { measure } from '../../src/core/shape/measure.js';
import { RewriteError } from '../../src/errors.js';
import { nested } from '../support/run-arbitrary.js';

const options = { config: parseConfig({}), featureFlags: parseFeatureFlags({}) };

function run(tasks: PipelineTask[], params: PipelineRun['spec']['params'] = []): PipelineRun {
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    metadata: { name: 'limits', namespace: 'ci', annotations: { 'tlr.dev/result-workspace': 'results' } },
    spec: { params, pipelineSpec: { workspaces: [{ name: 'results' }], tasks } },
  };
}

function producer(name: string, results: string[], script = results.map((r) => `date > $(results.${r}.path)`).join('\n')): PipelineTask {
  return { name, taskSpec: { metadata: { annotations: { 'tlr.dev/reference-results': results.join(',') } }, results: results.map((r) => ({ name: r })), steps: [{ name: 's', image: 'bash', script }] } };
}

function refusal(input: PipelineRun, opts = options): string {
  try {
    rewritePipelineRun(input, opts);
  } catch (error) {
    if (error instanceof RewriteError) return error.message;
    throw error;
  }
  return '';
}

test(`results stored by reference per task: ${MAX_REFERENCE_RESULTS_PER_TASK} pass, one more is refused`, (t) => {
  const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `r${i}`);
  // With results carried in sidecar logs: in termination messages fewer fit (test/core/termination-budget.test.ts).
  const sidecarLogs = { ...options, featureFlags: parseFeatureFlags({ 'results-from': 'sidecar-logs' }) };
  t.is(refusal(run([producer('build', names(MAX_REFERENCE_RESULTS_PER_TASK))]), sidecarLogs), '');
  t.regex(refusal(run([producer('build', names(MAX_REFERENCE_RESULTS_PER_TASK + 1))])), new RegExp(`spec\\.pipelineSpec\\.tasks\\[0\\]\\.taskSpec\\.results: expected at most ${MAX_REFERENCE_RESULTS_PER_TASK} results stored by reference in one task, found ${MAX_REFERENCE_RESULTS_PER_TASK + 1}`));
});

test(`nesting: ${MAX_NESTING_DEPTH} levels pass, one more is refused naming where`, (t) => {
  // The run, spec, params, the param and its value are 5 levels; the value itself holds the rest.
  const within = run([producer('build', ['out'])], [{ name: 'p', value: nested(MAX_NESTING_DEPTH - 4) as string }]);
  t.is(measure(within, { maxBytes: Infinity, maxDepth: Infinity }).depth, MAX_NESTING_DEPTH);
  t.is(refusal(within), '');
  const beyond = run([producer('build', ['out'])], [{ name: 'p', value: nested(MAX_NESTING_DEPTH - 3) as string }]);
  t.regex(refusal(beyond), new RegExp(`spec\\.params\\[0\\]\\.value\\.a.*: expected maps and lists nested at most ${MAX_NESTING_DEPTH} deep`));
});

test('an object over what etcd stores is refused before anything walks it', (t) => {
  const big = run([producer('build', ['out'], 'x'.repeat(MAX_OBJECT_BYTES))]);
  t.regex(refusal(big), new RegExp(`^error: PipelineRun ci/limits: expected an object of at most ${MAX_OBJECT_BYTES} bytes as JSON \\(what etcd stores`));
});

test('a run whose producers alone would outgrow etcd is refused before the rewrite, with the sizes', (t) => {
  const tasks = Array.from({ length: 3000 }, (_, i) => producer(`t-${i}`, ['out']));
  t.regex(refusal(run(tasks)), /expected the rewritten object to fit in the 1572864 bytes etcd stores; found it would be more than \d+ bytes as JSON \(\d+ before the rewrite, at least \d+ added by its producers' steps\)/);
});

test('a small run that outgrows etcd only once its paths are rewritten is measured and refused', (t) => {
  // 25,000 literal paths of 17 characters: about 48 each with the default mountPath, about 240 with one of 200.
  const script = '/tekton/results/x '.repeat(25_000);
  const input = run([producer('build', ['x'], script)]);
  t.true(measure(input, { maxBytes: Infinity, maxDepth: Infinity }).bytes < MAX_OBJECT_BYTES);
  t.is(refusal(input), '', 'with the default mountPath it fits');
  const long = { config: parseConfig({ mountPath: `/${'m'.repeat(199)}` }), featureFlags: parseFeatureFlags({}) };
  t.regex(refusal(input, long), /^error: PipelineRun ci\/limits: expected the rewritten object to fit in the 1572864 bytes etcd stores, found about \d+ bytes as JSON/);
});

test(`a refusal lists at most ${MAX_REPORTED_ERRORS} errors and counts the rest`, (t) => {
  const tasks = Array.from({ length: 80 }, (_, i) => ({ name: `T${i}`, taskSpec: { steps: [{ image: 'bash' }] } }));
  const lines = refusal(run(tasks)).split('\n');
  t.is(lines.length, MAX_REPORTED_ERRORS + 1);
  t.is(lines.at(-1), `error: PipelineRun ci/limits: and 30 more errors (the first ${MAX_REPORTED_ERRORS} are listed)`);
});
