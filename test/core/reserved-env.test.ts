/**
 * Our env names are the stepTemplate's alone: a consumer's step that set TLR_REFS (say, empty) would override it for
 * that container, and its values would go unverified. The rewrite refuses it, naming the field.
 */
import test from 'ava';
import type { PipelineRun } from '../../src/api/tekton.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { DEFAULT_OPTIONS as options, optedInRun } from './run-fixture.js';


function run(env: Array<{ name: string; value: string }>): PipelineRun {
  return optedInRun([
    { name: 'gen', taskSpec: { results: [{ name: 'r', storage: 'reference' }], steps: [{ name: 'w', image: 'bash', script: 'echo > $(results.r.path)' }] } },
    { name: 'use', taskSpec: { steps: [{ name: 's', image: 'bash', env: [...env, { name: 'V', value: '$(tasks.gen.results.r)' }], script: 'echo "$V"' }] } },
  ]);
}

for (const name of ['TLR_REFS', 'TLR_RUN_DIR', 'TLR_VIEW', 'TLR_REF_LABELS', 'TLR_SELECTORS']) {
  test(`a consumer step setting ${name} is refused`, (t) => {
    t.throws(() => rewritePipelineRun(run([{ name, value: '' }]), options), {
      message: new RegExp(`spec\\.pipelineSpec\\.tasks\\[1\\]\\.taskSpec\\.steps\\[0\\]\\.env\\[0\\]\\.name: pipeline task "use": env name "${name}" is reserved`),
    });
  });
}

test('the labels of the references are declared literally beside them', (t) => {
  const out = rewritePipelineRun(run([]), options).object;
  const env = out.spec.pipelineSpec?.tasks?.[1]?.taskSpec?.stepTemplate?.env ?? [];
  t.deepEqual(env.find((e) => e.name === 'TLR_REF_LABELS'), { name: 'TLR_REF_LABELS', value: 'gen/r' });
});

test('a value in command[0] is accepted with a warning: it chooses the program', (t) => {
  const input = run([]);
  const use = input.spec.pipelineSpec?.tasks?.[1];
  if (use?.taskSpec?.steps?.[0]) use.taskSpec.steps[0] = { name: 's', image: 'bash', command: ['$(tasks.gen.results.r)', '--flag'] };
  const out = rewritePipelineRun(input, options);
  t.true(out.diagnostics.some((d) => d.severity === 'warning' && /command\[0\] lets result "r" of task "gen" choose the program the step runs/.test(d.message)));
});
