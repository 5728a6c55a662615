/**
 * The three webhooks: for each, the lookups the server does first (I/O, on the main thread), the cheap answer for
 * requests that need no rewrite (on the main thread, a few shallow reads), and the pure decision (on an admission
 * worker thread, docs/design.md "Admission work off the event loop").
 */
import type { AdmissionRequest, AdmissionReviewResponse } from './admission-review.js';
import type { WebhookName } from './metrics.js';
import { admitPipelineRun, pipelineRunLookups, quickPipelineRunAnswer, type Lookups } from './pipelinerun-admission.js';
import { admitPod, quickPodAnswer } from './pod-admission.js';
import type { WebhookSettings } from './settings.js';
import { taskRunLookups } from './run-lookups.js';
import { admitTaskRun, quickTaskRunAnswer } from './taskrun-admission.js';

export interface Route {
  readonly webhook: WebhookName;
  /** API reads the decision needs, done before it (the decision itself stays pure). */
  readonly lookups?: (request: AdmissionRequest, settings: WebhookSettings) => Promise<Lookups>;
  /** The answer without the decision, when the request needs no rewrite; undefined: `admit` decides. */
  readonly quick: (request: AdmissionRequest, lookups: Lookups) => AdmissionReviewResponse | undefined;
  readonly admit: (request: AdmissionRequest, settings: WebhookSettings, lookups: Lookups) => AdmissionReviewResponse;
}

export const ROUTES: Readonly<Record<string, Route>> = {
  '/mutate/pipelineruns': { webhook: 'pipelineruns', lookups: pipelineRunLookups, quick: quickPipelineRunAnswer, admit: admitPipelineRun },
  '/mutate/pods': { webhook: 'pods', quick: quickPodAnswer, admit: admitPod },
  '/mutate/taskruns': { webhook: 'taskruns', lookups: taskRunLookups, quick: quickTaskRunAnswer, admit: admitTaskRun },
};

/** The route of a webhook, by name (what crosses to the worker). */
export function routeOf(webhook: WebhookName): Route {
  const route = Object.values(ROUTES).find((r) => r.webhook === webhook);
  if (!route) throw new Error(`no webhook "${webhook}"`);
  return route;
}
