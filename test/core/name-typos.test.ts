/**
 * Typos in an opted-in pipeline are refused before the cluster sees them, with the name found and the names that
 * exist: a result or pipeline task that does not exist, and a producer's `$(results.<name>.path)` for an undeclared
 * result (which Tekton would only report when the run gets there).
 */
import test from 'ava';
import type { PipelineRun } from '../../src/api/tekton.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { DEFAULT_OPTIONS as options, optedInRun } from './run-fixture.js';


function run(producerScript: string, consumerScript: string, results?: unknown[]): PipelineRun {
  return optedInRun(
    [
      { name: 'gen', taskSpec: { results: [{ name: 'report', storage: 'reference' }], steps: [{ name: 'w', image: 'bash', script: producerScript }] } },
      { name: 'use', taskSpec: { steps: [{ name: 's', image: 'bash', script: consumerScript }] } },
    ],
    results ? { results } : {},
  );
}

const OK_PRODUCER = 'echo > $(results.report.path)';

test('a result the producer does not declare is refused, naming the likely one', (t) => {
  const error = t.throws(() => rewritePipelineRun(run(OK_PRODUCER, 'echo "$(tasks.gen.results.reprot)"'), options));
  t.regex(error?.message ?? '', /tasks\[1\]\.taskSpec\.steps\[0\]\.script: pipeline task "use": \$\(tasks\.gen\.results\.reprot\) names result "reprot", which the task of pipeline task "gen" does not declare; expected one of "report" \(did you mean "report"\?\)/);
});

test('a pipeline task that does not exist is refused, in steps, params and pipeline results', (t) => {
  const error = t.throws(() => rewritePipelineRun(run(OK_PRODUCER, 'echo "$(tasks.gne.results.report)"', [{ name: 'out', value: '$(tasks.gen.results.repor)' }]), options));
  t.regex(error?.message ?? '', /\$\(tasks\.gne\.results\.report\) names pipeline task "gne", which this pipeline does not have; expected one of "gen", "use" \(did you mean "gen"\?\)/);
  t.regex(error?.message ?? '', /spec\.pipelineSpec\.results\[0\]\.value: pipeline result "out": .*names result "repor"/);
});

test('a producer writing $(results.<typo>.path) is refused, not merely warned about', (t) => {
  const error = t.throws(() => rewritePipelineRun(run('echo > $(results.reprot.path)', 'echo "$(tasks.gen.results.report)"'), options));
  t.regex(error?.message ?? '', /tasks\[0\]\.taskSpec\.steps\[0\]\.script: pipeline task "gen": \$\(results\.reprot\.path\) names result "reprot", which the task does not declare; expected one of "report" \(did you mean "report"\?\)/);
});

test('names that exist pass; a literal /tekton/results/<file> is a step’s own business', (t) => {
  const out = rewritePipelineRun(run(`${OK_PRODUCER}; date > /tekton/results/scratch`, 'echo "$(tasks.gen.results.report)"'), options);
  t.true(out.changed);
  t.deepEqual(out.diagnostics.filter((d) => d.severity === 'error'), []);
});

test('a description naming a task the pipeline lacks is prose, not a reference: Tekton never substitutes it', (t) => {
  // The catalog's rhacs-image-check documents a param with `$(params.IMAGE)@$(tasks.buildah.results.IMAGE_DIGEST)`.
  const pr = optedInRun([
    { name: 'gen', taskSpec: { results: [{ name: 'report', storage: 'reference' }], steps: [{ name: 'w', image: 'bash', script: OK_PRODUCER }] } },
    {
      name: 'use',
      description: 'runs after $(tasks.lint.results.ok)',
      params: [{ name: 'in', value: '$(tasks.gen.results.report)' }],
      taskSpec: {
        description: 'reads $(tasks.buildah.results.IMAGE_DIGEST)',
        params: [{ name: 'in', description: 'for example $(tasks.buildah.results.IMAGE_DIGEST)' }],
        steps: [{ name: 's', image: 'bash', script: 'echo "$(params.in)"' }],
      },
    },
  ]);
  const out = rewritePipelineRun(pr, options);
  t.true(out.changed);
  t.deepEqual(out.diagnostics.filter((d) => d.severity === 'error'), []);
});

test('the same typo is still refused where Tekton does substitute it: a param, a when expression, a step env', (t) => {
  for (const [where, field] of [
    ['params[0].value', { params: [{ name: 'in', value: '$(tasks.gne.results.report)' }] }],
    ['when[0].input', { when: [{ input: '$(tasks.gne.results.report)', operator: 'in', values: ['x'] }] }],
  ] as const) {
    const pr = optedInRun([
      { name: 'gen', taskSpec: { results: [{ name: 'report', storage: 'reference' }], steps: [{ name: 'w', image: 'bash', script: OK_PRODUCER }] } },
      { name: 'use', ...field, taskSpec: { params: [{ name: 'in', default: '' }], steps: [{ name: 's', image: 'bash', script: 'echo "$(params.in)"' }] } },
    ]);
    const error = t.throws(() => rewritePipelineRun(pr, options), undefined, where);
    t.true((error?.message ?? '').includes(`tasks[1].${where}: pipeline task "use": $(tasks.gne.results.report) names pipeline task "gne"`), `${where}: ${error?.message}`);
  }
  const env = optedInRun([
    { name: 'gen', taskSpec: { results: [{ name: 'report', storage: 'reference' }], steps: [{ name: 'w', image: 'bash', script: OK_PRODUCER }] } },
    { name: 'use', taskSpec: { steps: [{ name: 's', image: 'bash', env: [{ name: 'X', value: '$(tasks.gen.results.reprot)' }], script: 'echo "$X"' }] } },
  ]);
  const error = t.throws(() => rewritePipelineRun(env, options));
  t.regex(error?.message ?? '', /tasks\[1\]\.taskSpec\.steps\[0\]\.env\[0\]\.value: pipeline task "use": .*names result "reprot"/);
});
