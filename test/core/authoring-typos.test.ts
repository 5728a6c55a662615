/**
 * Typos that would make a run pass as "not ours", or bind what the author did not mean, are refused before the
 * cluster sees them (exit 1 in `tlr validate`), with the name found and the names that exist: a Tekton apiVersion
 * Tekton does not serve, an annotation or label key under tlr.dev/ we do not define (or one an edit from ours), a
 * result workspace an edit from a declared workspace, and `$(params.<typo>)` where Tekton's validation requires a
 * declared pipeline param.
 */
import test from 'ava';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { KubeObject, PipelineRun } from '../../src/api/tekton.js';
import { runCli } from '../../src/cli/program.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { convertOnly, rewriteObject } from '../../src/core/rewrite.js';
import { DEFAULT_OPTIONS as options, optedInRun } from './run-fixture.js';

const PRODUCER = { name: 'gen', taskSpec: { results: [{ name: 'out', storage: 'reference' }], steps: [{ name: 'w', image: 'bash', script: 'echo > $(results.out.path)' }] } };

function withAnnotations(annotations: Record<string, string>, run: PipelineRun = optedInRun([PRODUCER])): PipelineRun {
  return { ...run, metadata: { ...run.metadata, annotations } };
}

test('an apiVersion of Tekton’s group it does not serve is refused for the kinds tlr rewrites; other kinds and groups pass', (t) => {
  const v2 = { ...optedInRun([PRODUCER]), apiVersion: 'tekton.dev/v2' } as KubeObject;
  t.regex(t.throws(() => rewriteObject(v2, options))?.message ?? '', /PipelineRun ci\/r: apiVersion: expected one of "tekton\.dev\/v1", "tekton\.dev\/v1beta1" \(the versions Tekton v1\.15\.0 serves\), found "tekton\.dev\/v2"/);
  const misspelt = { apiVersion: 'tekon.dev/v1', kind: 'Task', metadata: { name: 't' }, spec: { steps: [] } } as KubeObject;
  t.regex(t.throws(() => convertOnly(misspelt))?.message ?? '', /Task t: apiVersion: .*found "tekon\.dev\/v1"/);
  const stepAction = { apiVersion: 'tekton.dev/v1alpha1', kind: 'StepAction', metadata: { name: 's' }, spec: {} } as KubeObject;
  t.is(convertOnly(stepAction).object, stepAction, 'Tekton serves StepAction at v1alpha1');
  const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' } } as KubeObject;
  t.is(rewriteObject(deployment, options).object, deployment);
});

test('an annotation or label under tlr.dev/ that we do not define is refused, naming the keys an author writes', (t) => {
  const error = t.throws(() => rewritePipelineRun(withAnnotations({ 'tlr.dev/result-workspaces': 'results' }), options));
  t.regex(
    error?.message ?? '',
    /metadata\.annotations\[tlr\.dev\/result-workspaces\]: annotation "tlr\.dev\/result-workspaces" is not one Tekton Large Results defines, so it would be ignored; expected one of "tlr\.dev\/result-workspace" \(did you mean it\?\)|expected one of "tlr\.dev\/result-workspace", "tlr\.dev\/reference-results" \(did you mean "tlr\.dev\/result-workspace"\?\)/,
  );
  // Not under our prefix but an edit or two from one of our keys: a typo too.
  t.regex(t.throws(() => rewritePipelineRun(withAnnotations({ 'tlr.dev-result-workspace': 'results' }), options))?.message ?? '', /\(it is close to one that is\)/);
  // On an embedded task's metadata, where tlr.dev/reference-results goes.
  const task = { ...PRODUCER, taskSpec: { ...PRODUCER.taskSpec, metadata: { annotations: { 'tlr.dev/reference-result': 'out' } } } };
  t.regex(t.throws(() => rewritePipelineRun(optedInRun([task]), options))?.message ?? '', /spec\.pipelineSpec\.tasks\[0\]\.taskSpec\.metadata\.annotations\[tlr\.dev\/reference-result\]: .*did you mean "tlr\.dev\/reference-results"/);
  const labelled = { ...optedInRun([PRODUCER]), metadata: { name: 'r', namespace: 'ci', labels: { 'tlr.dev/consumr': 'true' } } } as PipelineRun;
  t.regex(t.throws(() => rewritePipelineRun(labelled, options))?.message ?? '', /metadata\.labels\[tlr\.dev\/consumr\]: label .*did you mean "tlr\.dev\/consumer"/);
  // Other annotations are Tekton's and the author's business; what the rewrite adds passes through a second rewrite.
  const fine = rewritePipelineRun(withAnnotations({ 'example.com/team': 'a', 'tekton.dev/displayName': 'x' }), options);
  t.true(fine.changed);
  t.notThrows(() => convertOnly(fine.object));
});

test('a result workspace an edit from a declared workspace is refused (TEP field and annotation); a name of its own is declared', (t) => {
  const tep = optedInRun([PRODUCER], { resultWorkspace: { name: 'reslts' }, workspaces: [{ name: 'results' }, { name: 'source' }] });
  t.regex(
    t.throws(() => rewritePipelineRun(tep, options))?.message ?? '',
    /spec\.pipelineSpec\.resultWorkspace: names result workspace "reslts", which the pipeline does not declare, but it declares "results", "source" \(did you mean "results"\?\)/,
  );
  const annotated = withAnnotations({ 'tlr.dev/result-workspace': 'sorce' }, optedInRun([PRODUCER], { workspaces: [{ name: 'source' }] }));
  delete (annotated.spec.pipelineSpec as { resultWorkspace?: unknown }).resultWorkspace;
  t.regex(t.throws(() => rewritePipelineRun(annotated, options))?.message ?? '', /metadata\.annotations\[tlr\.dev\/result-workspace\]: names result workspace "sorce".*did you mean "source"/);
  const own = rewritePipelineRun(optedInRun([PRODUCER], { workspaces: [{ name: 'source' }] }), options);
  t.deepEqual(own.object.spec.pipelineSpec?.workspaces?.map((w) => w.name), ['source', 'results']);
});

test('$(params.<typo>) in a pipeline task’s params, matrix and when is refused; declared names in every form pass', (t) => {
  const consumer = (fields: Record<string, unknown>): unknown => ({
    name: 'use',
    taskSpec: { params: [{ name: 'p' }], steps: [{ name: 's', image: 'bash', script: 'echo "$(params.p)" "$(params.undeclared-but-propagated)"' }] },
    ...fields,
  });
  const params = [{ name: 'report' }, { name: 'cfg', type: 'object', properties: { key: {} } }, { name: 'list', type: 'array' }, { name: 'a.b' }];
  const run = (fields: Record<string, unknown>): PipelineRun => optedInRun([PRODUCER, consumer(fields)], { params });
  const error = t.throws(() =>
    rewritePipelineRun(
      run({
        params: [{ name: 'p', value: 'x $(params.reprt) y' }],
        when: [{ input: '$(params["rport"])', operator: 'in', values: ['a'] }],
        matrix: { params: [{ name: 'm', value: ['$(params.lst[*])'] }] },
      }),
      options,
    ),
  );
  const message = error?.message ?? '';
  t.regex(message, /spec\.pipelineSpec\.tasks\[1\]\.params\[0\]\.value: pipeline task "use": \$\(params\.reprt\) names param "reprt", which the pipeline does not declare; expected one of "report", "cfg", "list", "a\.b" \(did you mean "report"\?\)/);
  t.regex(message, /tasks\[1\]\.when\[0\]\.input: pipeline task "use": \$\(params\["rport"\]\) names param "rport"/);
  t.regex(message, /tasks\[1\]\.matrix\.params\[0\]\.value\[0\]: pipeline task "use": \$\(params\.lst\[\*\]\) names param "lst".*did you mean "list"/);
  t.false(/undeclared-but-propagated/.test(message), 'embedded task specs get propagated params: not judged here');
  t.notThrows(() =>
    rewritePipelineRun(run({ params: [{ name: 'p', value: '$(params.report) $(params.cfg.key) $(params["a.b"]) $(params.a.b) $(params.list[0])' }] }), options),
  );
});

test('tlr validate exits 1 on each, with file:line:column of the misspelt key itself', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tlr-typos-'));
  const file = join(dir, 'run.yaml');
  const text = stringify(withAnnotations({ 'tlr.dev/enabled': 'true' }));
  await writeFile(file, text);
  const lines = text.split('\n');
  const line = lines.findIndex((l) => l.includes('tlr.dev/enabled:')) + 1;
  const column = (lines[line - 1] ?? '').indexOf('tlr.dev/enabled') + 1;
  let err = '';
  const code = await runCli(['validate', file], { out: () => undefined, err: (s) => (err += s), stdin: () => Promise.resolve('') });
  t.is(code, 1);
  t.true(line > 0 && column > 1);
  t.true(
    err.includes(`run.yaml:${line}:${column}: error: PipelineRun ci/r: metadata.annotations[tlr.dev/enabled]: annotation "tlr.dev/enabled" is not one Tekton Large Results defines`),
    err,
  );
});

test('a param default naming a result path is passed as the pipeline task’s value; with another variable in it, refused', (t) => {
  const task = (defaultValue: string): unknown => ({
    name: 'gen',
    taskSpec: {
      params: [{ name: 'out', default: defaultValue }],
      results: [{ name: 'sbom', storage: 'reference' }],
      steps: [{ name: 'w', image: 'bash', script: 'echo > "$(params.out)"' }],
    },
  });
  const passed = rewritePipelineRun(optedInRun([task('$(results.sbom.path)')]), options);
  const value = passed.object.spec.pipelineSpec?.tasks?.[0]?.params?.find((p) => p.name === 'out')?.value;
  t.is(value, '/tlr/results/gen/sbom', "the producer's own directory, as its steps see it");
  const error = t.throws(() => rewritePipelineRun(optedInRun([task('$(results.sbom.path)$(params.out)')]), options));
  t.regex(
    error?.message ?? '',
    /spec\.pipelineSpec\.tasks\[0\]\.taskSpec\.params\[0\]\.default: pipeline task "gen": param "out"'s default names a result stored by reference, so the rewrite passes it as the pipeline task's value .*where \$\(params\.out\) would be read as the pipeline's/,
  );
});
