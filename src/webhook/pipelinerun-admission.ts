/**
 * Admission of PipelineRuns (mutating, CREATE only; its configuration is named to run before Tekton's own webhook).
 * Pure: request and lookups in, AdmissionReview out; no I/O, never mutates the request.
 *
 * Tekton v1 refuses any change to a PipelineRun's spec after it is created but `spec.status` ("Once the PipelineRun
 * has started, only status updates are allowed", pkg/apis/pipeline/v1/pipelinerun_validation.go), so an opted-in run
 * is rewritten here, in the create request, or never:
 *
 * 1. TEP form -> annotation form (`convertOnly`); a malformed TEP field is refused (422) with the rewrite's message.
 * 2. A run that does not opt in (by itself, its stored Pipeline or a stored Task: ./run-lookups.ts) is allowed
 *    untouched: no patch, whatever it contains.
 * 3. An opted-in run is rewritten by the pure `rewritePipelineRun` over the stored objects the server read (inlined,
 *    as `tlr render` prints it), its result volume a `volumeClaimTemplate` from the config (Tekton creates the PVC,
 *    owned by the run), and labelled `tlr.dev/opted-in` (the controller watches such runs for retention). A refusal
 *    reaches its author at `kubectl create` (422) with the rewrite's field-path messages; warnings become admission
 *    warnings.
 * 4. An opted-in run naming a remote Pipeline or Task (`resolver: git|bundles|hub|http|cluster`) is refused: what it
 *    names is not known at creation, and the spec cannot be changed later.
 */
import type { KubeObject, PipelineRun } from '../api/tekton.js';
import type { Config } from '../core/config.js';
import type { FeatureFlags } from '../core/feature-flags.js';
import { admissionOptIn, pipelineRefOf, storedObjectsOptIn, taskRefsOf, type RunRef } from '../core/admission-opt-in.js';
import { rewritePipelineRun } from '../core/pipeline-run.js';
import { resolverFromObjects } from '../core/resolver.js';
import { convertOnly } from '../core/rewrite.js';
import { describeObject, isTektonKind } from '../api/tekton.js';
import { formatDiagnostic, RewriteError, TlrError, type Diagnostic } from '../errors.js';
import { allow, allowWithPatch, deny, internalError, type AdmissionRequest, type AdmissionReviewResponse } from './admission-review.js';
import { ANNOTATION_RESULT_WORKSPACE, LABEL_OPTED_IN } from '../api/names.js';
import { diffPatch } from './json-patch.js';
import type { Lookups } from './run-lookups.js';
import type { WebhookSettings } from './settings.js';

export { pipelineRunLookups, type Lookups } from './run-lookups.js';

function isPipelineRunCreate(request: AdmissionRequest): boolean {
  return request.operation === 'CREATE' && request.kind.group === 'tekton.dev' && request.kind.kind === 'PipelineRun' && isTektonKind(request.object, 'PipelineRun');
}

/**
 * The answer when no rewrite is needed, cheaply (a few shallow reads, whatever the object's size or shape): not a
 * PipelineRun CREATE, or a run that opts in neither by itself nor through what the lookups read. Undefined when the
 * run opts in: `admitPipelineRun` decides.
 */
export function quickPipelineRunAnswer(request: AdmissionRequest, lookups: Lookups = {}): AdmissionReviewResponse | undefined {
  const { uid } = request;
  if (!isPipelineRunCreate(request)) return allow(uid);
  if (admissionOptIn(request.object).optedIn || storedObjectsOptIn(lookups.objects ?? [])) return undefined;
  if (!lookups.unreadable?.length) return allow(uid);
  return allow(uid, [
    `${describeObject(withNamespace(request.object as KubeObject, request.namespace))}: ${lookups.unreadable.join(', ')} could not be read, so it ` +
      'is not known whether the run stores results by reference; it runs as plain Tekton would. If it does, annotate the run ' +
      `with ${ANNOTATION_RESULT_WORKSPACE}: <workspace>`,
  ]);
}

/**
 * Answers one AdmissionReview request for a PipelineRun. A run that does not opt in is allowed untouched, whatever
 * it contains (Tekton's own validation judges it); an opted-in run that is malformed is refused with the field path.
 */
export function admitPipelineRun(request: AdmissionRequest, settings: WebhookSettings, lookups: Lookups = {}): AdmissionReviewResponse {
  const quick = quickPipelineRunAnswer(request, lookups);
  if (quick) return quick;
  const { uid } = request;
  const raw = request.object as KubeObject;
  const warnings = new Set<string>();
  let run: PipelineRun;
  try {
    const converted = convertOnly(raw);
    addWarnings(warnings, converted.diagnostics);
    run = withNamespace(converted.object as PipelineRun, request.namespace);
  } catch (error) {
    return refusal(uid, error);
  }
  const unusable = unusableRefs(run, lookups);
  if (unusable.length > 0) return deny(uid, unusable.join('\n'), [...warnings]);
  const loaded = loadSettings(settings, run);
  if ('failure' in loaded) return internalError(uid, loaded.failure);
  let rewritten: PipelineRun;
  try {
    const result = rewritePipelineRun(run, { ...loaded, resolver: resolverFromObjects(lookups.objects ?? []) });
    addWarnings(warnings, result.diagnostics);
    rewritten = result.object;
  } catch (error) {
    return refusal(uid, error, warnings);
  }
  return allowWithPatch(uid, diffPatch(raw, labelled(rewritten), 2), [...warnings]);
}

/**
 * Refs the rewrite cannot follow at admission, as messages: remote refs (their content is not known before Tekton
 * resolves them, after creation, when the spec can no longer change), and stored objects that could not be read.
 */
function unusableRefs(run: PipelineRun, lookups: Lookups): string[] {
  const who = describeObject(run);
  const pipelineRef = pipelineRefOf(run);
  const stored = (lookups.objects ?? []).find((o) => o.kind === 'Pipeline');
  const refs: RunRef[] = [
    ...(pipelineRef ? [pipelineRef] : []),
    ...(pipelineRef ? taskRefsOf(stored?.spec, `Pipeline ${run.metadata?.namespace ?? 'default'}/${pipelineRef.name ?? ''}: spec`) : taskRefsOf(run.spec.pipelineSpec, 'spec.pipelineSpec')),
  ];
  const messages = refs
    .filter((r) => r.resolver !== undefined)
    .map((r) =>
      `${who}: ${r.path}: a run that stores results by reference cannot name a remote ${r.kind} (resolver "${r.resolver}"): ` +
      'Tekton resolves it only after the run is created, and a created run\'s spec cannot be changed. Use a stored ' +
      `${r.kind} in the run's namespace (kubectl apply it there), or embed it (tlr render inlines it)`);
  for (const what of lookups.unreadable ?? []) {
    messages.push(`${who}: ${what} could not be read by the Tekton Large Results webhook (see its log); the run stores results by reference and cannot be rewritten without it. Try again, or report it to the cluster's admin`);
  }
  return messages;
}

/** The rewritten run, labelled for the controller's informer. */
function labelled(run: PipelineRun): PipelineRun {
  return { ...run, metadata: { ...run.metadata, labels: { ...run.metadata?.labels, [LABEL_OPTED_IN]: 'true' } } };
}

/** The object as the rewrite should name it: the API server may leave `metadata.namespace` to the request. */
export function withNamespace<T extends KubeObject>(run: T, namespace: string | undefined): T {
  if (run.metadata?.namespace !== undefined || namespace === undefined) return run;
  return { ...run, metadata: { ...run.metadata, namespace } };
}

export function addWarnings(into: Set<string>, diagnostics: readonly Diagnostic[]): void {
  // kubectl prints each as `Warning: <text>`: the severity is not repeated.
  for (const d of diagnostics) if (d.severity === 'warning') into.add(formatDiagnostic(d).replace(/^warning: /, ''));
}

/** A RewriteError becomes a 422 refusal carrying every error (and its warnings); anything else is rethrown. */
export function refusal(uid: string, error: unknown, warnings: ReadonlySet<string> = new Set()): AdmissionReviewResponse {
  if (!(error instanceof RewriteError)) throw error;
  const errors = error.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
  const all = new Set(warnings);
  addWarnings(all, error.diagnostics);
  return deny(uid, errors.length > 0 ? errors.join('\n') : error.message, [...all]);
}

/** Config and feature flags, or the message of the ConfigMap that does not parse. */
export function loadSettings(settings: WebhookSettings, run: KubeObject): { config: Config; featureFlags: FeatureFlags } | { failure: string } {
  try {
    return { config: settings.config(run.metadata?.namespace ?? 'default'), featureFlags: settings.featureFlags() };
  } catch (error) {
    if (!(error instanceof TlrError)) throw error;
    return {
      failure:
        `cannot check ${describeObject(run)}, which stores results by reference: the Tekton Large Results configuration ` +
        `is invalid: ${error.message}. Fix the ConfigMap and create the run again`,
    };
  }
}
