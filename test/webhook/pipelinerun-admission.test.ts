import test from 'ava';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { ANNOTATION_REFERENCE_RESULTS, ANNOTATION_RESULT_WORKSPACE } from '../../src/api/names.js';
import type { KubeObject, PipelineRun } from '../../src/api/tekton.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { TlrError } from '../../src/errors.js';
import type { AdmissionRequest, Operation } from '../../src/webhook/admission-review.js';
import { ANNOTATION_REWRITTEN, LABEL_OPTED_IN } from '../../src/api/names.js';
import { resolverFromObjects } from '../../src/core/resolver.js';
import { admitPipelineRun, pipelineRunLookups, withNamespace } from '../../src/webhook/pipelinerun-admission.js';
import type { WebhookSettings } from '../../src/webhook/settings.js';
import { applyPatch, deepFreeze, patchOf } from './apply-patch.js';

const settings: WebhookSettings = { config: (ns) => parseConfig({}, ns), featureFlags: () => parseFeatureFlags({}) };
/** Settings whose ConfigMaps do not parse: only opted-in, self-contained runs may consult them. */
const brokenSettings: WebhookSettings = {
  config: () => {
    throw new TlrError('E_CONFIG', 'config key "size": expected a quantity such as 1Gi, found "lots"');
  },
  featureFlags: () => parseFeatureFlags({}),
};
const rewriteOptions = { config: parseConfig({}, 'ci'), featureFlags: parseFeatureFlags({}) };

function request(object: unknown, operation: Operation = 'CREATE', namespace = 'ci'): AdmissionRequest {
  return deepFreeze({
    uid: randomUUID(),
    kind: { group: 'tekton.dev', version: 'v1', kind: 'PipelineRun' },
    resource: { group: 'tekton.dev', version: 'v1', resource: 'pipelineruns' },
    namespace,
    operation,
    object: structuredClone(object),
  });
}

const TEP_RUN = parse(`
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: sbom-1
  namespace: ci
  labels: {app: demo}
spec:
  pipelineSpec:
    resultWorkspace:
      name: results
    tasks:
      - name: build
        taskSpec:
          results:
            - name: sbom
              storage: reference
          steps:
            - name: gen
              image: syft
              script: syft dir:. -o json > $(results.sbom.path)
      - name: scan
        params:
          - name: sbom
            value: $(tasks.build.results.sbom)
        taskSpec:
          params:
            - name: sbom
          steps:
            - name: show
              image: bash
              script: |
                cat <<'EOF'
                $(params.sbom)
                EOF
  unknownField: kept
`) as PipelineRun;

/** What the API server stores: the run as the rewrite makes it, labelled for the controller (expected = input + this change). */
function storedForm(run: PipelineRun, objects: readonly KubeObject[] = []): PipelineRun {
  const rewritten = rewritePipelineRun(run, { ...rewriteOptions, resolver: resolverFromObjects(objects) }).object;
  return { ...rewritten, metadata: { ...rewritten.metadata, labels: { ...rewritten.metadata?.labels, [LABEL_OPTED_IN]: 'true' } } };
}

test('a TEP-form embedded run is rewritten at admission, exactly as the pure rewrite (tlr render) makes it', (t) => {
  const req = request(TEP_RUN);
  const review = admitPipelineRun(req, settings);
  t.is(review.apiVersion, 'admission.k8s.io/v1');
  t.is(review.kind, 'AdmissionReview');
  t.is(review.response.uid, req.uid);
  t.true(review.response.allowed);
  t.is(review.response.status, undefined);

  const stored = applyPatch(req.object as PipelineRun, patchOf(review));
  t.deepEqual(stored, storedForm(TEP_RUN));
  t.is(stored.metadata?.annotations?.[ANNOTATION_RESULT_WORKSPACE], 'results');
  t.is(stored.metadata?.annotations?.[ANNOTATION_REWRITTEN], 'v1');
  t.is(stored.spec.pipelineSpec?.tasks?.[0]?.taskSpec?.metadata?.annotations?.[ANNOTATION_REFERENCE_RESULTS], 'sbom');
  t.false('resultWorkspace' in (stored.spec.pipelineSpec ?? {}));
  t.is(stored.spec.status, undefined, 'not held: Tekton starts it as is');
  t.is((stored.spec as Record<string, unknown>).unknownField, 'kept');
  t.truthy(stored.spec.workspaces?.find((w) => w.name === 'results')?.volumeClaimTemplate, 'the result volume is a volumeClaimTemplate');
});

test('admitting what the webhook stored changes nothing (reinvocation)', (t) => {
  const first = request(TEP_RUN);
  const stored = applyPatch(first.object, patchOf(admitPipelineRun(first, settings)));
  const again = admitPipelineRun(request(stored), settings);
  t.true(again.response.allowed);
  t.is(again.response.patch, undefined);
});

const STORED_PIPELINE = {
  apiVersion: 'tekton.dev/v1', kind: 'Pipeline',
  metadata: { name: 'release', namespace: 'ci', annotations: { [ANNOTATION_RESULT_WORKSPACE]: 'results' } },
  spec: {
    workspaces: [{ name: 'results' }],
    tasks: [
      { name: 'build', taskRef: { name: 'list-images' } },
      { name: 'sign', taskRef: { name: 'sign-images' }, params: [{ name: 'images', value: '$(tasks.build.results.images)' }] },
    ],
  },
} as KubeObject;
const STORED_TASKS = [
  {
    apiVersion: 'tekton.dev/v1', kind: 'Task', metadata: { name: 'list-images', namespace: 'ci', annotations: { [ANNOTATION_REFERENCE_RESULTS]: 'images' } },
    spec: { results: [{ name: 'images' }], steps: [{ name: 'list', image: 'bash', script: 'seq 1 3000 > $(results.images.path)' }] },
  },
  {
    apiVersion: 'tekton.dev/v1', kind: 'Task', metadata: { name: 'sign-images', namespace: 'ci' },
    spec: { params: [{ name: 'images' }], steps: [{ name: 'sign', image: 'bash', script: "cat <<'E'\n$(params.images)\nE" }] },
  },
] as KubeObject[];
const RELEASE_RUN = { apiVersion: 'tekton.dev/v1', kind: 'PipelineRun', metadata: { generateName: 'release-' }, spec: { pipelineRef: { name: 'release' } } };

function storedObjects(objects: readonly KubeObject[], asked: string[] = []): WebhookSettings {
  return {
    ...settings,
    storedObject: (kind, namespace, name) => {
      asked.push(`${kind} ${namespace}/${name}`);
      return Promise.resolve(objects.find((o) => o.kind === kind && o.metadata?.name === name && o.metadata.namespace === namespace));
    },
  };
}

test('a run of a stored Pipeline: the Pipeline and its Tasks are read in the request namespace and inlined as tlr render inlines them', async (t) => {
  const asked: string[] = [];
  const reading = storedObjects([STORED_PIPELINE, ...STORED_TASKS], asked);
  const req = request({ ...RELEASE_RUN, metadata: { ...RELEASE_RUN.metadata, namespace: 'kube-system' } }, 'CREATE', 'ci');
  const lookups = await pipelineRunLookups(req, reading);
  t.deepEqual(asked, ['Pipeline ci/release', 'Task ci/list-images', 'Task ci/sign-images']);
  const stored = applyPatch(req.object as PipelineRun, patchOf(admitPipelineRun(req, reading, lookups)));
  t.deepEqual(stored, storedForm(withNamespace(req.object as PipelineRun, 'ci'), [STORED_PIPELINE, ...STORED_TASKS]));
  t.is(stored.spec.pipelineRef, undefined, 'inlined');
  t.is(stored.metadata?.labels?.[LABEL_OPTED_IN], 'true');
});

test('a stored Task alone can opt a run in (its reference-results annotation), as tlr render says', async (t) => {
  const { annotations: _a, ...metadata } = STORED_PIPELINE.metadata ?? {};
  const reading = storedObjects([{ ...STORED_PIPELINE, metadata }, ...STORED_TASKS]);
  const req = request(RELEASE_RUN);
  const stored = applyPatch(req.object as PipelineRun, patchOf(admitPipelineRun(req, reading, await pipelineRunLookups(req, reading))));
  t.is(stored.metadata?.annotations?.[ANNOTATION_REWRITTEN], 'v1');
  t.regex(JSON.stringify(stored.spec.pipelineSpec), /tlr-seal/);
});

test('a run naming no stored object that opts in is allowed untouched, and costs only the reads its refs need', async (t) => {
  const asked: string[] = [];
  const reading = storedObjects([], asked);
  const req = request({ ...RELEASE_RUN, spec: { pipelineRef: { name: 'other' } } });
  t.deepEqual(admitPipelineRun(req, reading, await pipelineRunLookups(req, reading)).response, { uid: req.uid, allowed: true });
  t.deepEqual(asked, ['Pipeline ci/other']);
  asked.length = 0;
  await pipelineRunLookups(request({ ...RELEASE_RUN, spec: { pipelineRef: { resolver: 'git', params: [] } } }), reading);
  await pipelineRunLookups(request(TEP_RUN), reading);
  t.deepEqual(asked, [], 'no call for a remote ref or an embedded spec without taskRefs');
});

test('an opted-in run naming a remote Pipeline or Task is refused, naming the field and the way out', (t) => {
  const remote = { ...RELEASE_RUN, metadata: { name: 'r', annotations: { [ANNOTATION_RESULT_WORKSPACE]: 'results' } }, spec: { pipelineRef: { resolver: 'git', params: [] } } };
  const review = admitPipelineRun(request(remote), settings, {});
  t.false(review.response.allowed);
  t.is(review.response.status?.code, 422);
  t.regex(review.response.status?.message ?? '', /^PipelineRun ci\/r: spec\.pipelineRef: a run that stores results by reference cannot name a remote Pipeline \(resolver "git"\): .*Use a stored Pipeline in the run's namespace/);
  const embedded = structuredClone(TEP_RUN);
  const tasks = embedded.spec.pipelineSpec?.tasks ?? [];
  tasks.push({ name: 'lint', taskRef: { resolver: 'hub', params: [] } });
  const refused = admitPipelineRun(request(embedded), settings, {});
  t.regex(refused.response.status?.message ?? '', /spec\.pipelineSpec\.tasks\[2\]\.taskRef: a run that stores results by reference cannot name a remote Task \(resolver "hub"\)/);
});

test('a stored object that cannot be read: a run it would opt in is admitted untouched with a warning; one that opts in is refused; never why', async (t) => {
  const apiText = 'pipelines.tekton.dev "release" is forbidden: User "system:serviceaccount:tlr-system:tlr-webhook" cannot get resource';
  const failing: WebhookSettings = { ...settings, storedObject: () => Promise.reject(new Error(apiText)) };
  const req = request({ apiVersion: 'tekton.dev/v1', kind: 'PipelineRun', metadata: { name: 'r' }, spec: { pipelineRef: { name: 'release' } } });
  const review = admitPipelineRun(req, failing, await pipelineRunLookups(req, failing));
  t.true(review.response.allowed);
  t.is(review.response.patch, undefined);
  t.deepEqual(review.response.warnings, [
    'PipelineRun ci/r: Pipeline ci/release could not be read, so it is not known whether the run stores results by reference; ' +
      'it runs as plain Tekton would. If it does, annotate the run with tlr.dev/result-workspace: <workspace>',
  ]);
  const optedIn = request({ ...(req.object as object), metadata: { name: 'r', annotations: { [ANNOTATION_RESULT_WORKSPACE]: 'results' } } });
  const refused = admitPipelineRun(optedIn, failing, await pipelineRunLookups(optedIn, failing));
  t.false(refused.response.allowed);
  t.regex(refused.response.status?.message ?? '', /Pipeline ci\/release could not be read by the Tekton Large Results webhook \(see its log\)/);
  // The API server's error text never reaches the caller (it would tell them about Pipelines they may not read).
  for (const answer of [review, refused]) t.false(JSON.stringify(answer).includes('forbidden'));
});

test('a run created pending by its user is rewritten and keeps its status', (t) => {
  const run = { ...TEP_RUN, spec: { ...TEP_RUN.spec, status: 'PipelineRunPending' } } as PipelineRun;
  const stored = applyPatch(run, patchOf(admitPipelineRun(request(run), settings)));
  t.is(stored.spec.status, 'PipelineRunPending');
  t.deepEqual(stored, storedForm(run));
});

test('a self-contained run the rewrite refuses is denied with the rewrite message (422)', (t) => {
  const dir = 'test/fixtures/rewrite/refused-value-in-image-and-sidecar';
  const run = parse(readFileSync(join(dir, 'input.yaml'), 'utf8')) as PipelineRun;
  const req = request(run);
  // As the fixture's options.yaml: copies off, so the image and sidecar uses are refused.
  const review = admitPipelineRun(req, { ...settings, config: (ns) => parseConfig({ maxCopySize: '0' }, ns) });
  t.is(review.response.uid, req.uid);
  t.false(review.response.allowed);
  t.is(review.response.patch, undefined);
  t.deepEqual(review.response.status, { code: 422, reason: 'Invalid', message: readFileSync(join(dir, 'error.txt'), 'utf8').trim() });
});

test('a refusal names the run by generateName and the request namespace', (t) => {
  const run = parse(readFileSync('test/fixtures/rewrite/refused-value-in-image-and-sidecar/input.yaml', 'utf8')) as PipelineRun;
  const { name: _name, namespace: _ns, ...metadata } = run.metadata ?? {};
  const review = admitPipelineRun(request({ ...run, metadata: { ...metadata, generateName: 'value-in-image-' } }, 'CREATE', 'team-a'), settings);
  t.regex(review.response.status?.message ?? '', /^error: PipelineRun team-a\/value-in-image-\*: spec\.pipelineSpec\.tasks\[1\]\.taskSpec\.steps\[1\]\.image: /);
});

test('malformed TEP fields are denied with every conversion error (422)', (t) => {
  const dir = 'test/fixtures/rewrite/refused-bad-tep-fields';
  const review = admitPipelineRun(request(parse(readFileSync(join(dir, 'input.yaml'), 'utf8'))), brokenSettings);
  t.false(review.response.allowed);
  t.is(review.response.status?.code, 422);
  t.is(review.response.status?.message, readFileSync(join(dir, 'error.txt'), 'utf8').trim());
});

test('rewrite warnings become admission warnings', (t) => {
  const { resultWorkspace: _ws, ...pipelineSpec } = TEP_RUN.spec.pipelineSpec ?? {};
  const run = { ...TEP_RUN, spec: { ...TEP_RUN.spec, pipelineSpec } };
  const review = admitPipelineRun(request(run), settings);
  t.true(review.response.allowed);
  t.deepEqual(review.response.warnings, [
    'PipelineRun ci/sbom-1: spec.pipelineSpec.workspaces: tasks store results by reference but the pipeline names no result workspace; using a provisioned workspace "tlr-results"',
  ]);
});

test('an invalid configuration fails opted-in self-contained runs with an internal error (500)', (t) => {
  const req = request(TEP_RUN);
  const review = admitPipelineRun(req, brokenSettings);
  t.is(review.response.uid, req.uid);
  t.false(review.response.allowed);
  t.deepEqual(review.response.status, {
    code: 500,
    reason: 'InternalError',
    message:
      'cannot check PipelineRun ci/sbom-1, which stores results by reference: the Tekton Large Results configuration is invalid: ' +
      'config key "size": expected a quantity such as 1Gi, found "lots". Fix the ConfigMap and create the run again',
  });
});

for (const operation of ['UPDATE', 'DELETE', 'CONNECT'] as const) {
  test(`${operation} is allowed untouched`, (t) => {
    const req = request(TEP_RUN, operation);
    t.deepEqual(admitPipelineRun(req, brokenSettings), {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: req.uid, allowed: true },
    });
  });
}

test('other kinds are allowed untouched', (t) => {
  const req = deepFreeze({ ...request(TEP_RUN), kind: { group: 'tekton.dev', version: 'v1', kind: 'TaskRun' } });
  t.deepEqual(admitPipelineRun(req, brokenSettings).response, { uid: req.uid, allowed: true });
});

// Every PipelineRun of Tekton's own examples: none opts in, so each passes untouched (and the configuration, broken
// here, is never consulted).
const EXAMPLES = '../shared/tekton/v1.15.0/examples/v1/pipelineruns';
const exampleRuns = readdirSync(EXAMPLES, { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.yaml'))
  .sort()
  .flatMap((file) =>
    parseAllDocuments(readFileSync(join(EXAMPLES, file), 'utf8'))
      .map((doc) => doc.toJS() as KubeObject | null)
      .filter((o): o is KubeObject => o?.kind === 'PipelineRun')
      .map((run, i) => ({ name: `${file}#${i}`, run })),
  );

test('Tekton examples: enough PipelineRuns were found', (t) => {
  t.true(exampleRuns.length >= 40, `found ${exampleRuns.length}`);
});

for (const { name, run } of exampleRuns) {
  test(`Tekton example ${name} is allowed without a patch`, (t) => {
    const req = request(run, 'CREATE', run.metadata?.namespace ?? 'default');
    t.deepEqual(admitPipelineRun(req, brokenSettings).response, { uid: req.uid, allowed: true });
  });
}
