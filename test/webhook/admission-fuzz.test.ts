/**
 * Property-based fuzz of the webhooks' decisions (fast-check): generated opted-in PipelineRuns broken by random
 * mutations, the same runs with every opt-in removed, and standalone TaskRuns made from their tasks. Whatever the
 * object, the answer is an AdmissionReview echoing the uid; a run that does not opt in is allowed untouched (no patch,
 * no warning: Tekton's own validation judges it); an opted-in one is patched into what the API server stores — valid
 * against Tekton's CRDs when the run was — or refused (422) with a message naming the object and a field path, never
 * a 500. Failures print the seed; re-run with FC_SEED=<seed>.
 */
import test from 'ava';
import fc from 'fast-check';
import { join } from 'node:path';
import type { KubeObject, PipelineRun } from '../../src/api/tekton.js';
import { admissionOptIn, taskRunOptsIn } from '../../src/core/admission-opt-in.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { validateWithEmbedded } from '../../src/schema/embedded-specs.js';
import { loadCrdValidator } from '../../src/schema/load-crds.js';
import type { AdmissionRequest, AdmissionReviewResponse } from '../../src/webhook/admission-review.js';
import { admitPipelineRun } from '../../src/webhook/pipelinerun-admission.js';
import type { WebhookSettings } from '../../src/webhook/settings.js';
import { admitTaskRun } from '../../src/webhook/taskrun-admission.js';
import { mutate, mutation, optedInRun } from '../support/run-arbitrary.js';
import { applyPatch, deepFreeze, patchOf } from './apply-patch.js';

const validator = await loadCrdValidator(join('../shared/tekton/v1.15.0', 'crds'));
const settings: WebhookSettings = { config: (ns) => parseConfig({}, ns), featureFlags: () => parseFeatureFlags({ 'enable-api-fields': 'alpha', coschedule: 'disabled' }) };
const seed = process.env.FC_SEED !== undefined ? { seed: Number(process.env.FC_SEED) } : {};
let uids = 0;

function check<T extends [unknown, ...unknown[]]>(property: fc.IProperty<T>, numRuns: number): void {
  const details = fc.check(property, { numRuns, ...seed });
  if (!details.failed) return;
  const error = details.errorInstance as Error | undefined;
  throw new Error(`seed ${details.seed}, counterexample ${JSON.stringify(details.counterexample)?.slice(0, 4000)}\n${error?.stack ?? 'the property returned false'}`);
}

function request(object: unknown, kind: 'PipelineRun' | 'TaskRun'): AdmissionRequest {
  return deepFreeze({ uid: `uid-${uids++}`, kind: { group: 'tekton.dev', version: 'v1', kind }, namespace: 'ci', operation: 'CREATE', object });
}

const valid = (object: unknown): boolean => validateWithEmbedded(validator, object as KubeObject).length === 0;

/** The answer is what a webhook must answer; returns what it decided. */
function wellAnswered(req: AdmissionRequest, review: AdmissionReviewResponse, optedIn: boolean): 'allowed' | 'patched' | 'denied' {
  const fail = (why: string): never => {
    throw new Error(`${why}: ${JSON.stringify(review.response).slice(0, 2000)}`);
  };
  const isReview = review.apiVersion === 'admission.k8s.io/v1' && review.kind === 'AdmissionReview';
  if (!isReview || review.response.uid !== req.uid) fail('not an AdmissionReview echoing the uid');
  const { allowed, status, patch } = review.response;
  if (!optedIn) {
    if (JSON.stringify(review.response) !== JSON.stringify({ uid: req.uid, allowed: true })) fail('a run that does not opt in was not let through untouched');
    return 'allowed';
  }
  if (!allowed) {
    if (status?.code !== 422 || status.reason !== 'Invalid' || !refusalLinesNamePaths(status.message)) fail('not a 422 Invalid naming object and field path on every line');
    return 'denied';
  }
  if (patch === undefined) return 'allowed';
  const stored = applyPatch(req.object, patchOf(review));
  if (valid(req.object) && !valid(stored)) fail(`the patched object is not schema-valid: ${JSON.stringify(validateWithEmbedded(validator, stored as KubeObject))}`);
  return 'patched';
}

/** `error: <Kind> <ns/name>: <field path>: <what was expected, what was found>`, one per line (odd names are quoted). */
function refusalLinesNamePaths(message: string): boolean {
  return message.split('\n').every((l) => /^(error: )?\S+ .+?: (\S+: )?.{20,}/.test(l));
}

/** Every opt-in of a generated run removed (its annotations and the TEP fields). */
function withoutOptIn(run: PipelineRun): PipelineRun {
  const text = JSON.stringify(run)
    .replace(/"tlr\.dev\/[a-z-]+":"[^"]*",?/g, '')
    .replace(/"resultWorkspace":\{"name":"results"\},?/g, '')
    .replace(/,?"storage":"reference"/g, '');
  return JSON.parse(text.replace(/,}/g, '}')) as PipelineRun;
}

test('PipelineRuns, opted in and mutated: an AdmissionReview for the uid, a valid patch or a 422 naming the field path', (t) => {
  const seen = { allowed: 0, patched: 0, denied: 0 };
  check(
    fc.property(optedInRun, fc.array(mutation, { maxLength: 3 }), (run, mutations) => {
      const object = mutate(run, mutations);
      const req = request(object, 'PipelineRun');
      seen[wellAnswered(req, admitPipelineRun(req, settings), admissionOptIn(object).optedIn)] += 1;
    }),
    3500,
  );
  t.log(JSON.stringify(seen));
  // The generator names any task's any result, so many runs reference a result or task that does not exist, which
  // the rewrite refuses as a typo (src/core/name-typos.ts): fewer are patched than before that check.
  t.true(seen.patched > 200 && seen.denied > 500, JSON.stringify(seen));
});

test('PipelineRuns that never opted in, mutated: always allowed untouched, whatever their shape', (t) => {
  check(
    fc.property(optedInRun, fc.array(mutation.filter((m) => m.kind !== 'annotation'), { maxLength: 3 }), (run, mutations) => {
      const object = mutate(withoutOptIn(run), mutations);
      const req = request(object, 'PipelineRun');
      wellAnswered(req, admitPipelineRun(req, settings), admissionOptIn(object).optedIn);
    }),
    2000,
  );
  t.pass();
});

test('standalone TaskRuns made from the generated tasks, mutated: the same guarantees', (t) => {
  const seen = { allowed: 0, patched: 0, denied: 0 };
  check(
    fc.property(optedInRun, fc.array(mutation, { maxLength: 2 }), (run, mutations) => {
      const task = (run.spec.pipelineSpec?.tasks ?? [])[0];
      const annotations = { ...task?.taskSpec?.metadata?.annotations, ...run.metadata?.annotations };
      const { metadata: _m, ...taskSpec } = task?.taskSpec ?? {};
      const taskRun = { apiVersion: 'tekton.dev/v1', kind: 'TaskRun', metadata: { name: 'fuzz', namespace: 'ci', annotations }, spec: { params: task?.params, taskSpec } };
      const object = mutate(JSON.parse(JSON.stringify(taskRun)) as unknown, mutations);
      const req = request(object, 'TaskRun');
      const optedIn = taskRunOptsIn(object) && !(JSON.stringify((object as { metadata?: unknown }).metadata ?? {}).includes('"tekton.dev/pipelineRun"'));
      seen[wellAnswered(req, admitTaskRun(req, settings), optedIn)] += 1;
    }),
    1500,
  );
  t.log(JSON.stringify(seen));
  t.true(seen.patched > 100 && seen.denied > 100, JSON.stringify(seen));
});
