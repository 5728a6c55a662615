import test from 'ava';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeObject, TaskRun } from '../../src/api/tekton.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { resolverFromObjects } from '../../src/core/resolver.js';
import { convertOnly } from '../../src/core/rewrite.js';
import { rewriteTaskRun } from '../../src/core/task-run.js';
import { TlrError } from '../../src/errors.js';
import type { AdmissionRequest } from '../../src/webhook/admission-review.js';
import type { WebhookSettings } from '../../src/webhook/settings.js';
import { admitTaskRun } from '../../src/webhook/taskrun-admission.js';
import { applyPatch, deepFreeze, patchOf } from './apply-patch.js';

const settings: WebhookSettings = { config: (ns) => parseConfig({}, ns), featureFlags: () => parseFeatureFlags({}) };
const brokenSettings: WebhookSettings = {
  config: () => {
    throw new TlrError('E_CONFIG', 'config key "size": expected a quantity such as 1Gi, found "lots"');
  },
  featureFlags: () => parseFeatureFlags({}),
};

function request(object: unknown, namespace = 'ci'): AdmissionRequest {
  return deepFreeze({
    uid: randomUUID(),
    kind: { group: 'tekton.dev', version: 'v1', kind: 'TaskRun' },
    resource: { group: 'tekton.dev', version: 'v1', resource: 'taskruns' },
    namespace,
    operation: 'CREATE',
    object: structuredClone(object),
  });
}

const TEP_TASKRUN: TaskRun = {
  apiVersion: 'tekton.dev/v1',
  kind: 'TaskRun',
  metadata: { name: 'lint' },
  spec: {
    taskSpec: {
      results: [{ name: 'report', storage: 'reference' }],
      steps: [{ name: 'lint', image: 'alpine', script: 'seq 100000 > $(results.report.path)' }],
    },
  },
};

test('an opted-in TaskRun with an embedded taskSpec is patched into exactly what the rewrite makes of it', (t) => {
  const req = request(TEP_TASKRUN);
  const review = admitTaskRun(req, settings);
  t.true(review.response.allowed);
  const patched = applyPatch(TEP_TASKRUN, patchOf(review));
  const converted = convertOnly(TEP_TASKRUN).object as TaskRun;
  const expected = rewriteTaskRun({ ...converted, metadata: { ...converted.metadata, namespace: 'ci' } }, {
    config: parseConfig({}, 'ci'),
    featureFlags: parseFeatureFlags({}),
  }).object;
  t.deepEqual((patched).spec, expected.spec);
  t.deepEqual((patched).metadata?.annotations, expected.metadata?.annotations);
});

const STORED_TASK = {
  apiVersion: 'tekton.dev/v1',
  kind: 'Task',
  metadata: { name: 'lint', namespace: 'ci', annotations: { 'tlr.dev/reference-results': 'report' } },
  spec: { results: [{ name: 'report' }], steps: [{ name: 'lint', image: 'alpine', script: 'seq 100000 > $(results.report.path)' }] },
} as KubeObject;
const BY_REF: TaskRun = { apiVersion: 'tekton.dev/v1', kind: 'TaskRun', metadata: { name: 'byref' }, spec: { taskRef: { name: 'lint' } } };

test('a TaskRun whose stored Task opts it in is rewritten with the Task inlined, as tlr render run.yaml task.yaml prints it', (t) => {
  const answer = admitTaskRun(request(BY_REF), settings, { objects: [STORED_TASK] });
  t.true(answer.response.allowed);
  const patched = applyPatch(BY_REF, patchOf(answer));
  const expected = rewriteTaskRun({ ...BY_REF, metadata: { ...BY_REF.metadata, namespace: 'ci' } }, {
    config: parseConfig({}, 'ci'), featureFlags: parseFeatureFlags({}), resolver: resolverFromObjects([STORED_TASK]),
  }).object;
  t.deepEqual(patched.spec, expected.spec);
  t.is(patched.spec.taskRef, undefined);
  t.true((patched.spec.taskSpec?.steps ?? []).some((s) => s.name === 'tlr-seal'));
  t.regex(patched.metadata?.annotations?.['tlr.dev/original-refs'] ?? '', /"taskRef":\{"name":"lint"\}/);
  // Without the Task's annotation nothing opts it in: allowed untouched.
  const plain = { ...STORED_TASK, metadata: { name: 'lint', namespace: 'ci' } } as KubeObject;
  const untouched = request(BY_REF);
  t.deepEqual(admitTaskRun(untouched, settings, { objects: [plain] }).response, { uid: untouched.uid, allowed: true });
});

test('an opted-in TaskRun whose Task is missing, or remote, is denied with the way out; an unreadable Task is a warning', (t) => {
  const optedIn = { ...BY_REF, metadata: { name: 'byref', annotations: { 'tlr.dev/reference-results': 'report' } } };
  const missing = admitTaskRun(request(optedIn), settings, {}).response;
  t.false(missing.allowed);
  t.is(missing.status?.code, 422);
  t.regex(missing.status?.message ?? '', /TaskRun ci\/byref: spec\.taskRef: the run opts in .*Task "lint" was not found: expected it in the run's namespace on the cluster/);
  const remote = admitTaskRun(request({ ...optedIn, spec: { taskRef: { resolver: 'git', params: [] } } }), settings, {}).response;
  t.false(remote.allowed);
  t.regex(remote.status?.message ?? '', /spec\.taskRef: .*remote Task \(resolver: git\).*Store the Task \(kubectl apply\) or embed it/);
  const unreadable = admitTaskRun(request(BY_REF), settings, { unreadable: ['Task ci/lint'] }).response;
  t.true(unreadable.allowed);
  t.regex(unreadable.warnings?.[0] ?? '', /TaskRun ci\/byref: Task ci\/lint could not be read, so it is not known whether the TaskRun stores results by reference/);
});

test('a TaskRun Tekton created for a PipelineRun is allowed untouched, even when it carries our annotations', (t) => {
  const req = request({ ...TEP_TASKRUN, metadata: { name: 'child', labels: { 'tekton.dev/pipelineRun': 'p' }, annotations: { 'tlr.dev/result-workspace': 'results' } } });
  t.deepEqual(admitTaskRun(req, brokenSettings).response, { uid: req.uid, allowed: true });
});

test('a self-contained TaskRun the rewrite refuses is denied with its diagnostics', (t) => {
  const bad = structuredClone(TEP_TASKRUN) as { spec: { taskSpec: { results: Array<Record<string, unknown>> } } };
  // An object result stored by reference must declare its properties (Tekton requires them; seal checks them).
  bad.spec.taskSpec.results = [{ name: 'report', storage: 'reference', type: 'object' }];
  const answer = admitTaskRun(request(bad), settings).response;
  t.false(answer.allowed);
  t.regex(answer.status?.message ?? '', /spec\.taskSpec\.results\[0\]\.properties/);
});

const examples = join('..', 'shared', 'tekton', 'v1.15.0', 'examples', 'v1', 'taskruns');
const exampleRuns = readdirSync(examples, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((file) =>
    parseAllDocuments(readFileSync(join(examples, file), 'utf8'))
      .map((doc) => doc.toJS() as KubeObject | null)
      .filter((o): o is KubeObject => o?.kind === 'TaskRun')
      .map((run, i) => ({ name: `${file}#${i}`, run })),
  );

test('Tekton examples: enough TaskRuns were found', (t) => {
  t.true(exampleRuns.length >= 40, `found ${exampleRuns.length}`);
});

for (const { name, run } of exampleRuns) {
  test(`Tekton example TaskRun ${name} is allowed without a patch`, (t) => {
    const req = request(run, run.metadata?.namespace ?? 'default');
    t.deepEqual(admitTaskRun(req, brokenSettings).response, { uid: req.uid, allowed: true });
  });
}

test('empty opt-in annotations do not opt a TaskRun in (read as the rewrite reads them)', (t) => {
  const req = request({ ...TEP_TASKRUN, metadata: { name: 'empty', annotations: { 'tlr.dev/result-workspace': '', 'tlr.dev/reference-results': ' , ' } }, spec: { taskRef: { name: 'lint' } } });
  t.deepEqual(admitTaskRun(req, brokenSettings).response, { uid: req.uid, allowed: true });
});
