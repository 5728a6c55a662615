/**
 * Tekton's feature flags, changed as an admin changes them (`kubectl patch` of the feature-flags ConfigMap; Tekton's
 * controller and webhook, and ours, watch it).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { E2eCluster } from './e2e-cluster.js';
import { TEKTON_NAMESPACE } from './tekton.js';

export async function setFeatureFlags(cluster: E2eCluster, flags: Readonly<Record<string, string>>): Promise<void> {
  await cluster.kubectl(['-n', TEKTON_NAMESPACE, 'patch', 'configmap', 'feature-flags', '--type=merge', '-p', JSON.stringify({ data: flags })]);
  // The watchers see the change within moments; give them one before the next create.
  await sleep(2000);
}

/** `enable-api-fields: alpha`, which stdoutConfig/stderrConfig need in Tekton v1.15.0. */
export function enableAlphaFields(cluster: E2eCluster): Promise<void> {
  return setFeatureFlags(cluster, { 'enable-api-fields': 'alpha' });
}
