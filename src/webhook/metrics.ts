import { Counter, Histogram, Registry } from 'prom-client';
import type { Decision } from './admission-review.js';

/** The webhooks served: the path segment after /mutate/. */
export type WebhookName = 'pipelineruns' | 'taskruns' | 'pods';

export const METRIC_REQUESTS = 'tlr_webhook_requests_total';
export const METRIC_DURATION = 'tlr_webhook_duration_seconds';

export interface WebhookMetrics {
  /** Counts one answered request (`error`: internal failures and requests that were not AdmissionReviews). */
  observe(webhook: WebhookName, result: Decision, seconds: number): void;
}

/**
 * Registers the webhook metrics on `registry` (a private one when none is given). Registering twice on the same
 * registry (two servers in one process) reuses the metrics already there.
 */
export function createWebhookMetrics(registry: Registry = new Registry()): WebhookMetrics {
  const requests =
    (registry.getSingleMetric(METRIC_REQUESTS) as Counter<'webhook' | 'result'> | undefined) ??
    new Counter({
      name: METRIC_REQUESTS,
      help: 'Admission requests answered by the Tekton Large Results webhooks, by webhook and result (allowed|patched|denied|error).',
      labelNames: ['webhook', 'result'] as const,
      registers: [registry],
    });
  const duration =
    (registry.getSingleMetric(METRIC_DURATION) as Histogram<'webhook'> | undefined) ??
    new Histogram({
      name: METRIC_DURATION,
      help: 'Time from receiving an admission request to answering it, in seconds.',
      labelNames: ['webhook'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
  return {
    observe(webhook, result, seconds) {
      requests.inc({ webhook, result });
      duration.observe({ webhook }, seconds);
    },
  };
}
