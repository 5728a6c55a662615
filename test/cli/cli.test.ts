/** The `tlr` CLI, driven through `runCli` (commander's parseAsync with from: 'user'), with captured output. */
import test from 'ava';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/program.js';
import { parseYamlDocuments } from '../../src/yaml/documents.js';

async function tlr(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (s) => (out += s), err: (s) => (err += s), stdin: () => Promise.resolve('') });
  return { code, out, err };
}

async function tempFile(name: string, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tlr-cli-'));
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

test('render prints the run as the admission webhook would rewrite it', async (t) => {
  const r = await tlr('render', 'examples/large-json/pipelinerun.yaml', '--config', 'examples/config.yaml');
  t.is(r.code, 0, r.err);
  const [run] = parseYamlDocuments(r.out, 'out').map((d) => d.object as { metadata: { annotations: Record<string, string> }; spec: { workspaces: Array<{ volumeClaimTemplate: { spec: { storageClassName: string } } }> } });
  t.is(run?.metadata.annotations['tlr.dev/rewritten'], 'v1');
  t.is(run?.spec.workspaces[0]?.volumeClaimTemplate.spec.storageClassName, 'csi-results');
});

test('render resolves local refs from the other files and binds a provisioned claim with --claim', async (t) => {
  const dir = 'examples/taskref-files';
  const r = await tlr('render', `${dir}/pipelinerun.yaml`, `${dir}/pipeline.yaml`, `${dir}/task-produce.yaml`, `${dir}/task-consume.yaml`, '--claim', 'tlr-pvc-1');
  t.is(r.code, 0, r.err);
  t.regex(r.out, /claimName: tlr-pvc-1/);
  t.regex(r.out, /tlr\.dev\/original-refs: '\{"pipelineRef":\{"name":"release"\},"taskRefs":\{"build":\{"name":"list-images"\},"sign":\{"name":"sign-images"\}\}\}'/);
});

test('convert turns the TEP form into annotations and leaves other objects alone', async (t) => {
  const file = await tempFile('task.yaml', [
    'apiVersion: tekton.dev/v1', 'kind: Task', 'metadata: {name: t}', 'spec:', '  results:', '    - name: big', '      storage: reference', '  steps: [{name: s, image: bash, script: "true"}]',
    '---', 'apiVersion: v1', 'kind: ConfigMap', 'metadata: {name: c}', 'data: {a: b}', '',
  ].join('\n'));
  const r = await tlr('convert', file);
  t.is(r.code, 0, r.err);
  t.is(r.out, [
    'apiVersion: tekton.dev/v1', 'kind: Task', 'metadata:', '  name: t', '  annotations:', '    tlr.dev/reference-results: big', 'spec:', '  results:', '    - name: big',
    '  steps:', '    - name: s', '      image: bash', '      script: "true"', '---', 'apiVersion: v1', 'kind: ConfigMap', 'metadata:', '  name: c', 'data:', '  a: b', '',
  ].join('\n'));
});

test('malformed YAML is reported with file, line and column, exit 1', async (t) => {
  const file = await tempFile('bad.yaml', 'apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: [unclosed\n');
  const r = await tlr('render', file);
  t.is(r.code, 1);
  t.regex(r.err, new RegExp(`^error: ${file.replace(/[.]/g, '\\.')}:\\d+:\\d+: `));
});

test('a refused run names file, line, object, field path and reason, exit 1 (the config given is the one applied)', async (t) => {
  const config = await tempFile('config.yaml', 'valuesInArgsAndEnv: "false"\n');
  const r = await tlr('render', 'test/fixtures/rewrite/refused-value-in-args/input.yaml', '--config', config);
  t.is(r.code, 1);
  t.is(r.out, '');
  t.is(
    r.err,
    'test/fixtures/rewrite/refused-value-in-args/input.yaml:30:32: error: PipelineRun ci/value-in-args: spec.pipelineSpec.tasks[1].taskSpec.steps[0].args[1]: ' +
      'pipeline task "use", step "print": $(params.data) in args carries result "data" of task "gen", which is stored by reference; its value can only be ' +
      'substituted into a step script (values in args, command, env and workingDir are turned off on this cluster: config key valuesInArgsAndEnv is "false"). ' +
      'Expected it there, or the file path $(tasks.gen.results.data.path) where a path will do; found it in args\n',
  );
  // With the default configuration the same run is accepted: the exec helper puts the value into args.
  const accepted = await tlr('validate', 'test/fixtures/rewrite/refused-value-in-args/input.yaml');
  t.is(accepted.code, 0, accepted.err);
});

test('a bad config key is a usage error naming the key, exit 2', async (t) => {
  const config = await tempFile('config.yaml', 'maxResultSize: lots\n');
  const r = await tlr('render', 'examples/large-json/pipelinerun.yaml', '--config', config);
  t.is(r.code, 2);
  t.is(r.err, 'error: config key "maxResultSize": expected a Kubernetes quantity such as 512Mi, 1Gi, 1.5G, 1e9 or 1048576, found "lots"\n');
});

test('a missing file is a usage error, exit 2', async (t) => {
  const r = await tlr('render', 'no/such/file.yaml');
  t.is(r.code, 2);
  t.regex(r.err, /no\/such\/file\.yaml/);
});

test('validate --crds checks every output against Tekton\'s CRD schemas', async (t) => {
  const r = await tlr('validate', '--crds', '../shared/tekton/v1.15.0/crds', '--feature-flags', 'examples/stdout-capture/feature-flags.yaml', 'examples/stdout-capture/pipelinerun.yaml');
  t.is(r.code, 0, r.err);
  t.regex(r.out, /PipelineRun stdout-capture-\*: ok \(rewritten\), valid against the CRD schema/);
});

test('a field Tekton admits only under a feature flag is refused under the flags given (Tekton\'s default beta when none), at the user\'s line', async (t) => {
  const r = await tlr('validate', 'examples/stdout-capture/pipelinerun.yaml');
  t.is(r.code, 1);
  t.regex(r.err, /^examples\/stdout-capture\/pipelinerun\.yaml:23:17: error: PipelineRun stdout-capture-\*: spec\.pipelineSpec\.tasks\[0\]\.taskSpec\.steps\[0\]\.stdoutConfig: step stdout stream support \(stdoutConfig\) needs Tekton's feature flag enable-api-fields: alpha, and the feature flags in use have "beta"/m);
  const flags = await tempFile('stable.yaml', 'enable-api-fields: STABLE\n');
  const stable = await tlr('validate', '--feature-flags', flags, 'examples/stdout-capture/pipelinerun.yaml');
  t.is(stable.code, 1);
  t.regex(stable.err, /have "stable"/);
});

test('validate --crds reports schema problems with their field path', async (t) => {
  const file = await tempFile('bad-run.yaml', 'apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata: {name: x}\nspec:\n  timeout: 1h\n  serviceAccountName: [not, a, string]\n  taskSpec:\n    steps: [{name: s, image: bash, script: "true"}]\n');
  const r = await tlr('validate', '--crds', '../shared/tekton/v1.15.0/crds', file);
  t.is(r.code, 1);
  t.regex(r.err, /TaskRun x: spec\.serviceAccountName: /);
});

test('--help explains the commands', async (t) => {
  const r = await tlr('--help');
  t.is(r.code, 0);
  for (const word of ['convert', 'render', 'validate', 'kubectl apply']) t.true(r.out.includes(word), word);
});

test('an unknown command is a usage error, exit 2', async (t) => {
  const r = await tlr('frobnicate');
  t.is(r.code, 2);
});

test("convert leaves kubectl's scalars alone: `default: .` stays a dot, a quoted \"0o17\" stays quoted", async (t) => {
  const file = await tempFile('task.yaml', 'apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: t\n  annotations:\n    mode: "0o17"\nspec:\n  params:\n  - name: CONTEXT\n    default: .\n  steps: []\n');
  const r = await tlr('convert', file);
  t.is(r.code, 0, r.err);
  t.regex(r.out, /\n {6}default: \.\n/);
  t.regex(r.out, /\n {4}mode: "0o17"\n/);
  t.notRegex(r.out, /nan/i);
});

test('render of a run whose Pipeline is not given: the run as it is, exit 0, and a warning naming the Pipeline', async (t) => {
  const r = await tlr('render', 'examples/taskref-files/pipelinerun.yaml');
  t.is(r.code, 0, r.err);
  t.regex(r.err, /pipelinerun\.yaml:11:5: warning: PipelineRun release-\*: spec\.pipelineRef: Pipeline "release" was not found: .*the run is left as it is/);
  t.notRegex(r.out, /tlr\.dev\/rewritten/);
});

test('--strict turns warnings into failures (exit 1) for render and validate; without it they pass', async (t) => {
  for (const command of ['render', 'validate']) {
    const strict = await tlr(command, '--strict', 'examples/taskref-files/pipelinerun.yaml');
    t.is(strict.code, 1, command);
    t.regex(strict.err, /warning: PipelineRun release-\*: spec\.pipelineRef: Pipeline "release" was not found/, command);
    t.regex(strict.err, /error: 1 warning\(s\), and --strict makes warnings failures/, command);
    t.notRegex(strict.out, /: ok/, `${command}: nothing claims ok`);
  }
  const dir = 'examples/taskref-files';
  const clean = await tlr('validate', '--strict', `${dir}/pipelinerun.yaml`, `${dir}/pipeline.yaml`, `${dir}/task-produce.yaml`, `${dir}/task-consume.yaml`);
  t.is(clean.code, 0, clean.err);
});

test('validate -o json: one document on stdout with every object and diagnostic, nothing on stderr; the exit code says the same', async (t) => {
  const refused = await tempFile('run.yaml', [
    'apiVersion: tekton.dev/v1', 'kind: PipelineRun', 'metadata: {name: r, annotations: {tlr.dev/result-workspaces: results}}',
    'spec: {pipelineSpec: {tasks: []}}', '---', 'apiVersion: tekton.dev/v1', 'kind: Task', 'metadata: {name: t}', 'spec: {steps: [{name: s, image: bash, script: "true"}]}', '',
  ].join('\n'));
  const r = await tlr('validate', '-o', 'json', refused, 'examples/taskref-files/pipelinerun.yaml');
  t.is(r.code, 1);
  t.is(r.err, '');
  const report = JSON.parse(r.out) as { ok: boolean; objects: Array<{ line: number; object: string; status: string }>; diagnostics: Array<Record<string, unknown>> };
  t.false(report.ok);
  t.deepEqual(report.objects.map((o) => [o.line, o.object, o.status]), [[1, 'PipelineRun r', 'refused'], [6, 'Task t', 'ok'], [5, 'PipelineRun release-*', 'ok']]);
  // The column of the misspelt key, not of its value.
  t.like(report.diagnostics[0], { file: refused, line: 3, column: 35, severity: 'error', object: 'PipelineRun r', path: 'metadata.annotations[tlr.dev/result-workspaces]' });
  t.regex(String(report.diagnostics[0]?.['message']), /did you mean "tlr\.dev\/result-workspace"/);
  t.like(report.diagnostics[1], { severity: 'warning', path: 'spec.pipelineRef' });
  const ok = await tlr('validate', '-o', 'json', 'examples/large-json/pipelinerun.yaml');
  t.is(ok.code, 0, ok.err);
  t.like(JSON.parse(ok.out), { ok: true, diagnostics: [] });
  const bad = await tlr('validate', '-o', 'yaml', refused);
  t.is(bad.code, 2);
  t.regex(bad.err, /--output: expected "text" or "json", found "yaml"/);
});

test('a stored Pipeline is checked on its own as every run naming it would be: refusals exit 1, Tasks not given are a warning', async (t) => {
  const pipeline = await tempFile('pipeline.yaml', [
    'apiVersion: tekton.dev/v1', 'kind: Pipeline', 'metadata: {name: p}', 'spec:', '  resultWorkspace: {name: results}', '  tasks:',
    '    - name: gen', '      taskSpec:', '        results: [{name: out, storage: reference}]', '        steps: [{name: s, image: bash, script: "echo > $(results.out.path)"}]',
    '    - name: use', '      taskSpec:', '        steps: [{name: s, image: "$(tasks.gen.results.out.path)", script: "true"}]', '',
  ].join('\n'));
  for (const command of ['validate', 'render']) {
    const refused = await tlr(command, pipeline);
    t.is(refused.code, 1, command);
    t.regex(refused.err, /pipeline\.yaml:13:34: error: Pipeline p: spec\.tasks\[1\]\.taskSpec\.steps\[0\]\.image: .*\$\(tasks\.gen\.results\.out\.path\)/, command);
  }
  const dir = 'examples/taskref-files';
  const alone = await tlr('validate', `${dir}/pipeline.yaml`);
  t.is(alone.code, 0, alone.err);
  t.regex(alone.err, /warning: Pipeline release: spec\.tasks\[0\]\.taskRef: pipeline task "build": Task "list-images" is not among the files given, so the pipeline's producers and consumers were not checked/);
  const withTasks = await tlr('validate', '--strict', `${dir}/pipeline.yaml`, `${dir}/task-produce.yaml`, `${dir}/task-consume.yaml`);
  t.is(withTasks.code, 0, withTasks.err);
  t.regex(withTasks.out, /pipeline\.yaml:1: Pipeline release: ok\n/);
  // render still prints the Pipeline as kubectl apply should store it: converted, not rewritten.
  const rendered = await tlr('render', `${dir}/pipeline.yaml`, `${dir}/task-produce.yaml`, `${dir}/task-consume.yaml`);
  t.is(rendered.code, 0, rendered.err);
  t.notRegex(rendered.out, /tlr-seal|tlr\.dev\/rewritten/);
});

test('diagnostics point at the user’s own field: file:line:col of the node, and its index as written (tlr-prepare, inserted, not counted)', async (t) => {
  const file = await tempFile('run.yaml', [
    'apiVersion: tekton.dev/v1', 'kind: PipelineRun', 'metadata: {name: s}', 'spec:', '  pipelineSpec:', '    resultWorkspace: {name: results}', '    tasks:',
    '      - name: gen', '        taskSpec:', '          results: [{name: out, storage: reference}]', '          steps: [{name: s, image: bash, script: "echo > $(results.out.path)"}]',
    '      - name: both', '        taskSpec:', '          results: [{name: more, storage: reference}]', '          steps:',
    '            - {name: a, image: bash, script: "echo > $(results.more.path)"}', '            - name: b', '              image: $(tasks.gen.results.out.path)', '',
  ].join('\n'));
  const r = await tlr('validate', file);
  t.is(r.code, 1);
  t.regex(r.err, /run\.yaml:18:22: error: PipelineRun s: spec\.pipelineSpec\.tasks\[1\]\.taskSpec\.steps\[1\]\.image: pipeline task "both", step "b": /);
});

test('on a Node.js older than 24 the installed CLI says what it needs, exit 2, instead of failing inside a dependency', async (t) => {
  const { spawnSync } = await import('node:child_process');
  // The CLI's own entry, on this Node.js told it is 20 (as npm install -g on an old Node.js would run it).
  const old = spawnSync(process.execPath, ['--import', 'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"20.19.0"})', 'dist/src/cli/main.js', 'render', 'examples/large-json/pipelinerun.yaml'], { encoding: 'utf8' });
  t.is(old.status, 2, old.stderr);
  t.regex(old.stderr, /^error: tlr needs Node\.js 24 or newer; this is Node\.js 20\.19\.0 \(/);
  t.is(old.stdout, '');
  const current = spawnSync(process.execPath, ['dist/src/cli/main.js', 'render', 'examples/large-json/pipelinerun.yaml'], { encoding: 'utf8' });
  t.is(current.status, 0, current.stderr);
});

test('a field of a Pipeline or Task a run references is located in the file that holds it, by its own field path', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tlr-cli-'));
  const write = async (name: string, lines: string[]): Promise<string> => {
    await writeFile(join(dir, name), `${lines.join('\n')}\n`);
    return join(dir, name);
  };
  const run = await write('run.yaml', ['apiVersion: tekton.dev/v1', 'kind: PipelineRun', 'metadata: {name: r}', 'spec:', '  pipelineRef: {name: p}']);
  const pipeline = await write('pipeline.yaml', [
    'apiVersion: tekton.dev/v1', 'kind: Pipeline', 'metadata: {name: p}', 'spec:', '  resultWorkspace: {name: results}', '  tasks:',
    '    - name: gen', '      taskSpec:', '        results: [{name: out, storage: reference}]', '        steps: [{name: s, image: bash, script: "echo > $(results.out.path)"}]',
    '    - name: use', '      taskRef: {name: deploy}', '      params: [{name: img, value: $(tasks.gen.results.out)}]',
  ]);
  const task = await write('task.yaml', [
    'apiVersion: tekton.dev/v1', 'kind: Task', 'metadata: {name: deploy}', 'spec:', '  params: [{name: img}]', '  steps:',
    '    - name: s', '      image: $(params.img)', '      script: "true"',
  ]);
  // Copies off, so a value in an image is refused (with copies it takes one: test/core/copies.test.ts).
  const config = await write('config.yaml', ['maxCopySize: "0"']);
  const r = await tlr('validate', '-c', config, run, pipeline, task);
  t.is(r.code, 1);
  // The run's refusal where the user wrote the field: the Task's image in task.yaml — not the run's first line, not
  // spec.pipelineSpec.tasks[1].taskSpec.steps[0].image (which no file holds).
  t.regex(r.err, /task\.yaml:8:14: error: Task deploy, run by PipelineRun r: spec\.steps\[0\]\.image: /);
  t.notRegex(r.err, /spec\.pipelineSpec/);
  const missing = await tlr('validate', run, pipeline);
  t.is(missing.code, 1);
  t.regex(missing.err, /pipeline\.yaml:12:16: error: Pipeline p, run by PipelineRun r: spec\.tasks\[1\]\.taskRef: pipeline task "use": .*Task "deploy" was not found/);
  const json = await tlr('validate', '-c', config, '-o', 'json', run, pipeline, task);
  const report = JSON.parse(json.out) as { objects: Array<{ file: string; line: number; object: string; status: string }>; diagnostics: Array<Record<string, unknown>> };
  // The objects refused are still the run, in its own file, and the Pipeline (checked on its own, as runs would use it).
  t.deepEqual(report.objects.filter((o) => o.status === 'refused').map((o) => [o.file, o.line, o.object]), [[pipeline, 1, 'Pipeline p'], [run, 1, 'PipelineRun r']]);
  t.truthy(report.diagnostics.find((d) => d['object'] === 'Task deploy, run by Pipeline p'), 'the Pipeline\'s own check, located in the Task too');
  t.like(report.diagnostics.find((d) => d['file'] === task), { line: 8, column: 14, object: 'Task deploy, run by PipelineRun r', path: 'spec.steps[0].image' });
});

test('a Task the rewrite reads but does not inline is located in its own file too (its field, not the run\'s taskRef)', async (t) => {
  const r = await tlr('validate', 'examples/catalog-env/pipelinerun.yaml', 'examples/catalog-env/task-json-stats.yaml');
  t.is(r.code, 1, 'stdoutConfig needs alpha, and no --feature-flags says so');
  t.regex(r.err, /^examples\/catalog-env\/task-json-stats\.yaml:38:9: error: Task json-stats, run by PipelineRun catalog-env-\*: spec\.steps\[1\]\.stdoutConfig: /m);
});

test('a Pipeline that stores nothing by reference is still linted for the names Tekton checks', async (t) => {
  const file = await tempFile('pipeline.yaml', [
    'apiVersion: tekton.dev/v1', 'kind: Pipeline', 'metadata: {name: plain}', 'spec:', '  params: [{name: report}]', '  tasks:',
    '    - name: gen', '      taskSpec: {results: [{name: out}], steps: [{name: s, image: bash, script: "echo > $(results.out.path)"}]}',
    '    - name: use', '      params: [{name: a, value: $(params.reprt)}, {name: b, value: $(tasks.gne.results.out)}]',
    '      taskSpec: {params: [{name: a}, {name: b}], steps: [{name: s, image: bash, script: "echo $(params.a) $(params.b)"}]}',
  ].join('\n'));
  const r = await tlr('validate', file);
  t.is(r.code, 1);
  t.regex(r.err, /pipeline\.yaml:10:33: error: Pipeline plain: spec\.tasks\[1\]\.params\[0\]\.value: pipeline task "use": \$\(params\.reprt\) names param "reprt", which the pipeline does not declare; expected one of "report"/);
  t.regex(r.err, /error: Pipeline plain: spec\.tasks\[1\]\.params\[1\]\.value: pipeline task "use": \$\(tasks\.gne\.results\.out\) names pipeline task "gne", which this pipeline does not have; expected one of "gen", "use" \(did you mean "gen"\?\)/);
  const fixed = await tempFile('pipeline.yaml', [
    'apiVersion: tekton.dev/v1', 'kind: Pipeline', 'metadata: {name: plain}', 'spec:', '  params: [{name: report}]', '  tasks:',
    '    - name: use', '      params: [{name: a, value: $(params.report)}]',
    '      taskSpec: {params: [{name: a}], steps: [{name: s, image: bash, script: "echo $(params.a)"}]}',
  ].join('\n'));
  const ok = await tlr('validate', '--strict', fixed);
  t.is(ok.code, 0, ok.err);
});
