/**
 * One admission decision as it crosses to an admission worker thread and back, and the function the worker runs:
 * the request body (parsed again there, so the main thread never copies the object), the settings and lookups the
 * server prepared; back comes the AdmissionReview as JSON text, ready to send.
 */
import { decisionOf, internalError, parseAdmissionReview, type AdmissionReviewResponse, type Decision } from './admission-review.js';
import type { WebhookName } from './metrics.js';
import type { Lookups } from './pipelinerun-admission.js';
import { routeOf } from './routes.js';
import { settingsFromSnapshot, type SettingsSnapshot } from './settings-snapshot.js';

export interface AdmissionTask {
  readonly webhook: WebhookName;
  /** The request body: an AdmissionReview already checked by the server. */
  readonly body: Uint8Array;
  readonly settings: SettingsSnapshot;
  readonly lookups: Lookups;
}

export interface AdmissionAnswer {
  /** The AdmissionReview response, as JSON. */
  readonly text: string;
  readonly decision: Decision;
  readonly code?: number;
  /** Set when the decision threw: the error, for the log (the caller only gets a generic internal error). */
  readonly failure?: { readonly message: string; readonly stack?: string };
}

/** Decides one admission task (pure apart from parsing the body); never throws. */
export function decide(task: AdmissionTask): AdmissionAnswer {
  const request = parseAdmissionReview(JSON.parse(Buffer.from(task.body.buffer, task.body.byteOffset, task.body.byteLength).toString('utf8'))).request;
  let review: AdmissionReviewResponse;
  let failure: AdmissionAnswer['failure'];
  try {
    review = routeOf(task.webhook).admit(request, settingsFromSnapshot(task.settings), task.lookups);
  } catch (error) {
    const err = error instanceof Error ? error : new Error(String(error));
    failure = { message: err.message, ...(err.stack !== undefined ? { stack: err.stack } : {}) };
    review = internalError(request.uid, internalFailureMessage(request.uid));
  }
  return { text: JSON.stringify(review), decision: decisionOf(review.response), ...codeOf(review), ...(failure ? { failure } : {}) };
}

function codeOf(review: AdmissionReviewResponse): { code?: number } {
  const code = review.response.status?.code;
  return code !== undefined ? { code } : {};
}

/** What the caller learns of a failure of the webhook itself: that it failed, and the uid it is logged under. */
export function internalFailureMessage(uid: string): string {
  return `Tekton Large Results webhook failed on this request (an internal error, logged with request uid ${uid}); the object was not admitted. Try again, or report it to the cluster's admin`;
}
