import type { Config } from '../core/config.js';
import type { FeatureFlags } from '../core/feature-flags.js';
import type { KubeObject } from '../api/tekton.js';

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
   * A stored Pipeline or Task of `namespace` (a run's local `pipelineRef` / `taskRef`), read by name; undefined when
   * there is no such object; rejects (the reason logged, never answered) when it cannot be read. Optional: without
   * it, only what a run embeds opts it in and can be rewritten.
   */
  storedObject?(kind: 'Pipeline' | 'Task', namespace: string, name: string): Promise<KubeObject | undefined>;
}
