/**
 * The shapes that crashed the PipelineRun webhook with a raw JavaScript error (a 500) before: each is refused with a
 * 422 naming its field path when the run opts in, and let through untouched when it does not (Tekton's own
 * validation then speaks). The same through the rewrite the controller and `tlr render` run.
 */
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { parse } from 'yaml';
import type { PipelineRun } from '../../src/api/tekton.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { RewriteError } from '../../src/errors.js';
import type { AdmissionRequest } from '../../src/webhook/admission-review.js';
import { admitPipelineRun } from '../../src/webhook/pipelinerun-admission.js';
import type { WebhookSettings } from '../../src/webhook/settings.js';
import { nested } from '../support/run-arbitrary.js';

const settings: WebhookSettings = { config: (ns) => parseConfig({}, ns), featureFlags: () => parseFeatureFlags({}) };
const options = { config: parseConfig({}), featureFlags: parseFeatureFlags({}) };

const OPTED_IN = parse(`
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {name: shapes, namespace: ci, annotations: {tlr.dev/result-workspace: results}}
spec:
  params: [{name: level, value: debug}]
  pipelineSpec:
    workspaces: [{name: results}]
    tasks:
      - name: build
        taskSpec:
          metadata: {annotations: {tlr.dev/reference-results: sbom}}
          results: [{name: sbom}]
          steps: [{name: gen, image: syft, script: 'syft . > $(results.sbom.path)'}]
      - name: scan
        params: [{name: sbom, value: $(tasks.build.results.sbom)}]
        taskSpec:
          params: [{name: sbom}]
          steps: [{name: show, image: bash, script: 'echo "$(params.sbom)"'}]
`) as PipelineRun;

/** The same run, opted in nowhere. */
function plain(run: PipelineRun): PipelineRun {
  const copy = structuredClone(run);
  delete copy.metadata?.annotations;
  delete copy.spec.pipelineSpec?.tasks?.[0]?.taskSpec?.metadata;
  return copy;
}

type Loose = Record<string, unknown>;
type Break = (run: PipelineRun) => void;
/** Pipeline task `i` of a run, and its taskSpec, as plain maps a case can break. */
const task = (run: PipelineRun, i: number): Loose => (run.spec.pipelineSpec?.tasks?.[i] ?? {});
const spec = (run: PipelineRun, i: number): Loose => (task(run, i).taskSpec ?? {}) as Loose;
const step = (run: PipelineRun, i: number, j: number): Loose => ((spec(run, i).steps as Loose[] | undefined)?.[j] ?? {});

const CASES: ReadonlyArray<{ name: string; breaks: Break; path: string; expected: RegExp }> = [
  { name: 'tasks: [null]', breaks: (r) => void ((r.spec.pipelineSpec as Loose).tasks = [null]), path: 'spec.pipelineSpec.tasks[0]', expected: /expected a pipeline task .*found null/ },
  { name: 'steps: "x"', breaks: (r) => void (spec(r, 0).steps = 'x'), path: 'spec.pipelineSpec.tasks[0].taskSpec.steps', expected: /expected a list of steps, found a string \("x"\)/ },
  { name: 'params: {a: b}', breaks: (r) => void (task(r, 1).params = { a: 'b' }), path: 'spec.pipelineSpec.tasks[1].params', expected: /expected a list of params, found a mapping/ },
  { name: 'results as a mapping', breaks: (r) => void (spec(r, 0).results = { sbom: {} }), path: 'spec.pipelineSpec.tasks[0].taskSpec.results', expected: /expected a list of result declarations, found a mapping/ },
  { name: 'a step that is a list', breaks: (r) => void (spec(r, 1).steps = [['x']]), path: 'spec.pipelineSpec.tasks[1].taskSpec.steps[0]', expected: /expected a step \(a mapping\), found a list/ },
  { name: 'env as a string', breaks: (r) => void (step(r, 0, 0).env = 'A=1'), path: 'spec.pipelineSpec.tasks[0].taskSpec.steps[0].env', expected: /expected a list of environment variables/ },
  { name: 'a task name that is a number', breaks: (r) => void (task(r, 1).name = 7), path: 'spec.pipelineSpec.tasks[1].name', expected: /expected a string, found a number \(7\)/ },
  { name: 'nesting 2,000 deep in a param', breaks: (r) => void (((r.spec.params?.[0] ?? {}) as Loose).value = nested(2000)), path: 'spec.params[0].value', expected: /expected maps and lists nested at most 100 deep/ },
];

function request(object: unknown): AdmissionRequest {
  return { uid: randomUUID(), kind: { group: 'tekton.dev', version: 'v1', kind: 'PipelineRun' }, namespace: 'ci', operation: 'CREATE', object };
}

for (const c of CASES) {
  test(`${c.name}: an opted-in run is refused (422) naming ${c.path}`, (t) => {
    const run = structuredClone(OPTED_IN);
    c.breaks(run);
    const req = request(run);
    const { response } = admitPipelineRun(req, settings);
    t.is(response.uid, req.uid);
    t.false(response.allowed);
    t.is(response.status?.code, 422);
    t.regex(response.status?.message ?? '', new RegExp(`^error: PipelineRun ci/shapes: ${c.path.replace(/[.[\]]/g, '\\$&')}[^:]*: ${c.expected.source}`, 'm'));
    const error = t.throws(() => rewritePipelineRun(run, options), { instanceOf: RewriteError });
    t.true(error?.diagnostics.some((d) => d.path.startsWith(c.path) && c.expected.test(d.message)));
  });

  test(`${c.name}: a run that did not opt in is let through untouched`, (t) => {
    const run = plain(OPTED_IN);
    c.breaks(run);
    const req = request(run);
    t.deepEqual(admitPipelineRun(req, settings).response, { uid: req.uid, allowed: true });
  });
}

test('a tlr.dev annotation that is not a string opts the run in and is refused naming it', (t) => {
  for (const [where, value, path] of [
    ['run', 5, 'metadata.annotations[tlr.dev/result-workspace]'],
    ['task', ['sbom'], 'spec.pipelineSpec.tasks[0].taskSpec.metadata.annotations[tlr.dev/reference-results]'],
  ] as const) {
    const run = plain(OPTED_IN);
    if (where === 'run') (run.metadata as Loose).annotations = { 'tlr.dev/result-workspace': value };
    else spec(run, 0).metadata = { annotations: { 'tlr.dev/reference-results': value } };
    const { response } = admitPipelineRun(request(run), settings);
    t.is(response.status?.code, 422, where);
    t.true((response.status?.message ?? '').includes(`${path}: expected a string, found`), response.status?.message);
  }
  // Any other annotation of any type is not ours to judge.
  const other = plain(OPTED_IN);
  (other.metadata as Loose).annotations = { 'example.com/x': 5 };
  const req = request(other);
  t.deepEqual(admitPipelineRun(req, settings).response, { uid: req.uid, allowed: true });
});

test('a run nested 100,000 deep (as the API server may send it) is answered, not a stack overflow', (t) => {
  const depth = 100_000;
  const deep = JSON.parse(`${'{"a":'.repeat(depth)}"x"${'}'.repeat(depth)}`) as unknown;
  for (const [run, optedIn] of [
    [{ ...plain(OPTED_IN), spec: { ...plain(OPTED_IN).spec, params: [{ name: 'p', value: deep }] } }, false],
    [{ ...OPTED_IN, spec: { ...OPTED_IN.spec, params: [{ name: 'p', value: deep }] } }, true],
  ] as const) {
    const req = request(run);
    const { response } = admitPipelineRun(req, settings);
    t.is(response.uid, req.uid);
    if (optedIn) t.regex(response.status?.message ?? '', /spec\.params\[0\]\.value\.a\.a.*: expected maps and lists nested at most 100 deep/);
    else t.deepEqual(response, { uid: req.uid, allowed: true });
  }
});
