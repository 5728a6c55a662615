/**
 * Our `tlr-config` ConfigMap, changed as an admin changes it: per-namespace keys (`namespace.<ns>.<key>`) for one
 * test's namespace, merged in with `kubectl patch` and removed when the test ends, so tests never see each other's
 * settings. The webhook and the controller watch the map (src/webhook/settings-snapshot.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecutionContext } from 'ava';
import type { E2eCluster } from './e2e-cluster.js';

export const TLR_NAMESPACE = 'tlr-system';

export async function setNamespaceConfig(t: ExecutionContext, cluster: E2eCluster, namespace: string, keys: Readonly<Record<string, string>>): Promise<void> {
  const patch = (value: (v: string) => string | null): string =>
    JSON.stringify({ data: Object.fromEntries(Object.entries(keys).map(([k, v]) => [`namespace.${namespace}.${k}`, value(v)])) });
  await cluster.kubectl(['-n', TLR_NAMESPACE, 'patch', 'configmap', 'tlr-config', '--type=merge', '-p', patch((v) => v)]);
  t.teardown(async () => {
    await cluster.kubectl(['-n', TLR_NAMESPACE, 'patch', 'configmap', 'tlr-config', '--type=merge', '-p', patch(() => null)], { allowFailure: true });
  });
  // The informers see the change within moments; give them one before the test creates its run.
  await sleep(2000);
}
