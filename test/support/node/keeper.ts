/**
 * A process that keeps a node cluster running for others: `npm run dev-cluster -- up` and the end-to-end phase of
 * `npm test` start it detached; it brings the cluster up (it is the cluster's owner: if it dies, the watchdog and the
 * next start clean up), writes the cluster's state file, and on SIGTERM or SIGINT stops the cluster and removes the
 * state file. The host-side forward to the API server lives here, so the state's `server` works from this machine's
 * loopback for as long as the keeper runs.
 *
 *   node keeper.js <state file> [--nodes N] [--install kubernetes|tekton|tlr]
 */
import { rename, rm, writeFile } from 'node:fs/promises';
import { startNodeCluster, type NodeCluster } from './node-cluster.js';

export interface ClusterState {
  readonly keeperPid: number;
  readonly id: string;
  readonly dir: string;
  readonly netns: string;
  /** https://127.0.0.1:<port>, through the keeper's loopback forward. */
  readonly server: string;
  /** Admin kubeconfig for `server`. */
  readonly kubeConfigPath: string;
  /** Admin kubeconfig for inside the namespace (https://127.0.0.1:6443). */
  readonly inNamespaceKubeConfigPath: string;
  readonly holderPid: number;
  readonly binaries: { readonly kubernetes: string; readonly node: string };
  readonly nodes: readonly string[];
  readonly install: string;
  readonly startedAt: string;
}

function argument(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const stateFile = args[0];
  if (!stateFile) throw new Error('usage: keeper <state file> [--nodes N] [--install kubernetes|tekton|tlr]');
  const install = (argument(args, '--install') ?? 'tlr') as 'kubernetes' | 'tekton' | 'tlr';
  const nodes = Number(argument(args, '--nodes') ?? '1');
  const log = (line: string): void => void process.stderr.write(`${line}\n`);
  // A signal during bring-up exits before the cluster exists: the watchdog cleans up what was started.
  const current: { cluster?: NodeCluster } = {};
  let stopping = false;
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log('stopping the cluster…');
    await rm(stateFile, { force: true });
    await current.cluster?.stop();
    log('stopped');
    process.exit(code);
  };
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => void stop(0));
  const cluster = await startNodeCluster({ nodes, install, log });
  current.cluster = cluster;
  if (stopping) return;
  const state: ClusterState = {
    keeperPid: process.pid, id: cluster.id, dir: cluster.dir, netns: cluster.netns, server: cluster.server,
    kubeConfigPath: cluster.kubeConfigPath, inNamespaceKubeConfigPath: cluster.pki.kubeconfigs.admin ?? '',
    holderPid: cluster.holderPid, binaries: cluster.binaries, nodes: cluster.nodes.map((n) => n.name), install,
    startedAt: new Date().toISOString(),
  };
  await writeFile(`${stateFile}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  await rename(`${stateFile}.tmp`, stateFile);
  log(`ready: ${cluster.server}`);
  setInterval(() => undefined, 1 << 30); // keep running until a signal
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
