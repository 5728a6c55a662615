/**
 * Someone outside the run writing to its result volume (a user's pod mounting the claim whole): the only writer left
 * once each task mounts only its own directory (src/core/layout.ts), and the one the digests are there to catch.
 */
import { boundResultClaim, type TaskRunLike } from '../../../src/fetch/fetch.js';
import { eventually } from '../eventually.js';
import type { E2eCluster } from './e2e-cluster.js';
import { get, type RunObject } from './runs.js';

/** The result claim a TaskRun of the run binds (its tlr-output or tlr-results workspace). */
export function claimOf(taskRun: RunObject): string {
  const claim = boundResultClaim(taskRun as TaskRunLike);
  if (claim === undefined) throw new Error(`TaskRun ${taskRun.metadata.name} binds no result claim: ${JSON.stringify(taskRun.spec.workspaces)}`);
  return claim;
}

/** Runs `script` (sh, as root) in a pod that mounts `claim` whole at /volume; waits until it succeeded; deletes it. */
export async function runOnClaim(cluster: E2eCluster, namespace: string, claim: string, script: string): Promise<void> {
  const name = `volume-writer-${Date.now().toString(36)}`;
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace },
    spec: {
      restartPolicy: 'Never',
      containers: [{ name: 'write', image: 'docker.io/library/busybox:1.35', command: ['sh', '-euc', script], volumeMounts: [{ name: 'v', mountPath: '/volume' }] }],
      volumes: [{ name: 'v', persistentVolumeClaim: { claimName: claim } }],
    },
  };
  await cluster.kubectl(['-n', namespace, 'create', '-f', '-'], { input: JSON.stringify(pod) });
  try {
    const phase = await eventually(async () => {
      const p = (await get<{ status?: { phase?: string } }>(cluster, namespace, 'pod', name)).status?.phase;
      return p === 'Succeeded' || p === 'Failed' ? p : undefined;
    }, `pod ${namespace}/${name} done`, 180_000, 1000);
    if (phase !== 'Succeeded') {
      const { stdout } = await cluster.kubectl(['-n', namespace, 'logs', name], { allowFailure: true });
      throw new Error(`pod ${namespace}/${name} failed: ${stdout}`);
    }
  } finally {
    await cluster.kubectl(['-n', namespace, 'delete', 'pod', name, '--wait=false'], { allowFailure: true });
  }
}
