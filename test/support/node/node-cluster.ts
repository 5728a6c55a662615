/**
 * A real Kubernetes cluster on this machine for end-to-end tests: etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler, kube-proxy (nftables) and, per node, containerd + runc, the kubelet and a CSI driver with its
 * external-provisioner; then, optionally, Tekton v1.15.0 from its release config and Tekton Large Results installed
 * as docs/install.md says. Everything runs inside a network namespace made for it, with no route out (./netns.ts).
 *
 * Bring-up is a list of actions (as kind's), each named in progress lines and in the error when it fails, which
 * shows the end of the failing component's log. What the cluster changes on the host is recorded first
 * (./registry.ts), so any later start cleans up after one that crashed.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureGoBuild } from '../go-build.js';
import { kubernetesBuild, nodeBuild } from '../go-builds.js';
import { createClusterCgroup } from './cgroups.js';
import { checkHost } from './host.js';
import { clusterLayout } from './layout.js';
import { createNetns, nodeIp } from './netns.js';
import { cleanUp, cleanUpAbandoned, DEVICE_PLUGINS, recordFile, register, RUN_CONTAINERD, type ClusterRecord } from './registry.js';
import { BringUp, type NodeCluster, type NodeClusterOptions } from './bring-up.js';

export type { NodeCluster, NodeClusterOptions } from './bring-up.js';

export async function startNodeCluster(options: NodeClusterOptions = {}): Promise<NodeCluster> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  await checkHost(log);
  await cleanUpAbandoned(log);
  const goOptions = { log };
  const [kubernetes, node] = await Promise.all([ensureGoBuild(kubernetesBuild(), goOptions), ensureGoBuild(nodeBuild(), goOptions)]);

  const id = randomBytes(3).toString('hex');
  const dir = join(options.baseDir ?? tmpdir(), `tlr-node-${id}`);
  const nodes = options.nodes ?? 1;
  const layout = clusterLayout(dir, Array.from({ length: nodes }, (_, i) => nodeIp(i)));
  const record: ClusterRecord = {
    id, owner: options.owner ?? process.pid, netns: `tlr-${id}`, cgroup: `tlr-${id}`, dir, startedAt: new Date().toISOString(),
  };
  await mkdir(layout.logs, { recursive: true, mode: 0o755 });
  await register(record); // before anything changes on the host
  const watchdog = startWatchdog(record, layout.logs);
  await mkdir(RUN_CONTAINERD, { recursive: true });
  await mkdir(DEVICE_PLUGINS, { recursive: true });
  const up = new BringUp({ record, layout, binaries: { kubernetes: kubernetes.dir, node: node.dir }, log, options, release: watchdog });
  try {
    await up.step('network namespace', async () => {
      await createNetns(record.netns, nodes);
      up.cgroupProcs = await createClusterCgroup(record.cgroup, layout.nodes.map((n) => n.name));
    });
    return await up.run();
  } catch (error) {
    await up.stopProcesses().catch(() => undefined);
    if (!options.keepOnFailure) await cleanUp(record).catch(() => undefined);
    watchdog();
    throw error;
  }
}

const WATCHDOG = fileURLToPath(new URL('./watchdog.js', import.meta.url));

/** Starts ./watchdog.ts for the cluster; the returned function tells it the cluster was stopped (it then exits). */
function startWatchdog(record: ClusterRecord, logs: string): () => void {
  const fd = openSync(join(logs, 'watchdog.log'), 'a');
  const child = spawn(process.execPath, [WATCHDOG, recordFile(record.id)], { detached: true, stdio: ['pipe', fd, fd] });
  closeSync(fd);
  child.unref();
  (child.stdin as unknown as { unref(): void }).unref();
  return () => {
    if (child.stdin?.writable) child.stdin.end("stopped\n");
  };
}
