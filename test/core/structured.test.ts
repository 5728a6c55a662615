/**
 * The rewrite of structured results stored by reference: an object or array result's declaration becomes a string
 * one (Tekton gets the reference) and its seal step checks the JSON (`--shapes`); consumers' `.key` and `[i]` become
 * selector tokens around the plain reference, declared literally in TLR_SELECTORS.
 */
import test from 'ava';
import type { PipelineRun, TaskRun } from '../../src/api/tekton.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { rewriteObject } from '../../src/core/rewrite.js';
import { parseSelectorLabel, parseShapes, selectorOfSuffix } from '../../src/core/structured.js';

import { DEFAULT_OPTIONS as options, optedInRun } from './run-fixture.js';

function run(consumerScript: string, results?: unknown[]): PipelineRun {
  return optedInRun([
    {
      name: 'gen',
      taskSpec: {
        results: results ?? [
          { name: 'img', type: 'object', storage: 'reference', properties: { url: { type: 'string' }, digest: { type: 'string' } } },
          { name: 'list', type: 'array', storage: 'reference' },
        ],
        steps: [{ name: 'w', image: 'bash', script: 'echo > $(results.img.path); echo > $(results.list.path)' }],
      },
    },
    { name: 'use', taskSpec: { steps: [{ name: 's', image: 'bash', script: consumerScript }] } },
  ]);
}

test('a key not among the declared properties is accepted with a warning (Tekton takes keys the value has)', (t) => {
  const out = rewritePipelineRun(run('echo "$(tasks.gen.results.img.tag)"'), options);
  t.true(out.changed);
  const warning = out.diagnostics.find((d) => d.severity === 'warning');
  t.is(warning?.path, 'spec.pipelineSpec.tasks[1].taskSpec.steps[0].script');
  t.regex(warning?.message ?? '', /names key "tag", which is not one of the declared properties of result "img" of task "gen" \(digest, url\)/);
});

test('the selectors a task uses are declared once each, in order of use; the whole value stays the plain reference', (t) => {
  const out = rewritePipelineRun(run('echo "$(tasks.gen.results.img.url) $(tasks.gen.results.list[3]) $(tasks.gen.results.img.url) $(tasks.gen.results.list)"'), options).object;
  const use = out.spec.pipelineSpec?.tasks?.[1]?.taskSpec;
  t.is(use?.steps?.[0]?.script, 'echo "[[tlr:select:.url:$(tasks.gen.results.img)]] [[tlr:select:[3]:$(tasks.gen.results.list)]] [[tlr:select:.url:$(tasks.gen.results.img)]] $(tasks.gen.results.list)"');
  t.deepEqual(use?.stepTemplate?.env?.find((e) => e.name === 'TLR_SELECTORS'), { name: 'TLR_SELECTORS', value: 'gen/img.url gen/list[3]' });
});

test('the producer declares strings, keeps its description, and its seal step checks the declared shapes', (t) => {
  const out = rewritePipelineRun(run('echo "$(tasks.gen.results.img.url)"'), options).object;
  const gen = out.spec.pipelineSpec?.tasks?.[0]?.taskSpec;
  t.deepEqual(gen?.results?.map((r) => [r.name, r.type, r['properties']]), [['img', 'string', undefined], ['list', 'string', undefined]]);
  const seal = gen?.steps?.at(-1)?.args ?? [];
  const shapes = seal[seal.indexOf('--shapes') + 1] ?? '';
  t.deepEqual([...parseShapes(shapes)], [['img', { type: 'object', properties: ['url', 'digest'] }], ['list', { type: 'array' }]]);
});

test('a standalone TaskRun producing an object result is rewritten the same way', (t) => {
  const taskRun = {
    apiVersion: 'tekton.dev/v1',
    kind: 'TaskRun',
    metadata: { name: 'tr', namespace: 'ci' },
    spec: {
      taskSpec: {
        results: [{ name: 'meta', type: 'object', storage: 'reference', properties: { a: { type: 'string' } } }],
        steps: [{ name: 'w', image: 'bash', script: 'echo \'{"a":"b"}\' > $(results.meta.path)' }],
      },
    },
  } as unknown as TaskRun;
  const out = rewriteObject(taskRun, options);
  const spec = (out.object as TaskRun).spec.taskSpec;
  t.is(spec?.results?.[0]?.type, 'string', JSON.stringify(out.diagnostics));
  t.true(spec?.steps?.at(-1)?.args?.includes('{"meta":{"type":"object","properties":["a"]}}'));
});

test('property names that Tekton would substitute into the seal step are refused; non-string properties too', (t) => {
  const error = t.throws(() => rewritePipelineRun(run('echo', [
    { name: 'img', type: 'object', storage: 'reference', properties: { '$(params.x)': { type: 'string' }, n: { type: 'number' } } },
  ]), options));
  t.regex(error?.message ?? '', /results\[0\]\.properties\[\$\(params\.x\)\]: result "img": a property name .* may not contain "\$\("/);
  t.regex(error?.message ?? '', /results\[0\]\.properties\.n\.type: result "img": Tekton object results hold strings only; expected type "string", found "number"/);
});

test('selector syntax: keys in the dot form, indexes without leading zeros; labels split at the last selector', (t) => {
  t.deepEqual(selectorOfSuffix('.url'), { key: 'url' });
  t.deepEqual(selectorOfSuffix('[12]'), { index: 12 });
  t.is(selectorOfSuffix('.path'), undefined, 'the by-path form is ours');
  t.is(selectorOfSuffix('[*]'), undefined);
  t.is(selectorOfSuffix('[01]'), undefined);
  t.deepEqual(parseSelectorLabel('gen/a.b.c'), { label: 'gen/a.b', selector: { key: 'c' } });
  t.deepEqual(parseSelectorLabel('gen/list[0]'), { label: 'gen/list', selector: { index: 0 } });
  t.is(parseSelectorLabel('gen/list'), undefined);
  t.is(parseSelectorLabel('Gen/list.x'), undefined);
});

test('an element in env by value: the size warning says it is an element, and that the path holds the whole JSON', (t) => {
  const base = run('true');
  const use = base.spec.pipelineSpec?.tasks?.[1] as { taskSpec: { steps: Array<Record<string, unknown>> } };
  use.taskSpec.steps = [{ name: 's', image: 'bash', command: ['show'], env: [{ name: 'URL', value: '$(tasks.gen.results.img.url)' }] }];
  const warning = rewritePipelineRun(base, options).diagnostics.find((d) => /Linux passes at most/.test(d.message));
  t.is(warning?.path, 'spec.pipelineSpec.tasks[1].taskSpec.steps[0].env[0].value');
  t.regex(warning?.message ?? '', /\$\(tasks\.gen\.results\.img\.url\) puts an element of result "img" of task "gen" into .* read the file \$\(tasks\.gen\.results\.img\.path\) instead \(it holds the whole JSON value: take the element from it there, e\.g\. with jq\)$/);
});

test('a pipeline result naming an element: the whole reference travels, the run records the element; [*], .path, extra text and the wrong selector are refused', (t) => {
  const withResults = (results: unknown[]): PipelineRun => {
    const r = run('true');
    (r.spec.pipelineSpec as { results?: unknown[] }).results = results;
    return r;
  };
  const out = rewritePipelineRun(
    withResults([
      { name: 'url', value: '$(tasks.gen.results.img.url)' },
      { name: 'all', value: '$(tasks.gen.results.list)' },
      { name: 'both', type: 'object', value: { u: '$(tasks.gen.results.img.digest)', l: '$(tasks.gen.results.list[2])' } },
      { name: 'many', type: 'array', value: ['$(tasks.gen.results.list[0])', '$(tasks.gen.results.img)'] },
      { name: 'odd', value: '$(tasks.gen.results.img.tag)' },
    ]),
    options,
  );
  const results = (out.object.spec.pipelineSpec as { results?: Array<{ value: unknown }> }).results;
  // Only expressions, as Tekton's validation of pipeline results requires (taskContainsResult).
  t.deepEqual(results?.map((r) => r.value), [
    '$(tasks.gen.results.img)',
    '$(tasks.gen.results.list)',
    { u: '$(tasks.gen.results.img)', l: '$(tasks.gen.results.list)' },
    ['$(tasks.gen.results.list)', '$(tasks.gen.results.img)'],
    '$(tasks.gen.results.img)',
  ]);
  t.deepEqual(JSON.parse(out.object.metadata?.annotations?.['tlr.dev/pipeline-result-elements'] ?? '{}'), {
    url: '.url', 'both.u': '.digest', 'both.l': '[2]', 'many[0]': '[0]', odd: '.tag',
  });
  t.like(out.diagnostics.find((d) => d.severity === 'warning'), { path: 'spec.pipelineSpec.results[4].value' });
  t.regex(out.diagnostics.find((d) => d.severity === 'warning')?.message ?? '', /pipeline result "odd": .* names key "tag", which is not one of the declared properties .*tlr fetch of this pipeline result fails if the value lacks it/);
  // An annotation the run came with is the rewrite's to write: dropped when nothing is an element.
  const forged = withResults([{ name: 'all', value: '$(tasks.gen.results.list)' }]);
  forged.metadata = { ...forged.metadata, annotations: { ...forged.metadata?.annotations, 'tlr.dev/pipeline-result-elements': '{"all":"[0]"}' } };
  t.is(rewritePipelineRun(forged, options).object.metadata?.annotations?.['tlr.dev/pipeline-result-elements'], undefined);
  const refused = (value: string): string => {
    const error = t.throws(() => rewritePipelineRun(withResults([{ name: 'r', value }]), options));
    return error.message;
  };
  t.regex(refused('$(tasks.gen.results.list[*])'), /pipeline result "r": result "list" of task "gen" is an array of strings, stored by reference; Tekton expands \$\(tasks\.gen\.results\.list\[\*\]\) from the value it holds, and it holds only the reference; expected the whole value \$\(tasks\.gen\.results\.list\) .* or one element \$\(tasks\.gen\.results\.list\[<index>\]\)/);
  t.regex(refused('$(tasks.gen.results.img.path)'), /a path means nothing outside the task's pods, found \$\(tasks\.gen\.results\.img\.path\)/);
  t.regex(refused('$(tasks.gen.results.img[0])'), /expected a key, \$\(tasks\.gen\.results\.img\.<key>\), found \$\(tasks\.gen\.results\.img\[0\]\)/);
  t.regex(refused('$(tasks.gen.results.list.first)'), /expected an element, \$\(tasks\.gen\.results\.list\[<index>\]\), found/);
  t.regex(refused('v$(tasks.gen.results.img.url)'), /the expression must be the whole text of the value .*; expected "\$\(tasks\.gen\.results\.img\.url\)" alone, found "v\$\(tasks\.gen\.results\.img\.url\)"/);
});
