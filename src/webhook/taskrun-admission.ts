/**
 * Admission of standalone TaskRuns (mutating, CREATE only; configured with an objectSelector that leaves out the
 * TaskRuns Tekton creates for PipelineRuns, which were rewritten with their run). Pure: no I/O.
 *
 * A TaskRun has no pending state to hold it in, so everything happens at creation. Before the decision the server
 * reads the stored Task of a local `taskRef` (run-lookups.ts), as it does for a PipelineRun's, so the TaskRun opts
 * in exactly as `tlr render run.yaml task.yaml` says:
 * 1. TEP form -> annotation form; not opted in (by the TaskRun, its embedded taskSpec or its stored Task) -> allowed
 *    untouched (no patch).
 * 2. Opted in -> rewritten here, completely, the stored Task inlined (the result workspace is bound to a
 *    volumeClaimTemplate from the config: Tekton creates the PVC and owns it by the TaskRun).
 * 3. Opted in with a remote taskRef (`resolver: …`), or one whose Task is missing -> denied with the way out: a
 *    stored Task, or the Task embedded (`tlr render` does it). Letting it through would half-work: the large value
 *    would hit the termination-message limit.
 */
import { ANNOTATION_RESULT_WORKSPACE } from '../api/names.js';
import { storedObjectsOptIn, taskRunOptsIn } from '../core/admission-opt-in.js';
import { resolverFromObjects } from '../core/resolver.js';
import { describeObject, isTektonKind, type KubeObject, type TaskRun } from '../api/tekton.js';
import { rewriteTaskRun } from '../core/task-run.js';
import { convertOnly } from '../core/rewrite.js';
import { isRewritten } from '../core/rewritten.js';
import { allow, allowWithPatch, deny, internalError, type AdmissionRequest, type AdmissionReviewResponse } from './admission-review.js';
import { diffPatch } from './json-patch.js';
import { addWarnings, loadSettings, refusal, withNamespace, type Lookups } from './pipelinerun-admission.js';
import type { WebhookSettings } from './settings.js';

/**
 * The answer when no rewrite is needed, cheaply, whatever the object's shape: not a standalone TaskRun CREATE,
 * already rewritten, or not opted in. Undefined when `admitTaskRun` must decide.
 */
export function quickTaskRunAnswer(request: AdmissionRequest, lookups: Lookups = {}): AdmissionReviewResponse | undefined {
  const { uid } = request;
  const raw = request.object;
  if (request.operation !== 'CREATE' || request.kind.group !== 'tekton.dev' || request.kind.kind !== 'TaskRun' || !isTektonKind(raw, 'TaskRun')) return allow(uid);
  if (ownedByPipelineRun(raw) || isRewritten(raw)) return allow(uid);
  if (taskRunOptsIn(raw) || storedObjectsOptIn(lookups.objects ?? [])) return undefined;
  if (!lookups.unreadable?.length) return allow(uid);
  return allow(uid, [
    `${describeObject(withNamespace(raw, request.namespace))}: ${lookups.unreadable.join(', ')} could not be read, so it is not known ` +
      `whether the TaskRun stores results by reference; it runs as plain Tekton would. If it does, annotate it with ${ANNOTATION_RESULT_WORKSPACE}: <workspace>`,
  ]);
}

export function admitTaskRun(request: AdmissionRequest, settings: WebhookSettings, lookups: Lookups = {}): AdmissionReviewResponse {
  const quick = quickTaskRunAnswer(request, lookups);
  if (quick) return quick;
  const { uid } = request;
  const raw = request.object as KubeObject;
  const warnings = new Set<string>();
  let run: TaskRun;
  try {
    const converted = convertOnly(raw);
    addWarnings(warnings, converted.diagnostics);
    run = withNamespace(converted.object as TaskRun, request.namespace);
  } catch (error) {
    return refusal(uid, error);
  }
  const remote = remoteTaskRef(run);
  if (remote !== undefined) {
    return deny(
      uid,
      `${describeObject(run)}: spec.taskRef: stores results by reference, so its Task must be rewritten when the TaskRun is created, ` +
        `but Tekton resolves a remote Task (resolver: ${remote}) only after that, when the spec can no longer change; expected a ` +
        'stored Task in the namespace or an embedded spec.taskSpec, found a remote taskRef. Store the Task (kubectl apply) or embed it ' +
        '(tlr render run.yaml task.yaml prints the run with it inlined)',
      [...warnings],
    );
  }
  const loaded = loadSettings(settings, run);
  if ('failure' in loaded) return internalError(uid, loaded.failure);
  try {
    const result = rewriteTaskRun(run, { ...loaded, resolver: resolverFromObjects(lookups.objects ?? []) });
    addWarnings(warnings, result.diagnostics);
    return allowWithPatch(uid, diffPatch(raw, result.object, 2), [...warnings]);
  } catch (error) {
    return refusal(uid, error, warnings);
  }
}

/** The resolver of a remote taskRef (`git`, `bundles`, …), or undefined. */
function remoteTaskRef(run: TaskRun): string | undefined {
  const ref = run.spec.taskRef as { resolver?: unknown } | null | undefined;
  if ((run.spec.taskSpec !== undefined && run.spec.taskSpec !== null) || ref === undefined || ref === null) return undefined;
  return ref.resolver === undefined || ref.resolver === null ? undefined : JSON.stringify(ref.resolver).replace(/^"|"$/g, '');
}

/** Tekton's own TaskRuns for a PipelineRun (also kept out by the configuration's objectSelector), read tolerantly. */
function ownedByPipelineRun(run: KubeObject): boolean {
  const meta: unknown = run.metadata;
  if (typeof meta !== 'object' || meta === null) return false;
  const { ownerReferences, labels } = meta as { ownerReferences?: unknown; labels?: unknown };
  const owned = Array.isArray(ownerReferences) && ownerReferences.some((o: unknown) => (o as { kind?: unknown } | null)?.kind === 'PipelineRun');
  return owned || (typeof labels === 'object' && labels !== null && (labels as Record<string, unknown>)['tekton.dev/pipelineRun'] !== undefined);
}
