/**
 * The common pipeline shape under Tekton's default `coschedule: workspaces`: the tasks that store or read results by
 * reference share one PVC-backed workspace (a source checkout). A provisioned result volume would be a second PVC in
 * each, which Tekton refuses; the results go on the shared volume, under the run's directory, with a warning that
 * says so and what it gives up. Other shapes keep a volume of their own, or are refused with fixes that work.
 */
import test from 'ava';
import type { PipelineRun, WorkspacePipelineTaskBinding } from '../../src/api/tekton.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import type { RewriteOptions } from '../../src/core/options.js';

const options = (flags: Record<string, string> = {}): RewriteOptions => ({ config: parseConfig({}), featureFlags: parseFeatureFlags(flags) });

const TEMPLATE = { volumeClaimTemplate: { spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } } };
const build = (workspace = 'source'): Record<string, unknown> => ({
  name: 'build',
  workspaces: [{ name: 'src', workspace }],
  taskSpec: { workspaces: [{ name: 'src' }], results: [{ name: 'log', storage: 'reference' }], steps: [{ name: 'b', image: 'bash', script: 'make > $(results.log.path)' }] },
});
const report = (workspace = 'source'): Record<string, unknown> => ({
  name: 'report',
  workspaces: [{ name: 'src', workspace }],
  params: [{ name: 'log', value: '$(tasks.build.results.log)' }],
  taskSpec: { workspaces: [{ name: 'src' }], params: [{ name: 'log' }], steps: [{ name: 'r', image: 'bash', script: 'echo "$(params.log)" | wc -c' }] },
});

function run(tasks: unknown[], bindings: unknown[], more: Record<string, unknown> = {}): PipelineRun {
  const names = [...new Set((tasks as Array<{ workspaces?: Array<{ workspace: string }> }>).flatMap((t) => (t.workspaces ?? []).map((w) => w.workspace)))];
  return {
    apiVersion: 'tekton.dev/v1', kind: 'PipelineRun', metadata: { name: 'r', namespace: 'ci' },
    spec: { workspaces: bindings, pipelineSpec: { workspaces: names.map((name) => ({ name })), tasks, ...more } },
  } as unknown as PipelineRun;
}

const bindingsOf = (r: PipelineRun, task: string): WorkspacePipelineTaskBinding[] => (r.spec.pipelineSpec?.tasks?.find((t) => t.name === task)?.workspaces ?? []);

test('a shared volumeClaimTemplate holds the results: views on it under the run’s directory, no second volume, a warning saying what it gives up', (t) => {
  const result = rewritePipelineRun(run([build(), report()], [{ name: 'source', ...TEMPLATE }]), options());
  const out = result.object;
  t.deepEqual(out.spec.workspaces?.map((w) => w.name), ['source'], 'no result volume of its own');
  t.is(out.metadata?.annotations?.['tlr.dev/result-volume'], 'template');
  t.deepEqual(bindingsOf(out, 'build'), [{ name: 'src', workspace: 'source' }, { name: 'tlr-output', workspace: 'source', subPath: '$(context.pipelineRun.uid)/build' }]);
  t.deepEqual(bindingsOf(out, 'report'), [{ name: 'src', workspace: 'source' }, { name: 'tlr-results', workspace: 'source', subPath: '$(context.pipelineRun.uid)' }]);
  const warnings = result.diagnostics.filter((d) => d.severity === 'warning').map((d) => `${d.path}: ${d.message}`);
  t.is(warnings.length, 1, warnings.join('\n'));
  t.regex(
    warnings[0] ?? '',
    /^spec\.workspaces: tasks store results by reference and share workspace "source" \(a volumeClaimTemplate\); under Tekton's coschedule: workspaces a task may bind one PersistentVolumeClaim, so the results are stored on it, in the run's directory \(named by the run's uid\) at its root\. "build", "report" mount it whole and could change or remove a sealed result \(a task emptying the workspace, as git-clone's deleteExisting does, removes it\): a consumer or tlr fetch would then refuse it \(size and sha256\) or name it missing, never use it\./,
  );
  // A fixed point: rewritten again (without the marker too), the same run.
  const { ['tlr.dev/rewritten']: _marker, ...annotations } = out.metadata?.annotations ?? {};
  const again = rewritePipelineRun({ ...out, metadata: { ...out.metadata, annotations } }, options());
  t.deepEqual(again.object.spec, out.spec);
});

test('a shared claim of the user’s: recorded as theirs, and the warning says the run’s directory stays on it', (t) => {
  const result = rewritePipelineRun(run([build(), report()], [{ name: 'source', persistentVolumeClaim: { claimName: 'src' } }]), options());
  t.is(result.object.metadata?.annotations?.['tlr.dev/result-volume'], 'user-claim:src');
  t.regex(result.diagnostics.map((d) => d.message).join('\n'), /share workspace "source" \(claim "src"\).* The directory stays on claim "src" after the run; nothing removes it\./);
});

test('a task that reads no reference may bind another PVC; tasks that do, binding two volumes between them, keep the refusal with fixes that work', (t) => {
  // "lint" binds its own cache claim but neither stores nor reads a reference: not counted.
  const lint = { name: 'lint', workspaces: [{ name: 'c', workspace: 'cache' }], taskSpec: { workspaces: [{ name: 'c' }], steps: [{ name: 'l', image: 'bash', script: 'true' }] } };
  const bindings = [{ name: 'source', ...TEMPLATE }, { name: 'cache', persistentVolumeClaim: { claimName: 'cache' } }];
  const fine = rewritePipelineRun(run([build(), report(), lint], bindings), options());
  t.is(bindingsOf(fine.object, 'report').find((w) => w.name === 'tlr-results')?.workspace, 'source');

  // The consumer binds the cache instead: the producer and the consumer share no volume.
  const split = run([build(), report('cache')], bindings);
  const message = t.throws(() => rewritePipelineRun(split, options()))?.message ?? '';
  t.regex(message, /pipeline task "build" would bind 2 PersistentVolumeClaims: the result workspace "tlr-results" \(as tlr-results\) and "source" \(a volumeClaimTemplate \(source\)\)/);
  t.regex(message, /Fix: let the tasks that store or read results by reference share one PVC-backed workspace and name no result workspace/);
});

test('a volume of its own where one works: no task binds a PVC, or coschedule is not workspaces', (t) => {
  const emptyDir = rewritePipelineRun(run([build(), report()], [{ name: 'source', emptyDir: {} }]), options());
  t.deepEqual(emptyDir.object.spec.workspaces?.map((w) => w.name), ['source', 'tlr-results']);
  for (const coschedule of ['pipelineruns', 'isolate-pipelinerun', 'disabled']) {
    const own = rewritePipelineRun(run([build(), report()], [{ name: 'source', ...TEMPLATE }]), options({ coschedule }));
    t.is(bindingsOf(own.object, 'build').find((w) => w.name === 'tlr-output')?.workspace, 'tlr-results', coschedule);
  }
});

test('naming the shared workspace as the result workspace is still refused: a named result workspace is ours alone', (t) => {
  const named = run([build(), report()], [{ name: 'source', ...TEMPLATE }], { resultWorkspace: { name: 'source' } });
  t.regex(t.throws(() => rewritePipelineRun(named, options()))?.message ?? '', /pipeline task "build" binds the result workspace "source" as its workspace "src"/);
});

test('two workspaces of the run on the same claim are one volume: shared, not refused as an alias of the result claim', (t) => {
  const claim = { persistentVolumeClaim: { claimName: 'src' } };
  const result = rewritePipelineRun(run([build('source'), report('cache')], [{ name: 'source', ...claim }, { name: 'cache', ...claim }]), options());
  t.is(result.object.metadata?.annotations?.['tlr.dev/result-volume'], 'user-claim:src');
  t.is(bindingsOf(result.object, 'report').find((w) => w.name === 'tlr-results')?.workspace, 'source');
  // A named result workspace keeps its claim to itself: the alias is refused there, as before.
  const named = run([build('source'), report('cache')], [{ name: 'results', ...claim }, { name: 'source', ...claim }, { name: 'cache', ...claim }], { resultWorkspace: { name: 'results' } });
  t.regex(t.throws(() => rewritePipelineRun(named, options()))?.message ?? '', /workspace "source" binds claim "src", which is the result workspace "results"'s claim/);
});
