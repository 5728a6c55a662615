/**
 * Admission of PipelineRuns (mutating, CREATE only; its configuration is named to run before Tekton's own webhook).
 * Pure: request in, AdmissionReview out; no I/O, never mutates the request.
 *
 * 1. TEP form -> annotation form (`convertOnly`); a malformed TEP field is refused (422) with the rewrite's message.
 * 2. A run that does not opt in is allowed untouched: no patch, whatever it contains.
 * 3. An opted-in run whose pipeline and tasks are all embedded is rewritten here just to check it, so a refusal
 *    reaches its author at `kubectl create` (422); the rewrite's warnings become admission warnings.
 * 4. An opted-in run is patched into the annotation form, labelled `tlr.dev/opted-in: "true"` (the controller
 *    watches only such runs) and held for the controller (`spec.status: PipelineRunPending` + annotation
 *    `tlr.dev/hold: controller`), unless its author already set `spec.status`.
 */
import type { KubeObject, PipelineRun } from '../api/tekton.js';
import type { Config } from '../core/config.js';
import type { FeatureFlags } from '../core/feature-flags.js';
import { admissionOptIn } from '../core/admission-opt-in.js';
import { annotatedResultWorkspace } from '../core/opt-in.js';
import { rewritePipelineRun } from '../core/pipeline-run.js';
import { convertOnly } from '../core/rewrite.js';
import { describeObject, isTektonKind } from '../api/tekton.js';
import { formatDiagnostic, RewriteError, TlrError, type Diagnostic } from '../errors.js';
import {
  allow,
  allowWithPatch,
  deny,
  internalError,
  type AdmissionRequest,
  type AdmissionReviewResponse,
} from './admission-review.js';
import { ANNOTATION_HOLD, ANNOTATION_RESULT_WORKSPACE, HOLD_CONTROLLER, LABEL_OPTED_IN, PIPELINE_RUN_PENDING } from '../api/names.js';
import { diffPatch } from './json-patch.js';
import type { WebhookSettings } from './settings.js';

/** What the server looked up before the (pure) decision: the annotations of the stored Pipeline a run refers to. */
export interface Lookups {
  readonly pipelineAnnotations?: Record<string, string>;
  /** Set when the stored Pipeline could not be read (the run is then admitted as not opted in, with a warning). */
  readonly pipelineLookupFailed?: string;
}

/**
 * The lookups a PipelineRun needs: its stored Pipeline's annotations, only for a run that names a local Pipeline and
 * does not opt in by itself (so runs that opt in, embed their spec, or use a resolver cost no API call). The reason a
 * lookup failed is logged by the settings, never put in the answer: the caller learns nothing about the Pipeline but
 * what the decision needs.
 */
export async function pipelineRunLookups(request: AdmissionRequest, settings: WebhookSettings): Promise<Lookups> {
  const pipeline = storedPipelineOf(request);
  if (!pipeline || !settings.pipelineAnnotations) return {};
  const { namespace, name } = pipeline;
  try {
    const pipelineAnnotations = await settings.pipelineAnnotations(namespace, name);
    return pipelineAnnotations ? { pipelineAnnotations } : {};
  } catch {
    return { pipelineLookupFailed: `${namespace}/${name}` };
  }
}

/**
 * The stored Pipeline a new run names by a local pipelineRef, when the run does not opt in by itself; in the
 * request's namespace (the API server's, which it authorized the caller for), whatever the object says.
 */
function storedPipelineOf(request: AdmissionRequest): { namespace: string; name: string } | undefined {
  if (request.operation !== 'CREATE' || !isTektonKind(request.object, 'PipelineRun')) return undefined;
  const run = request.object as { metadata?: unknown; spec?: unknown };
  const name = localPipelineName(run.spec);
  if (name === undefined || admissionOptIn(run).optedIn) return undefined;
  const objectNamespace: unknown = (run.metadata as { namespace?: unknown } | null | undefined)?.namespace;
  const namespace = request.namespace ?? (typeof objectNamespace === 'string' ? objectNamespace : 'default');
  return { namespace, name };
}

/** `spec.pipelineRef.name` of a run whose pipelineRef names a stored Pipeline (no resolver), read tolerantly. */
function localPipelineName(spec: unknown): string | undefined {
  const ref: unknown = typeof spec === 'object' && spec !== null ? (spec as { pipelineRef?: unknown }).pipelineRef : undefined;
  if (typeof ref !== 'object' || ref === null) return undefined;
  const { name, resolver } = ref as { name?: unknown; resolver?: unknown };
  return typeof name === 'string' && name !== '' && (resolver === undefined || resolver === null) ? name : undefined;
}

/**
 * The answer when no rewrite is needed, cheaply (a few shallow reads, whatever the object's size or shape): not a
 * PipelineRun CREATE, or a run that does not opt in. Undefined when the run opts in: `admitPipelineRun` decides.
 */
export function quickPipelineRunAnswer(request: AdmissionRequest, lookups: Lookups = {}): AdmissionReviewResponse | undefined {
  const { uid } = request;
  const raw = request.object;
  if (request.operation !== 'CREATE' || request.kind.group !== 'tekton.dev' || request.kind.kind !== 'PipelineRun' || !isTektonKind(raw, 'PipelineRun')) return allow(uid);
  // A run of a stored Pipeline that names a result workspace opts in through that Pipeline.
  const byPipeline = annotatedResultWorkspace({ annotations: lookups.pipelineAnnotations }) !== undefined;
  if (admissionOptIn(raw).optedIn || byPipeline) return undefined;
  if (lookups.pipelineLookupFailed === undefined) return allow(uid);
  return allow(uid, [
    `${describeObject(withNamespace(raw, request.namespace))}: spec.pipelineRef: Pipeline ${lookups.pipelineLookupFailed} could not be read, so it is not known whether the run stores ` +
      `results by reference; it runs as plain Tekton would. If it does, annotate the run with ${ANNOTATION_RESULT_WORKSPACE}: <workspace>`,
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
  let converted: KubeObject;
  const warnings = new Set<string>();
  try {
    const result = convertOnly(raw);
    converted = result.object;
    addWarnings(warnings, result.diagnostics);
  } catch (error) {
    return refusal(uid, error);
  }
  const run = withNamespace(converted as PipelineRun, request.namespace);
  if (admissionOptIn(run).selfContained) {
    const loaded = loadSettings(settings, run);
    if ('failure' in loaded) return internalError(uid, loaded.failure);
    try {
      addWarnings(warnings, rewritePipelineRun(run, loaded).diagnostics);
    } catch (error) {
      return refusal(uid, error, warnings);
    }
  }
  return allowWithPatch(uid, diffPatch(raw, held(converted), 2), [...warnings]);
}

/** The object as the rewrite should name it: the API server may leave `metadata.namespace` to the request. */
export function withNamespace<T extends KubeObject>(run: T, namespace: string | undefined): T {
  if (run.metadata?.namespace !== undefined || namespace === undefined) return run;
  return { ...run, metadata: { ...run.metadata, namespace } };
}

export function addWarnings(into: Set<string>, diagnostics: readonly Diagnostic[]): void {
  for (const d of diagnostics) if (d.severity === 'warning') into.add(formatDiagnostic(d));
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

/**
 * The run labelled for the controller's informer (`tlr.dev/opted-in`) and held: `spec.status: PipelineRunPending`
 * and the hold annotation. A run its author created with `spec.status` set keeps it, without the annotation (the
 * controller must not release a user's hold).
 */
function held(run: KubeObject): KubeObject {
  const labelled = { ...run, metadata: { ...run.metadata, labels: { ...run.metadata?.labels, [LABEL_OPTED_IN]: 'true' } } };
  const spec = run.spec ?? {};
  if (spec.status !== undefined && spec.status !== '') return labelled;
  return {
    ...labelled,
    metadata: { ...labelled.metadata, annotations: { ...run.metadata?.annotations, [ANNOTATION_HOLD]: HOLD_CONTROLLER } },
    spec: { ...spec, status: PIPELINE_RUN_PENDING },
  };
}
