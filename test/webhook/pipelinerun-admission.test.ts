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
import { convertOnly } from '../../src/core/rewrite.js';
import { TlrError } from '../../src/errors.js';
import type { AdmissionRequest, Operation } from '../../src/webhook/admission-review.js';
import { ANNOTATION_HOLD, HOLD_CONTROLLER, LABEL_OPTED_IN, PIPELINE_RUN_PENDING } from '../../src/api/names.js';
import { admitPipelineRun, pipelineRunLookups } from '../../src/webhook/pipelinerun-admission.js';
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

/** What the API server stores: the converted run plus the hold (expected = input + this change). */
function heldForm(run: PipelineRun): PipelineRun {
  const converted = convertOnly(run).object as PipelineRun;
  return {
    ...converted,
    metadata: {
      ...converted.metadata,
      labels: { ...converted.metadata?.labels, [LABEL_OPTED_IN]: 'true' },
      annotations: { ...converted.metadata?.annotations, [ANNOTATION_HOLD]: HOLD_CONTROLLER },
    },
    spec: { ...converted.spec, status: PIPELINE_RUN_PENDING },
  };
}

/** The run without what the webhook adds to hold it (hold annotation, opted-in label, pending status). */
function withoutHold(run: PipelineRun): PipelineRun {
  const { [ANNOTATION_HOLD]: _hold, ...annotations } = run.metadata?.annotations ?? {};
  const { [LABEL_OPTED_IN]: _label, ...labels } = run.metadata?.labels ?? {};
  const { status: _status, ...spec } = run.spec;
  const { labels: _all, ...metadata } = { ...run.metadata, annotations };
  return { ...run, metadata: Object.keys(labels).length > 0 ? { ...metadata, labels } : metadata, spec };
}

test('a TEP-form embedded run is converted and held, and what is stored is what the rewrite accepts', (t) => {
  const req = request(TEP_RUN);
  const review = admitPipelineRun(req, settings);
  t.is(review.apiVersion, 'admission.k8s.io/v1');
  t.is(review.kind, 'AdmissionReview');
  t.is(review.response.uid, req.uid);
  t.true(review.response.allowed);
  t.is(review.response.status, undefined);

  const ops = patchOf(review);
  t.deepEqual(ops.map((op) => `${op.op} ${op.path}`).sort(), ['add /metadata/annotations', 'add /metadata/labels', 'add /spec/pipelineSpec', 'add /spec/status']);
  const stored = applyPatch(req.object as PipelineRun, ops);
  t.deepEqual(stored, heldForm(TEP_RUN));
  t.is(stored.metadata?.annotations?.[ANNOTATION_RESULT_WORKSPACE], 'results');
  t.is(stored.spec.pipelineSpec?.tasks?.[0]?.taskSpec?.metadata?.annotations?.[ANNOTATION_REFERENCE_RESULTS], 'sbom');
  t.false('resultWorkspace' in (stored.spec.pipelineSpec ?? {}));
  t.is(stored.spec.status, PIPELINE_RUN_PENDING);
  t.is(stored.metadata?.annotations?.[ANNOTATION_HOLD], 'controller');
  t.is((stored.spec as Record<string, unknown>).unknownField, 'kept');

  // The controller's rewrite accepts it, and rewrites it as it would have rewritten the original.
  const rewritten = rewritePipelineRun(stored, rewriteOptions);
  t.true(rewritten.changed);
  t.deepEqual(withoutHold(rewritten.object), rewritePipelineRun(TEP_RUN, rewriteOptions).object);
});

test('admitting what the webhook stored changes nothing (reinvocation)', (t) => {
  const first = request(TEP_RUN);
  const stored = applyPatch(first.object, patchOf(admitPipelineRun(first, settings)));
  const again = admitPipelineRun(request(stored), settings);
  t.true(again.response.allowed);
  t.is(again.response.patch, undefined);
});

test('an opted-in run already in annotation form only gets the hold', (t) => {
  const run = convertOnly(TEP_RUN).object;
  const req = request(run);
  const review = admitPipelineRun(req, settings);
  t.deepEqual(patchOf(review), [
    { op: 'add', path: '/metadata/labels', value: { ...run.metadata?.labels, [LABEL_OPTED_IN]: 'true' } },
    { op: 'add', path: '/metadata/annotations', value: { ...run.metadata?.annotations, [ANNOTATION_HOLD]: HOLD_CONTROLLER } },
    { op: 'add', path: '/spec/status', value: PIPELINE_RUN_PENDING },
  ]);
});

test('a run of a stored Pipeline that opts in by annotation is held without consulting the configuration', (t) => {
  const run = {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    metadata: { generateName: 'release-', annotations: { [ANNOTATION_RESULT_WORKSPACE]: 'results' } },
    spec: { pipelineRef: { resolver: 'git', params: [{ name: 'url', value: 'https://example.com/p.git' }] } },
  };
  const req = request(run);
  const review = admitPipelineRun(req, brokenSettings);
  t.true(review.response.allowed);
  t.deepEqual(applyPatch(run, patchOf(review)), {
    ...run,
    metadata: { ...run.metadata, labels: { [LABEL_OPTED_IN]: 'true' }, annotations: { ...run.metadata.annotations, [ANNOTATION_HOLD]: HOLD_CONTROLLER } },
    spec: { ...run.spec, status: PIPELINE_RUN_PENDING },
  });
});

test('a run created pending by its user keeps its status and gets no hold annotation', (t) => {
  const run = { ...TEP_RUN, spec: { ...TEP_RUN.spec, status: PIPELINE_RUN_PENDING } };
  const stored = applyPatch(run, patchOf(admitPipelineRun(request(run), settings)));
  t.is(stored.spec.status, PIPELINE_RUN_PENDING);
  t.false(ANNOTATION_HOLD in (stored.metadata?.annotations ?? {}));
  const converted = convertOnly(run).object;
  t.deepEqual(stored, { ...converted, metadata: { ...converted.metadata, labels: { ...converted.metadata?.labels, [LABEL_OPTED_IN]: 'true' } } });

  // Already in annotation form: nothing to change at all.
  const review = admitPipelineRun(request(stored), settings);
  t.true(review.response.allowed);
  t.is(review.response.patch, undefined);
});

test('a self-contained run the rewrite refuses is denied with the rewrite message (422)', (t) => {
  const dir = 'test/fixtures/rewrite/refused-value-in-args';
  const run = parse(readFileSync(join(dir, 'input.yaml'), 'utf8')) as PipelineRun;
  const req = request(run);
  const review = admitPipelineRun(req, settings);
  t.is(review.response.uid, req.uid);
  t.false(review.response.allowed);
  t.is(review.response.patch, undefined);
  t.deepEqual(review.response.status, { code: 422, reason: 'Invalid', message: readFileSync(join(dir, 'error.txt'), 'utf8').trim() });
});

test('a refusal names the run by generateName and the request namespace', (t) => {
  const run = parse(readFileSync('test/fixtures/rewrite/refused-value-in-args/input.yaml', 'utf8')) as PipelineRun;
  const { name: _name, namespace: _ns, ...metadata } = run.metadata ?? {};
  const review = admitPipelineRun(request({ ...run, metadata: { ...metadata, generateName: 'value-in-args-' } }, 'CREATE', 'team-a'), settings);
  t.regex(review.response.status?.message ?? '', /^error: PipelineRun team-a\/value-in-args-\*: spec\.pipelineSpec\.tasks\[1\]\.taskSpec\.steps\[0\]\.args\[1\]: /);
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
    'warning: PipelineRun ci/sbom-1: spec.pipelineSpec.workspaces: tasks store results by reference but the pipeline names no result workspace; using a provisioned workspace "tlr-results"',
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

test('a run of a stored Pipeline that names a result workspace is held through that Pipeline', async (t) => {
  const run = { apiVersion: 'tekton.dev/v1', kind: 'PipelineRun', metadata: { generateName: 'release-' }, spec: { pipelineRef: { name: 'release' } } };
  const asked: string[] = [];
  const withLookup: WebhookSettings = {
    ...settings,
    pipelineAnnotations: (namespace, name) => {
      asked.push(`${namespace}/${name}`);
      const found: Record<string, string> = name === 'release' ? { [ANNOTATION_RESULT_WORKSPACE]: 'results' } : {};
      return Promise.resolve(found);
    },
  };
  const req = request(run);
  const lookups = await pipelineRunLookups(req, withLookup);
  t.deepEqual(asked, ['ci/release']);
  const stored = applyPatch(run as unknown as PipelineRun, patchOf(admitPipelineRun(req, withLookup, lookups)));
  t.is(stored.spec.status, PIPELINE_RUN_PENDING);
  t.is(stored.metadata?.annotations?.[ANNOTATION_HOLD], HOLD_CONTROLLER);
  t.is(stored.metadata?.labels?.[LABEL_OPTED_IN], 'true');

  // A Pipeline without the annotation (or one that cannot be read): the run is not ours.
  const other = request({ ...run, spec: { pipelineRef: { name: 'other' } } });
  t.deepEqual(admitPipelineRun(other, withLookup, await pipelineRunLookups(other, withLookup)).response, { uid: other.uid, allowed: true });
  t.deepEqual(admitPipelineRun(other, withLookup, {}).response, { uid: other.uid, allowed: true });

  // No API call for runs that opt in themselves, embed their spec, or use a resolver.
  asked.length = 0;
  await pipelineRunLookups(request({ ...run, metadata: { annotations: { [ANNOTATION_RESULT_WORKSPACE]: 'r' } } }), withLookup);
  await pipelineRunLookups(request(TEP_RUN), withLookup);
  await pipelineRunLookups(request({ ...run, spec: { pipelineRef: { resolver: 'git', params: [] } } }), withLookup);
  t.deepEqual(asked, []);
});

test('a stored Pipeline that cannot be read: the run is admitted untouched, with a warning saying what to do, and not why', async (t) => {
  const apiText = 'pipelines.tekton.dev "release" is forbidden: User "system:serviceaccount:tlr-system:tlr-webhook" cannot get resource';
  const failing: WebhookSettings = { ...settings, pipelineAnnotations: () => Promise.reject(new Error(apiText)) };
  const req = request({ apiVersion: 'tekton.dev/v1', kind: 'PipelineRun', metadata: { name: 'r' }, spec: { pipelineRef: { name: 'release' } } });
  const review = admitPipelineRun(req, failing, await pipelineRunLookups(req, failing));
  t.true(review.response.allowed);
  t.is(review.response.patch, undefined);
  t.deepEqual(review.response.warnings, [
    'PipelineRun ci/r: spec.pipelineRef: Pipeline ci/release could not be read, so it is not known whether ' +
      'the run stores results by reference; it runs as plain Tekton would. If it does, annotate the run with tlr.dev/result-workspace: <workspace>',
  ]);
  // The API server's error text never reaches the caller (it would tell them about Pipelines they may not read).
  t.false(JSON.stringify(review).includes('forbidden'));
});

test('the stored Pipeline is read in the request namespace, whatever namespace the object names', async (t) => {
  const asked: string[] = [];
  const reading: WebhookSettings = { ...settings, pipelineAnnotations: (ns, name) => (asked.push(`${ns}/${name}`), Promise.resolve(undefined)) };
  const req = request({ apiVersion: 'tekton.dev/v1', kind: 'PipelineRun', metadata: { name: 'r', namespace: 'kube-system' }, spec: { pipelineRef: { name: 'release' } } }, 'CREATE', 'ci');
  await pipelineRunLookups(req, reading);
  t.deepEqual(asked, ['ci/release']);
});
