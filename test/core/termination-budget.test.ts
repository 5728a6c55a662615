/**
 * The seal step's termination message carries every reference of its task. Tekton fails a step whose message is over
 * 4096 bytes, and the kubelet keeps only 12288 bytes per pod, split among its containers, cutting each message at its
 * share: Tekton then drops every result in it and the run still succeeds. The rewrite computes both the message and
 * the pod's containers (test/e2e-cluster/termination.test.ts runs the largest that fits on Tekton and compares the
 * containers with the real pod's).
 */
import test from 'ava';
import type { EmbeddedTask, PipelineRun } from '../../src/api/tekton.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { containerMessageBudget, podContainers, sealMessageBytes } from '../../src/core/termination-budget.js';
import { optedInRun } from './run-fixture.js';

const config = parseConfig({});
const featureFlags = parseFeatureFlags({});

function names(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `result-${i}`);
}

function run(count: number, step: Record<string, unknown> = {}, classic: string[] = ['classic']): PipelineRun {
  return optedInRun([{
    name: 'build',
    taskSpec: {
      results: [...names(count).map((name) => ({ name, storage: 'reference' })), ...classic.map((name) => ({ name }))],
      steps: [{ name: 'w', image: 'bash', script: names(count).map((n) => `echo > $(results.${n}.path)`).join('\n'), ...step }],
    },
  }]);
}

/** The largest number of references the rewrite accepts for `make(n)`, and the refusal one more gets. */
function bound(make: (n: number) => PipelineRun): { fits: number; refusal: string } {
  let fits = 0;
  for (;;) {
    try {
      rewritePipelineRun(make(fits + 1), { config, featureFlags });
      fits += 1;
    } catch (error) {
      return { fits, refusal: (error as Error).message };
    }
  }
}

function taskOf(out: { object: PipelineRun }, name: string): EmbeddedTask {
  const task = (out.object.spec.pipelineSpec?.tasks ?? []).find((pt) => pt.name === name)?.taskSpec;
  if (task === undefined) throw new Error(`no task ${name}`);
  return task;
}

test('a script step, tlr-prepare and tlr-seal make a pod of 5 containers: 2457 bytes each; one reference more is refused with the numbers', (t) => {
  const out = rewritePipelineRun(run(1), { config, featureFlags });
  t.deepEqual(podContainers(taskOf(out, 'build')), { steps: 3, sidecars: 0, init: 2, total: 5 });
  t.is(containerMessageBudget(5), 2457);
  const { fits, refusal } = bound((n) => run(n));
  t.true((sealMessageBytes('build', names(fits), config.maxResultSize, featureFlags)?.bytes ?? 0) <= 2457);
  t.true((sealMessageBytes('build', names(fits + 1), config.maxResultSize, featureFlags)?.bytes ?? 0) > 2457);
  t.regex(
    refusal,
    new RegExp(
      `spec\\.pipelineSpec\\.tasks\\[0\\]\\.taskSpec\\.results: pipeline task "build": its ${fits + 1} results stored by reference put 2\\d{3} bytes ` +
        "into its tlr-seal step's termination message \\(each reference up to 156 bytes with its name\\), over the 2457 bytes Tekton gets from it: " +
        "the kubelet keeps 2457 bytes of each container's termination message in its pod \\(12288 bytes for the pod's 5 containers: 3 steps and 2 init " +
        'containers; Tekton takes at most 4096\\), before its 1 classic result\\(s\\); expected them to fit, or Tekton drops every result of the task\\..*' +
        'enable-termination-message-compression.*results-from: sidecar-logs',
    ),
  );
});

test('every container Tekton and we add counts: fewer containers, more references; more containers, fewer', (t) => {
  const base = bound((n) => run(n)).fits;
  // No script: no place-scripts init container (4 containers, 3072 bytes).
  const command = (n: number): PipelineRun =>
    run(n, { script: undefined, command: ['sh', '-c', names(n).map((r) => `echo > $(results.${r}.path)`).join(';')] });
  t.true(bound(command).fits > base);
  t.deepEqual(podContainers(taskOf(rewritePipelineRun(command(1), { config, featureFlags }), 'build')).total, 4);
  // A relative workingDir, or one Tekton substitutes (it may be under /workspace): working-dir-initializer.
  for (const workingDir of ['src', '$(workspaces.source.path)', '/workspace/x/../y']) {
    t.is(podContainers({ steps: [{ name: 'a', workingDir }] }).init, 2, workingDir);
  }
  t.is(podContainers({ steps: [{ name: 'a', workingDir: '/tmp' }, { name: 'b' }] }).init, 1, 'an absolute workingDir elsewhere');
  t.is(podContainers({ stepTemplate: { workingDir: 'src' }, steps: [{ name: 'a' }] }).init, 2, "the stepTemplate's applies to each step");
  // A sidecar, and a consumer's tlr-substitute init container, are containers of the pod too.
  t.is(podContainers({ steps: [{ name: 'a' }], sidecars: [{ name: 's', script: 'x' }] }).total, 4);
  const consumer = optedInRun([
    { name: 'gen', taskSpec: { results: [{ name: 'r', storage: 'reference' }], steps: [{ name: 'g', image: 'bash', script: 'echo > $(results.r.path)' }] } },
    {
      name: 'build',
      taskSpec: {
        results: [{ name: 'out', storage: 'reference' }],
        steps: [{ name: 'w', image: 'bash', script: 'echo "$(tasks.gen.results.r)" > $(results.out.path)' }],
      },
    },
  ]);
  t.deepEqual(podContainers(taskOf(rewritePipelineRun(consumer, { config, featureFlags }), 'build')), { steps: 3, sidecars: 0, init: 3, total: 6 });
  t.true(bound((n) => run(n, { image: 'bash' })).fits === base, 'the same pod, the same bound');
});

test('classic results sharing a nearly full message get a warning naming the room left; with room, none', (t) => {
  const { fits } = bound((n) => run(n));
  const full = rewritePipelineRun(run(fits, {}, ['digest', 'url']), { config, featureFlags });
  const warning = full.diagnostics.find((d) => d.severity === 'warning' && /classic result/.test(d.message))?.message ?? '';
  t.regex(warning, /pipeline task "build": its classic result\(s\) "digest", "url" share the tlr-seal step's termination message with its \d+ reference\(s\): .*so the classic results must stay under \d+ bytes together or Tekton drops every result of the task/);
  t.false(rewritePipelineRun(run(2, {}, ['digest']), { config, featureFlags }).diagnostics.some((d) => /classic result/.test(d.message)));
});

test('with compression about 40 fit in the same pod, and beyond that a warning (an estimate); sidecar-logs has no such limit', (t) => {
  const compressed = parseFeatureFlags({ 'enable-termination-message-compression': 'True' });
  t.true(compressed.terminationMessageCompression, "read as Go's ParseBool reads it");
  const out = rewritePipelineRun(run(80), { config, featureFlags: compressed });
  t.regex(out.diagnostics.find((d) => d.severity === 'warning' && /termination message/.test(d.message))?.message ?? '', /put an estimated \d+ bytes .*\(compressed, .*over the 2457 bytes/);
  t.false(rewritePipelineRun(run(20), { config, featureFlags: compressed }).diagnostics.some((d) => /termination message/.test(d.message)));
  t.is(sealMessageBytes('build', ['a'], 1 << 30, parseFeatureFlags({ 'results-from': 'sidecar-logs' })), undefined);
  t.notThrows(() => rewritePipelineRun(run(100), { config, featureFlags: parseFeatureFlags({ 'results-from': 'sidecar-logs' }) }));
  const error = t.throws(() => parseFeatureFlags({ 'enable-termination-message-compression': 'yes' }));
  t.regex(error?.message ?? '', /enable-termination-message-compression.*found "yes"/);
});

test('the computed size is an upper bound: the longest size and zone forms, the run’s 36-character uid', (t) => {
  const one = sealMessageBytes('build', ['r'], 1 << 30, featureFlags)?.bytes ?? 0;
  // [{"key":"StartedAt","value":"2026-12-02T08:00:00.000+00:00","type":3},{"key":"r","value":"<ref>","type":1}]
  const ref = `[[tlr:v1:sha256=${'0'.repeat(64)}:size=9999999999:path=${'0'.repeat(36)}/build/r]]`;
  t.is(one, `[{"key":"StartedAt","value":"2026-12-02T08:00:00.000+00:00","type":3},{"key":"r","value":"${ref}","type":1}]`.length);
});
