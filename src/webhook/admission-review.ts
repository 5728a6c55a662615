/**
 * The AdmissionReview v1 wire format (admission.k8s.io/v1), the parts the webhooks read and write, and the builders
 * of every answer. Webhooks answer with an AdmissionReview always, echoing `request.uid`, for success, refusal and
 * internal failure alike.
 */

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource?: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: Operation;
  userInfo?: { username?: string; uid?: string; groups?: string[] };
  /** The object as the API server will store it (raw JSON; unknown fields included). */
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
  [key: string]: unknown;
}

/** metav1.Status as carried in a refusal. */
export interface AdmissionStatus {
  code: number;
  /** metav1.StatusReason: `Invalid`, `InternalError`, ... */
  reason: string;
  message: string;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: AdmissionStatus;
  patchType?: 'JSONPatch';
  /** base64 of the JSON Patch (RFC 6902) text. */
  patch?: string;
  warnings?: string[];
}

export interface AdmissionReviewRequest {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: 'AdmissionReview';
  request: AdmissionRequest;
}

export interface AdmissionReviewResponse {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

/** One JSON Patch operation (the subset the webhooks emit). */
export type PatchOperation =
  | { op: 'add' | 'replace'; path: string; value: unknown }
  | { op: 'remove'; path: string };

/** Thrown by `parseAdmissionReview` for a body that is not an AdmissionReview v1 request (HTTP 400). */
export class MalformedReviewError extends Error {
  override readonly name = 'MalformedReviewError';
}

const OPERATIONS: readonly string[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

/** Checks the envelope of a parsed body; the object itself is checked by the webhook that reads it. */
export function parseAdmissionReview(body: unknown): AdmissionReviewRequest {
  const review = body as Partial<AdmissionReviewRequest> | null;
  if (typeof review !== 'object' || review === null || Array.isArray(review)) {
    throw new MalformedReviewError(`expected a JSON object (an AdmissionReview), found ${describeJson(body)}`);
  }
  if (review.apiVersion !== ADMISSION_API_VERSION || review.kind !== 'AdmissionReview') {
    throw new MalformedReviewError(
      `expected apiVersion "${ADMISSION_API_VERSION}" and kind "AdmissionReview", found ` +
        `apiVersion ${JSON.stringify(review.apiVersion)} and kind ${JSON.stringify(review.kind)}`,
    );
  }
  checkRequest(review.request);
  return review as AdmissionReviewRequest;
}

function checkRequest(value: unknown): void {
  const request = value as Partial<AdmissionRequest> | undefined;
  if (typeof request !== 'object' || request === null) {
    throw new MalformedReviewError('expected field "request" (an AdmissionReview request), found none');
  }
  if (typeof request.uid !== 'string' || request.uid === '') {
    throw new MalformedReviewError(`expected "request.uid" to be a non-empty string, found ${describeJson(request.uid)}`);
  }
  const kind = request.kind as Partial<GroupVersionKind> | undefined;
  if (typeof kind?.kind !== 'string' || typeof kind.version !== 'string' || typeof kind.group !== 'string') {
    throw new MalformedReviewError(`expected "request.kind" to be {group, version, kind}, found ${describeJson(request.kind)}`);
  }
  if (typeof request.operation !== 'string' || !OPERATIONS.includes(request.operation)) {
    throw new MalformedReviewError(
      `expected "request.operation" to be one of ${OPERATIONS.join(', ')}, found ${describeJson(request.operation)}`,
    );
  }
}

function describeJson(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? typeof value;
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function review(response: AdmissionResponse): AdmissionReviewResponse {
  return { apiVersion: ADMISSION_API_VERSION, kind: 'AdmissionReview', response };
}

function withWarnings(warnings: readonly string[]): { warnings?: string[] } {
  return warnings.length > 0 ? { warnings: [...warnings] } : {};
}

/** Allowed, unchanged. */
export function allow(uid: string, warnings: readonly string[] = []): AdmissionReviewResponse {
  return review({ uid, allowed: true, ...withWarnings(warnings) });
}

/** Allowed with a JSON Patch (allowed unchanged when `ops` is empty). */
export function allowWithPatch(uid: string, ops: readonly PatchOperation[], warnings: readonly string[] = []): AdmissionReviewResponse {
  if (ops.length === 0) return allow(uid, warnings);
  const patch = Buffer.from(JSON.stringify(ops)).toString('base64');
  return review({ uid, allowed: true, patchType: 'JSONPatch', patch, ...withWarnings(warnings) });
}

/** HTTP status code of refusals of an object's content: the API server's own code for invalid objects. */
export const CODE_INVALID = 422;
export const CODE_INTERNAL = 500;

/** Refused: the object's content is invalid for the extension (422 Invalid). */
export function deny(uid: string, message: string, warnings: readonly string[] = []): AdmissionReviewResponse {
  return review({ uid, allowed: false, status: { code: CODE_INVALID, reason: 'Invalid', message }, ...withWarnings(warnings) });
}

/** Refused because the webhook itself failed (500 InternalError); the request may succeed when retried. */
export function internalError(uid: string, message: string): AdmissionReviewResponse {
  return review({ uid, allowed: false, status: { code: CODE_INTERNAL, reason: 'InternalError', message } });
}

/** How a response is counted and logged. */
export type Decision = 'allowed' | 'patched' | 'denied' | 'error';

export function decisionOf(response: AdmissionResponse): Decision {
  if (response.allowed) return response.patch !== undefined ? 'patched' : 'allowed';
  return (response.status?.code ?? CODE_INVALID) >= CODE_INTERNAL ? 'error' : 'denied';
}
