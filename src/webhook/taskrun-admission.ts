/**
 * Admission of standalone TaskRuns (mutating, CREATE only; configured with an objectSelector that leaves out the
 * TaskRuns Tekton creates for PipelineRuns, which were rewritten with their run). Pure: no I/O.
 *
 * A TaskRun has no pending state to hold it in, and the webhook fetches nothing, so:
 * 1. TEP form -> annotation form; not opted in -> allowed untouched (no patch).
 * 2. Opted in with an embedded taskSpec -> rewritten here, completely (the result workspace is bound to a
 *    volumeClaimTemplate from the config: Tekton creates the PVC and owns it by the TaskRun).
 * 3. Opted in with a taskRef -> denied with the way out: embed the Task (`tlr render` does it), or run it in a
 *    PipelineRun. Letting it through would half-work: the large value would hit the termination-message limit.
 */
import { taskRunOptsIn } from '../core/admission-opt-in.js';
import { describeObject, isTektonKind, type KubeObject, type TaskRun } from '../api/tekton.js';
import { rewriteTaskRun } from '../core/task-run.js';
import { convertOnly } from '../core/rewrite.js';
import { isRewritten } from '../core/rewritten.js';
import { allow, allowWithPatch, deny, internalError, type AdmissionRequest, type AdmissionReviewResponse } from './admission-review.js';
import { diffPatch } from './json-patch.js';
import { addWarnings, loadSettings, refusal, withNamespace } from './pipelinerun-admission.js';
import type { WebhookSettings } from './settings.js';

/**
 * The answer when no rewrite is needed, cheaply, whatever the object's shape: not a standalone TaskRun CREATE,
 * already rewritten, or not opted in. Undefined when `admitTaskRun` must decide.
 */
export function quickTaskRunAnswer(request: AdmissionRequest): AdmissionReviewResponse | undefined {
  const { uid } = request;
  const raw = request.object;
  if (request.operation !== 'CREATE' || request.kind.group !== 'tekton.dev' || request.kind.kind !== 'TaskRun' || !isTektonKind(raw, 'TaskRun')) return allow(uid);
  if (ownedByPipelineRun(raw) || isRewritten(raw) || !taskRunOptsIn(raw)) return allow(uid);
  return undefined;
}

export function admitTaskRun(request: AdmissionRequest, settings: WebhookSettings): AdmissionReviewResponse {
  const quick = quickTaskRunAnswer(request);
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
  if (run.spec.taskSpec === undefined || run.spec.taskSpec === null) {
    return deny(
      uid,
      `${describeObject(run)}: spec.taskRef: stores results by reference, so its Task must be rewritten before the run starts, ` +
        `and a TaskRun cannot be held while the Task is fetched; expected an embedded spec.taskSpec, found a taskRef. ` +
        `Embed the Task (tlr render run.yaml task.yaml prints the run with it inlined) or run the Task from a PipelineRun`,
    );
  }
  const loaded = loadSettings(settings, run);
  if ('failure' in loaded) return internalError(uid, loaded.failure);
  try {
    const result = rewriteTaskRun(run, loaded);
    addWarnings(warnings, result.diagnostics);
    return allowWithPatch(uid, diffPatch(raw, result.object, 2), [...warnings]);
  } catch (error) {
    return refusal(uid, error, warnings);
  }
}

/** Tekton's own TaskRuns for a PipelineRun (also kept out by the configuration's objectSelector), read tolerantly. */
function ownedByPipelineRun(run: KubeObject): boolean {
  const meta: unknown = run.metadata;
  if (typeof meta !== 'object' || meta === null) return false;
  const { ownerReferences, labels } = meta as { ownerReferences?: unknown; labels?: unknown };
  const owned = Array.isArray(ownerReferences) && ownerReferences.some((o: unknown) => (o as { kind?: unknown } | null)?.kind === 'PipelineRun');
  return owned || (typeof labels === 'object' && labels !== null && (labels as Record<string, unknown>)['tekton.dev/pipelineRun'] !== undefined);
}
