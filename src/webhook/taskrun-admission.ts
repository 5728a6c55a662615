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
import { ANNOTATION_REFERENCE_RESULTS, ANNOTATION_REWRITTEN } from '../api/names.js';
import { annotatedResultWorkspace, splitNames } from '../core/opt-in.js';
import { describeObject, isTektonKind, type KubeObject, type TaskRun } from '../api/tekton.js';
import { rewriteTaskRun } from '../core/task-run.js';
import { convertOnly } from '../core/rewrite.js';
import { allow, allowWithPatch, deny, internalError, type AdmissionRequest, type AdmissionReviewResponse } from './admission-review.js';
import { diffPatch } from './json-patch.js';
import { addWarnings, loadSettings, refusal, withNamespace } from './pipelinerun-admission.js';
import type { WebhookSettings } from './settings.js';

export function admitTaskRun(request: AdmissionRequest, settings: WebhookSettings): AdmissionReviewResponse {
  const { uid } = request;
  const raw = request.object as Partial<KubeObject> | null | undefined;
  if (request.operation !== 'CREATE' || request.kind.group !== 'tekton.dev' || request.kind.kind !== 'TaskRun' || !isTektonKind(raw, 'TaskRun')) return allow(uid);
  if (ownedByPipelineRun(raw)) return allow(uid);
  const warnings = new Set<string>();
  let run: TaskRun;
  try {
    const converted = convertOnly(raw);
    addWarnings(warnings, converted.diagnostics);
    run = withNamespace(converted.object as TaskRun, request.namespace);
  } catch (error) {
    return refusal(uid, error);
  }
  const annotations = run.metadata?.annotations ?? {};
  if (annotations[ANNOTATION_REWRITTEN] !== undefined) return allow(uid);
  // The same reading of the annotations as the rewrite's (an empty value does not opt in).
  if (annotatedResultWorkspace(run.metadata) === undefined && splitNames(annotations[ANNOTATION_REFERENCE_RESULTS]).length === 0) return allow(uid);
  if (run.spec.taskSpec === undefined) {
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

/** Tekton's own TaskRuns for a PipelineRun (also kept out by the configuration's objectSelector). */
function ownedByPipelineRun(run: KubeObject): boolean {
  const owners = (run.metadata?.ownerReferences ?? []) as Array<{ kind?: string }>;
  return owners.some((o) => o.kind === 'PipelineRun') || run.metadata?.labels?.['tekton.dev/pipelineRun'] !== undefined;
}
