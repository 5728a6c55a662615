/**
 * Only where Tekton substitutes results does a reference matter: in an embedded task's description, its params and
 * its results the text stays as written (Tekton never replaces it); in a pipeline task's displayName Tekton does, and
 * would show the reference, so it is a warning.
 */
import test from 'ava';
import type { PipelineRun } from '../../src/api/tekton.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { parseConfig } from '../../src/core/config.js';
import { DEFAULT_OPTIONS as options, optedInRun } from './run-fixture.js';

const REF = '$(tasks.gen.results.r)';

function run(use: Record<string, unknown>): PipelineRun {
  return optedInRun([
    { name: 'gen', taskSpec: { results: [{ name: 'r', storage: 'reference' }], steps: [{ name: 'w', image: 'bash', script: 'echo > $(results.r.path)' }] } },
    { name: 'use', ...use },
  ]);
}

test('a reference in an embedded task’s description, param description or default, or result description is text', (t) => {
  const taskSpec = {
    description: `reads ${REF}`,
    params: [{ name: 'p', description: `from ${REF}`, default: REF }],
    results: [{ name: 'out', description: REF }],
    steps: [{ name: 's', image: 'bash', script: 'echo "$(params.p)"' }],
  };
  const out = rewritePipelineRun(run({ taskSpec }), options);
  t.deepEqual(out.diagnostics.filter((d) => d.severity === 'error'), []);
  const use = out.object.spec.pipelineSpec?.tasks?.[1];
  t.deepEqual(use?.taskSpec, taskSpec, 'left exactly as written: not a consumer');
});

test('the same task using the value in its script is a consumer, its descriptions untouched', (t) => {
  const out = rewritePipelineRun(run({ taskSpec: { description: `reads ${REF}`, steps: [{ name: 's', image: 'bash', script: `cat <<'E'\n${REF}\nE` }] } }), options);
  const use = out.object.spec.pipelineSpec?.tasks?.[1]?.taskSpec;
  t.is(use?.description, `reads ${REF}`);
  t.true(use?.stepTemplate?.env?.some((e) => e.name === 'TLR_REFS'));
});

test('a reference in a pipeline task’s displayName is a warning naming what Tekton would show', (t) => {
  const out = rewritePipelineRun(run({ displayName: `deploy ${REF}`, taskSpec: { steps: [{ name: 's', image: 'bash', script: `echo '${REF}'` }] } }), options);
  const warning = out.diagnostics.find((d) => d.path === 'spec.pipelineSpec.tasks[1].displayName');
  t.regex(warning?.message ?? '', /in displayName names result "r" of task "gen", which is stored by reference: Tekton puts its reference/);
});

test('where Tekton substitutes and no step can put the value, a copy goes, and with copies off it is refused: a volume’s ConfigMap name', (t) => {
  const input = run({ taskSpec: { volumes: [{ name: 'v', configMap: { name: REF } }], steps: [{ name: 's', image: 'bash', script: 'true' }] } });
  const out = rewritePipelineRun(input, options);
  t.regex(JSON.stringify(out.object.spec.pipelineSpec?.tasks?.[1]?.taskSpec?.volumes), /"name":"\$\(tasks\.gen\.results\.tlr-copy-[^)]+\)"/);
  const off = { ...options, config: parseConfig({ maxCopySize: '0' }) };
  const error = t.throws(() => rewritePipelineRun(input, off));
  t.regex(error?.message ?? '', /taskSpec\.volumes\[0\]\.configMap\.name: .*stored by reference/);
});
