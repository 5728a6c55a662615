/**
 * Tekton's feature flags, changed as an admin changes them (`kubectl patch` of the feature-flags ConfigMap; Tekton's
 * controller and webhook, and ours, watch it).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { E2eCluster } from './e2e-cluster.js';
import { TEKTON_NAMESPACE } from './tekton.js';

/** Sets the keys given; a key given as null is removed (the flag back to Tekton's default). */
export async function setFeatureFlags(cluster: E2eCluster, flags: Readonly<Record<string, string | null>>): Promise<void> {
  await cluster.kubectl(['-n', TEKTON_NAMESPACE, 'patch', 'configmap', 'feature-flags', '--type=merge', '-p', JSON.stringify({ data: flags })]);
  // The watchers see the change within moments; give them one before the next create.
  await sleep(2000);
}

/** `enable-api-fields: alpha`, which stdoutConfig/stderrConfig need in Tekton v1.15.0. */
export function enableAlphaFields(cluster: E2eCluster): Promise<void> {
  return setFeatureFlags(cluster, { 'enable-api-fields': 'alpha' });
}

/** The feature-flags ConfigMap's data as it is now (to put back what a test changed). */
export async function featureFlags(cluster: E2eCluster): Promise<Record<string, string>> {
  const { stdout } = await cluster.kubectl(['-n', TEKTON_NAMESPACE, 'get', 'configmap', 'feature-flags', '-o', 'json']);
  return (JSON.parse(stdout) as { data?: Record<string, string> }).data ?? {};
}
