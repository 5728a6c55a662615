import type { Config } from '../core/config.js';
import type { FeatureFlags } from '../core/feature-flags.js';

/**
 * What the webhooks read from the cluster, provided by the process that runs them (kept current from the `tlr-config`
 * and Tekton `feature-flags` ConfigMaps). Either method may throw a TlrError when its ConfigMap does not parse; the
 * webhooks then refuse opted-in objects with an internal error (and never consult it for anything else).
 */
export interface WebhookSettings {
  /** The configuration for objects in `namespace` (namespace overrides applied). */
  config(namespace: string): Config;
  featureFlags(): FeatureFlags;
  /**
   * The annotations of a stored Pipeline (a run's local `pipelineRef`); undefined when there is no such Pipeline;
   * rejects with the reason when it cannot be read. Optional: without it, only the run's own annotations and
   * embedded specs opt a run in.
   */
  pipelineAnnotations?(namespace: string, name: string): Promise<Record<string, string> | undefined>;
}
