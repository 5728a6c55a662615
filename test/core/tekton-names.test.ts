/**
 * Names as Tekton v1.15.0 checks them (pipeline task names, result names, param names, workspace names): every name
 * Tekton refuses is refused by the rewrite, with Tekton's rule in the message, before it becomes a path on the result
 * volume (`…/$(context.pipelineRun.uid)/../r`); names Tekton accepts, odd-looking ones included, are kept. Also
 * through `tlr render` and `tlr validate` (exit 1, `file:line`).
 */
import test from 'ava';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { PipelineRun } from '../../src/api/tekton.js';
import { runCli } from '../../src/cli/program.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { MAX_RESULT_NAME_BYTES } from '../../src/core/limits.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { RewriteError } from '../../src/errors.js';

const options = { config: parseConfig({}), featureFlags: parseFeatureFlags({}) };

function run(names: { task?: string; result?: string; param?: string; workspace?: string }): PipelineRun {
  const task = names.task ?? 'build';
  const result = names.result ?? 'out';
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    metadata: { name: 'names', namespace: 'ci' },
    spec: {
      pipelineSpec: {
        resultWorkspace: { name: 'results' },
        tasks: [
          {
            name: task,
            taskSpec: {
              params: [{ name: names.param ?? 'level' }],
              results: [{ name: result, storage: 'reference' }],
              workspaces: [{ name: names.workspace ?? 'src' }],
              steps: [{ name: 's', image: 'bash', script: `echo > $(results["${result}"].path)` }],
            },
          },
        ],
      },
    },
  };
}

function refusal(input: PipelineRun): string {
  try {
    rewritePipelineRun(input, options);
  } catch (error) {
    if (error instanceof RewriteError) return error.message;
    throw error;
  }
  return '';
}

const HUGE = 'r'.repeat(100 * 1024);

const REFUSED: ReadonlyArray<[string, Parameters<typeof run>[0], RegExp]> = [
  ['result ".."', { result: '..' }, /taskSpec\.results\[0\]\.name: expected a result name of letters, digits, '-', '_' and '\.', starting and ending with a letter or digit \(Tekton's .*\); found "\.\."/],
  ['result "a/b"', { result: 'a/b' }, /results\[0\]\.name: expected a result name .* found "a\/b"/],
  ['result in unicode', { result: 'résultat' }, /results\[0\]\.name: expected a result name .* found "résultat"/],
  ['result ending in "."', { result: 'out.' }, /results\[0\]\.name: expected a result name .* found "out\."/],
  ['result of 100 KB', { result: HUGE }, new RegExp(`results\\[0\\]\\.name: result "r+"\\.\\.\\. \\(102400 bytes\\) is stored by reference, so its name is a file name: expected at most ${MAX_RESULT_NAME_BYTES} bytes, found 102400`)],
  ['pipeline task "../x"', { task: '../x' }, /tasks\[0\]\.name: expected a pipeline task name that is a DNS-1123 label .* as Tekton requires; found "\.\.\/x"/],
  ['pipeline task in capitals', { task: 'Build' }, /tasks\[0\]\.name: expected a pipeline task name that is a DNS-1123 label/],
  ['pipeline task of 64 characters', { task: 'a'.repeat(64) }, /tasks\[0\]\.name: expected a pipeline task name that is a DNS-1123 label \(at most 63/],
  ['param "1st"', { param: '1st' }, /taskSpec\.params\[0\]\.name: expected a param name of letters, digits, '_', '-' and '\.', starting with a letter or '_' \(Tekton's/],
  ['param "a/b"', { param: 'a/b' }, /taskSpec\.params\[0\]\.name: expected a param name/],
  ['workspace ""', { workspace: '' }, /taskSpec\.workspaces\[0\]\.name: expected a workspace name, as Tekton requires; found ""/],
];

for (const [what, names, expected] of REFUSED) {
  test(`refused as Tekton refuses it: ${what}`, (t) => {
    const message = refusal(run(names));
    t.regex(message, expected);
    t.regex(message, /^error: PipelineRun ci\/names: spec\.pipelineSpec\.tasks\[0\]/);
    t.false(message.includes('$(context.pipelineRun.uid)/'), 'no path was made of it');
  });
}

test('names Tekton accepts are kept, odd-looking ones included', (t) => {
  for (const names of [{ result: 'a..b' }, { result: 'My_Result.json' }, { result: 'x' }, { result: 'r'.repeat(MAX_RESULT_NAME_BYTES) }, { task: 'a'.repeat(63) }, { param: '_p.1-x' }, { workspace: 'My Workspace' }]) {
    const out = rewritePipelineRun(run(names), options).object;
    const result = names.result ?? 'out';
    t.true(JSON.stringify(out).includes(`/${names.task ?? 'build'}/${result}`), JSON.stringify(names));
  }
});

test('duplicate names are refused where Tekton refuses them: pipeline tasks across tasks and finally, params, workspaces', (t) => {
  const twins = run({});
  const spec = twins.spec.pipelineSpec ?? {};
  spec.finally = [{ ...(spec.tasks?.[0] ?? { name: 'x' }) }];
  t.regex(refusal(twins), /spec\.pipelineSpec\.finally\[0\]\.name: expected pipeline task names to be unique across tasks and finally, as Tekton requires; found "build" again \(first at spec\.pipelineSpec\.tasks\[0\]\)/);
  const params = run({});
  const taskSpec = params.spec.pipelineSpec?.tasks?.[0]?.taskSpec ?? {};
  taskSpec.params = [{ name: 'p' }, { name: 'p' }];
  taskSpec.workspaces = [{ name: 'w' }, { name: 'w' }];
  const message = refusal(params);
  t.regex(message, /taskSpec\.params\[1\]\.name: expected param names to be unique, as Tekton requires; found "p" again/);
  t.regex(message, /taskSpec\.workspaces\[1\]\.name: expected workspace names to be unique, as Tekton requires; found "w" again/);
});

test('tlr render and tlr validate refuse such names with file:line and exit 1', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tlr-names-'));
  const file = join(dir, 'run.yaml');
  await writeFile(file, stringify(run({ result: '..' })));
  for (const command of ['render', 'validate']) {
    let err = '';
    const code = await runCli([command, file], { out: () => undefined, err: (s) => (err += s), stdin: () => Promise.resolve('') });
    t.is(code, 1, command);
    t.regex(err, new RegExp(`${file.replace(/[.]/g, '\\.')}:\\d+:\\d+: error: PipelineRun ci/names: spec\\.pipelineSpec\\.tasks\\[0\\]\\.taskSpec\\.results\\[0\\]\\.name: expected a result name`), command);
  }
});
