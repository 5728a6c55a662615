/**
 * A step script that begins with a value by reference (`script: $(params.SCRIPT)`, the catalog's openshift-client-python)
 * gets the rewrite's preamble mark as its first line, so Tekton does not decide its `#!` line on the token: any other
 * script is left exactly as written.
 */
import test from 'ava';
import { SCRIPT_PREAMBLE_MARK } from '../../src/api/names.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { DEFAULT_OPTIONS as options, optedInRun } from './run-fixture.js';

const GEN = { name: 'gen', taskSpec: { results: [{ name: 'code', storage: 'reference' }], steps: [{ name: 'w', image: 'bash', script: 'echo > $(results.code.path)' }] } };

function scriptsOf(
  steps: Array<Record<string, unknown>>,
  params: Array<{ name: string; value: string }> = [{ name: 'SCRIPT', value: '$(tasks.gen.results.code)' }],
  field: 'steps' | 'sidecars' = 'steps',
): unknown[] {
  const sidecars = field === 'sidecars' ? { sidecars: steps } : {};
  const taskSpec = { params: params.map((p) => ({ name: p.name })), steps: field === 'steps' ? steps : [{ name: 's', image: 'bash', script: 'true' }], ...sidecars };
  const out = rewritePipelineRun(optedInRun([GEN, { name: 'use', params, taskSpec }]), options);
  throwOnErrors(out.diagnostics);
  return (out.object.spec.pipelineSpec?.tasks?.[1]?.taskSpec?.[field] ?? []).map((s: { script?: string }) => s.script);
}

function throwOnErrors(diagnostics: ReadonlyArray<{ severity: string; message: string }>): void {
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new Error(errors.map((d) => d.message).join('\n'));
}

test('a script beginning with a value by reference, directly or through a param, after white space too, is marked', (t) => {
  const scripts = scriptsOf([
    { name: 'param', image: 'python', script: '$(params.SCRIPT)' },
    { name: 'spaced', image: 'python', script: ' \n\t\u00a0$(params.SCRIPT)\n' },
    { name: 'direct', image: 'python', script: '$(tasks.gen.results.code)' },
    { name: 'inline-first', image: 'python', script: '$(params.other)$(params.SCRIPT)' },
  ], [{ name: 'SCRIPT', value: '$(tasks.gen.results.code)' }, { name: 'other', value: '' }]);
  t.deepEqual(scripts, [
    `${SCRIPT_PREAMBLE_MARK}$(params.SCRIPT)`,
    `${SCRIPT_PREAMBLE_MARK} \n\t\u00a0$(params.SCRIPT)\n`,
    `${SCRIPT_PREAMBLE_MARK}$(tasks.gen.results.code)`,
    `${SCRIPT_PREAMBLE_MARK}$(params.other)$(params.SCRIPT)`,
  ]);
  t.true(SCRIPT_PREAMBLE_MARK.startsWith('#!') && SCRIPT_PREAMBLE_MARK.endsWith('\n'), 'a #! line to Tekton, so it prepends nothing');
  t.deepEqual(scriptsOf([{ name: 'side', image: 'python', script: '$(params.SCRIPT)' }], undefined, 'sidecars'), [`${SCRIPT_PREAMBLE_MARK}$(params.SCRIPT)`], 'a sidecar script too');
});

test('a script beginning with an element of a structured result (its selector token) is marked too', (t) => {
  const gen = { name: 'gen', taskSpec: { results: [{ name: 'obj', type: 'object', properties: { main: { type: 'string' } }, storage: 'reference' }], steps: [{ name: 'w', image: 'bash', script: 'echo > $(results.obj.path)' }] } };
  const out = rewritePipelineRun(optedInRun([gen, { name: 'use', taskSpec: { steps: [{ name: 'py', image: 'python', script: '$(tasks.gen.results.obj.main)' }] } }]), options);
  const script = out.object.spec.pipelineSpec?.tasks?.[1]?.taskSpec?.steps?.[0]?.script ?? '';
  t.true(script.startsWith(`${SCRIPT_PREAMBLE_MARK}[[tlr:select:.main:`), script);
});

test('a script with its own #! line, starting with text, or holding no value by reference is left as written', (t) => {
  const steps = [
    { name: 'shebang', image: 'bash', script: '#!/bin/bash\n$(params.SCRIPT)' },
    { name: 'text', image: 'bash', script: 'echo "$(params.SCRIPT)"' },
    { name: 'no-value', image: 'bash', script: '$(params.other)\necho hi' },
  ];
  const params = [{ name: 'SCRIPT', value: '$(tasks.gen.results.code)' }, { name: 'other', value: 'x' }];
  t.deepEqual(scriptsOf(steps, params), steps.map((s) => s.script));
  // By path the script holds a file path, known at admission: Tekton decides on it as it is.
  const [byPath] = scriptsOf([{ name: 'path', image: 'bash', script: '$(tasks.gen.results.code.path)' }], []);
  t.is(byPath, '/tlr/results/gen/code');
});

test('a producer or consumer with a Windows script (#!win) is refused: the programs the rewrite adds are Linux ones', (t) => {
  const alpha = { config: parseConfig({}), featureFlags: parseFeatureFlags({ 'enable-api-fields': 'alpha' }) };
  const win = { name: 'w', image: 'pwsh', script: '#!win pwsh.exe\nWrite-Host $(params.SCRIPT)' };
  const consumer = t.throws(() => rewritePipelineRun(optedInRun([GEN, { name: 'use', params: [{ name: 'SCRIPT', value: '$(tasks.gen.results.code)' }], taskSpec: { params: [{ name: 'SCRIPT' }], steps: [win] } }]), alpha));
  t.regex(consumer?.message ?? '', /tasks\[1\]\.taskSpec\.steps\[0\]\.script: pipeline task "use", step "w": a Windows script \(#!win\) runs in a Windows pod, .* found "#!win pwsh.exe"/);
  const run = optedInRun([{ name: 'gen', taskSpec: { results: [{ name: 'code', storage: 'reference' }], steps: [{ name: 'p', image: 'pwsh', script: '  #!win\nSet-Content $(results.code.path) x' }] } }]);
  t.throws(() => rewritePipelineRun(run, alpha), { message: /tasks\[0\]\.taskSpec\.steps\[0\]\.script: pipeline task "gen", step "p": a Windows script/ });
});
