/**
 * Fields Tekton v1.15.0 admits only under a feature flag (`enable-api-fields`, per-feature flags, disable-inline-spec),
 * checked in an opted-in run as Tekton's webhook checks them, so `tlr validate` refuses what the cluster would refuse,
 * and the rewrite never produces an embedded spec the cluster's disable-inline-spec forbids.
 */
import test from 'ava';
import type { PipelineRun, TaskRun } from '../../src/api/tekton.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import type { RewriteOptions } from '../../src/core/options.js';
import { rewritePipeline } from '../../src/core/pipeline.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { resolverFromObjects } from '../../src/core/resolver.js';
import { rewriteTaskRun } from '../../src/core/task-run.js';
import { optedInRun } from './run-fixture.js';

const flags = (data: Record<string, string> = {}): RewriteOptions => ({ config: parseConfig({}), featureFlags: parseFeatureFlags(data) });
const STEP = { name: 'w', image: 'bash', script: 'echo hi > $(results.out.path)' };
const PRODUCER = { name: 'gen', taskSpec: { results: [{ name: 'out', storage: 'reference' }], steps: [STEP] } };
const withStep = (step: Record<string, unknown>): typeof PRODUCER => ({ ...PRODUCER, taskSpec: { ...PRODUCER.taskSpec, steps: [{ ...STEP, ...step }] } });

function refusal(run: PipelineRun, data: Record<string, string> = {}): string {
  try {
    rewritePipelineRun(run, flags(data));
  } catch (error) {
    return (error as Error).message;
  }
  return '(admitted)';
}

test('Tekton’s default is beta: alpha fields are refused with the flag to set, beta fields admitted; alpha admits all', (t) => {
  t.deepEqual([parseFeatureFlags({}).enableApiFields, parseFeatureFlags({ 'enable-api-fields': ' ALPHA ' }).enableApiFields], ['beta', 'alpha']);
  const stdout = optedInRun([withStep({ stdoutConfig: { path: '$(results.out.path)' } })]);
  t.regex(
    refusal(stdout),
    /PipelineRun ci\/r: spec\.pipelineSpec\.tasks\[0\]\.taskSpec\.steps\[0\]\.stdoutConfig: step stdout stream support \(stdoutConfig\) needs Tekton's feature flag enable-api-fields: alpha, and the feature flags in use have "beta", so Tekton refuses it at admission; the admin sets enable-api-fields in ConfigMap tekton-pipelines\/feature-flags/,
  );
  t.regex(refusal(optedInRun([withStep({ stderrConfig: { path: '/tmp/e' } })])), /steps\[0\]\.stderrConfig: step stderr stream support/);
  t.regex(refusal(optedInRun([withStep({ script: '  #!win pwsh\necho hi' })])), /steps\[0\]\.script: windows script support/);
  t.is(refusal(stdout, { 'enable-api-fields': 'alpha' }), '(admitted)');

  const stepWorkspaces = optedInRun([withStep({ workspaces: [{ name: 'src' }] })], { workspaces: [{ name: 'src' }] });
  const beta = (run: PipelineRun): string[] => [refusal(run), refusal(run, { 'enable-api-fields': 'stable' })];
  const [underBeta = '', underStable = ''] = beta(stepWorkspaces);
  t.false(/step workspaces/.test(underBeta), underBeta);
  t.regex(underStable, /steps\[0\]\.workspaces: step workspaces needs Tekton's feature flag enable-api-fields: beta \(or alpha\), and the feature flags in use have "stable"/);
});

test('every beta field of a pipeline and its runs is refused under stable, each at its own path; none under beta', (t) => {
  const matrixed = { name: 'fan', matrix: { params: [{ name: 'v', value: ['a', 'b'] }] }, onError: 'continue', taskSpec: { params: [{ name: 'v' }], steps: [{ name: 's', image: 'bash', script: 'echo $(params.v)' }] } };
  const remote = { name: 'remote', taskRef: { resolver: 'git', params: [{ name: 'url', value: 'x' }] } };
  const run = optedInRun([PRODUCER, matrixed, remote]);
  run.spec.taskRunTemplate = {};
  (run.spec as Record<string, unknown>).taskRunSpecs = [{ pipelineTaskName: 'gen', stepSpecs: [{ name: 'w', computeResources: {} }], computeResources: { requests: { cpu: '1' } } }];
  // The controller resolves a remote taskRef (ResolutionRequest) and hands the rewrite what it fetched.
  const fetched = { apiVersion: 'tekton.dev/v1', kind: 'Task', metadata: { name: 'remote' }, spec: { steps: [{ name: 's', image: 'bash', script: 'true' }] } };
  const resolver = { pipeline: () => undefined, task: (ref: { resolver?: string }) => (ref.resolver === 'git' ? fetched : undefined) } as never;
  const refused = (data: Record<string, string>): string => {
    try {
      rewritePipelineRun(run, { ...flags(data), resolver });
      return '(admitted)';
    } catch (error) {
      return (error as Error).message;
    }
  };
  const message = refused({ 'enable-api-fields': 'stable' });
  for (const path of [
    /spec\.pipelineSpec\.tasks\[1\]\.matrix: matrix needs/,
    /spec\.pipelineSpec\.tasks\[1\]\.onError: onError of a pipeline task needs/,
    /spec\.pipelineSpec\.tasks\[2\]\.taskRef\.resolver: resolver needs/,
    /spec\.pipelineSpec\.tasks\[2\]\.taskRef\.params: resolver params needs/,
    /spec\.taskRunSpecs\[0\]\.stepSpecs: stepSpecs needs/,
    /spec\.taskRunSpecs\[0\]\.computeResources: computeResources needs/,
  ]) t.regex(message, path);
  t.is(refused({}), '(admitted)');
});

test('a stored Task’s gated fields are checked with the run (the rewrite inlines it), named by the Task', (t) => {
  const task = { apiVersion: 'tekton.dev/v1', kind: 'Task', metadata: { name: 'lint' }, spec: { results: [{ name: 'out', storage: 'reference' }], steps: [{ ...STEP, stdoutConfig: { path: '$(results.out.path)' } }] } };
  const run = optedInRun([{ name: 'gen', taskRef: { name: 'lint' } }]);
  const error = t.throws(() => rewritePipelineRun(run, { ...flags(), resolver: resolverFromObjects([task]) }));
  t.regex(error?.message ?? '', /spec\.pipelineSpec\.tasks\[0\]\.taskRef \(Task "lint"\) spec\.steps\[0\]\.stdoutConfig: step stdout stream support/);
});

test('per-feature flags: a param enum and a CEL when expression need their own flag (false by default)', (t) => {
  const withEnum = { ...PRODUCER, taskSpec: { ...PRODUCER.taskSpec, params: [{ name: 'level', enum: ['a', 'b'], default: 'a' }] } };
  t.regex(refusal(optedInRun([withEnum])), /tasks\[0\]\.taskSpec\.params\[0\]\.enum: param "level": enum needs Tekton's feature flag enable-param-enum: "true"/);
  t.is(refusal(optedInRun([withEnum]), { 'enable-param-enum': 'true' }), '(admitted)');
  const cel = { ...PRODUCER, when: [{ cel: "'a' == 'a'" }] };
  t.regex(refusal(optedInRun([cel])), /tasks\[0\]\.when\[0\]\.cel: a CEL when expression needs Tekton's feature flag enable-cel-in-whenexpression: "true"/);
  t.is(refusal(optedInRun([cel]), { 'enable-cel-in-whenexpression': 'True' }), '(admitted)');
  t.throws(() => parseFeatureFlags({ 'enable-param-enum': 'yes' }), { message: /feature-flags key "enable-param-enum": expected one of 1, t, T, TRUE, true, True, 0, f, F, FALSE, false, False, found "yes"/ });
});

test('a TaskRun’s alpha debug and beta stepSpecs are refused under the flags that lack them', (t) => {
  const run = {
    apiVersion: 'tekton.dev/v1', kind: 'TaskRun', metadata: { name: 'tr', namespace: 'ci' },
    spec: { debug: { breakpoints: { onFailure: 'enabled' } }, stepSpecs: [{ name: 'w' }], taskSpec: { results: [{ name: 'out', storage: 'reference' }], steps: [STEP] } },
  } as unknown as TaskRun;
  const message = t.throws(() => rewriteTaskRun(run, flags({ 'enable-api-fields': 'stable' })))?.message ?? '';
  t.regex(message, /TaskRun ci\/tr: spec\.debug: debug needs Tekton's feature flag enable-api-fields: alpha/);
  t.regex(message, /spec\.stepSpecs: stepSpecs needs Tekton's feature flag enable-api-fields: beta/);
  t.notThrows(() => rewriteTaskRun(run, flags({ 'enable-api-fields': 'alpha' })));
});

test('disable-inline-spec: the rewrite does not inline a stored Pipeline or Task where the cluster forbids embedded specs', (t) => {
  const pipeline = { apiVersion: 'tekton.dev/v1', kind: 'Pipeline', metadata: { name: 'p', annotations: { 'tlr.dev/result-workspace': 'results' } }, spec: { workspaces: [{ name: 'results' }], tasks: [{ name: 'gen', taskRef: { name: 'gen' } }] } };
  const task = { apiVersion: 'tekton.dev/v1', kind: 'Task', metadata: { name: 'gen' }, spec: { results: [{ name: 'out', storage: 'reference' }], steps: [STEP] } };
  const run = { apiVersion: 'tekton.dev/v1', kind: 'PipelineRun', metadata: { name: 'r', namespace: 'ci' }, spec: { pipelineRef: { name: 'p' } } } as unknown as PipelineRun;
  const options = (data: Record<string, string>): RewriteOptions => ({ ...flags(data), resolver: resolverFromObjects([pipeline, task]) });
  t.notThrows(() => rewritePipelineRun(run, options({})));

  const forRuns = t.throws(() => rewritePipelineRun(run, options({ 'disable-inline-spec': 'pipelinerun' })))?.message ?? '';
  t.regex(forRuns, /PipelineRun ci\/r: spec\.pipelineSpec: the rewrite inlines the stored Pipeline here \(a run that stores results by reference carries every spec it runs\), but the feature flags in use have disable-inline-spec: "pipelinerun", so Tekton refuses an embedded spec in a pipelinerun; storing results by reference needs it: the admin removes "pipelinerun" from disable-inline-spec/);
  const forTasks = t.throws(() => rewritePipelineRun(run, options({ 'disable-inline-spec': 'taskrun,pipeline' })))?.message ?? '';
  t.regex(forTasks, /spec\.pipelineSpec\.tasks\[0\]\.taskSpec: the rewrite inlines the stored Task here/);
  t.notRegex(forTasks, /spec\.pipelineSpec: /);
  // Split on commas as Tekton splits them, without trimming: " pipeline" is not "pipeline".
  t.notThrows(() => rewritePipelineRun(run, options({ 'disable-inline-spec': 'taskrun, pipeline' })));
  // The stored Pipeline on its own is rewritten with the Task inlined, which "pipeline" forbids too.
  t.regex(t.throws(() => rewritePipeline(pipeline as never, options({ 'disable-inline-spec': 'pipeline' })))?.message ?? '', /Pipeline p: spec\.tasks\[0\]\.taskSpec: the rewrite inlines the stored Task here/);
  // Linted on its own (tlr validate pipeline.yaml task.yaml) it is a warning: the cluster stores the Pipeline as written.
  const linted = rewritePipeline(pipeline as never, options({ 'disable-inline-spec': 'pipeline' }), true);
  t.deepEqual(linted.diagnostics.filter((d) => /disable-inline-spec/.test(d.message)).map((d) => [d.severity, d.path]), [['warning', 'spec.tasks[0].taskSpec']]);

  const taskRun = { apiVersion: 'tekton.dev/v1', kind: 'TaskRun', metadata: { name: 'tr', namespace: 'ci' }, spec: { taskRef: { name: 'gen' } } } as unknown as TaskRun;
  t.regex(
    t.throws(() => rewriteTaskRun(taskRun, { ...options({ 'disable-inline-spec': 'taskrun' }) }))?.message ?? '',
    /TaskRun ci\/tr: spec\.taskSpec: the rewrite inlines the stored Task here .*disable-inline-spec: "taskrun"/,
  );
  // An embedded spec the author wrote is refused by Tekton itself under the flag; the message says so without "inlines".
  t.regex(refusal(optedInRun([PRODUCER]), { 'disable-inline-spec': 'pipeline' }), /tasks\[0\]\.taskSpec: the run embeds this spec, but the feature flags in use have disable-inline-spec: "pipeline"/);
});

test('a reference result named as Tekton Chains type-hints what was built (IMAGE_DIGEST, *_IMAGE_URL, *ARTIFACT_OUTPUTS) gets a warning; other names none', (t) => {
  const results = ['IMAGE_DIGEST', 'APP_IMAGE_URL', 'BUILD_ARTIFACT_OUTPUTS', 'IMAGES', 'sbom', 'MY_IMAGE_URLS'];
  const task = { ...PRODUCER, taskSpec: { ...PRODUCER.taskSpec, results: results.map((name) => ({ name, storage: 'reference' })), steps: [{ name: 'w', image: 'bash', script: results.map((r) => `echo > $(results.${r}.path)`).join('\n') }] } };
  const warned = rewritePipelineRun(optedInRun([task]), flags()).diagnostics.filter((d) => /Tekton Chains/.test(d.message));
  t.deepEqual(warned.map((d) => /result "([^"]+)"/.exec(d.message)?.[1]), ['IMAGE_DIGEST', 'APP_IMAGE_URL', 'BUILD_ARTIFACT_OUTPUTS', 'IMAGES']);
  t.is(warned[0]?.path, 'spec.pipelineSpec.tasks[0].taskSpec.results');
  t.regex(warned[0]?.message ?? '', /pipeline task "gen": result "IMAGE_DIGEST" is stored by reference, but Tekton Chains reads results of that name .* keep them classic/);
});

test('a TaskRun’s Chains-hinted reference result is warned about once, the TaskRun named once', (t) => {
  const run = {
    apiVersion: 'tekton.dev/v1', kind: 'TaskRun', metadata: { name: 'tr', namespace: 'ci' },
    spec: { taskSpec: { results: [{ name: 'IMAGE_URL', storage: 'reference' }], steps: [{ name: 'w', image: 'bash', script: 'echo > $(results.IMAGE_URL.path)' }] } },
  } as unknown as TaskRun;
  const warned = rewriteTaskRun(run, flags()).diagnostics.filter((d) => /Tekton Chains/.test(d.message));
  t.deepEqual(warned.map((d) => [d.object, d.path]), [['TaskRun ci/tr', 'spec.taskSpec.results']]);
  t.regex(warned[0]?.message ?? '', /^result "IMAGE_URL" is stored by reference, but Tekton Chains/);
});
