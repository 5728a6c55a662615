/**
 * What an end-to-end test file (test/e2e-cluster/) works with: the real cluster `npm test` started for the whole
 * phase (its state file in TLR_NODE_CLUSTER_STATE, ./keeper.ts), or, for a file run on its own, one it starts itself.
 * Every test makes its own namespace, so tests never see each other's objects.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { ExecutionContext } from 'ava';
import type { ClusterState } from './keeper.js';
import { kubectlFor, type Kubectl } from './kubectl.js';
import { startNodeCluster, type NodeCluster } from './node-cluster.js';
import { PROGRAMS } from './host.js';

export interface E2eCluster {
  readonly server: string;
  readonly kubeConfig: KubeConfig;
  readonly kubeConfigPath: string;
  readonly kubectl: Kubectl;
  readonly dir: string;
  readonly netns: string;
  readonly nodes: readonly string[];
  readonly binaries: { readonly kubernetes: string; readonly node: string };
  /** Runs a command inside the cluster's network and mount namespaces. */
  exec(argv: readonly string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** A component's log file (`kubelet-node-0`, `kube-apiserver`, …). */
  logFile(component: string): string;
  /** Stops the cluster if this file started it. */
  release(): Promise<void>;
}

function execIn(holderPid: number) {
  return (argv: readonly string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const child = spawn(PROGRAMS.nsenter, [`--target=${holderPid}`, '--mount', '--net', '--', ...argv], { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => err.push(d));
      child.on('error', (e) => resolve({ code: -1, stdout: '', stderr: String(e) }));
      child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
      child.stdin.on('error', () => undefined); // the program may exit without reading it
      child.stdin.end(input ?? '');
    });
}

function fromState(state: ClusterState): E2eCluster {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(state.kubeConfigPath);
  return {
    server: state.server, kubeConfig, kubeConfigPath: state.kubeConfigPath,
    kubectl: kubectlFor(join(state.binaries.kubernetes, 'kubectl'), state.kubeConfigPath),
    dir: state.dir, netns: state.netns, nodes: state.nodes, binaries: state.binaries,
    exec: execIn(state.holderPid), logFile: (c) => join(state.dir, 'logs', `${c}.log`), release: () => Promise.resolve(),
  };
}

function fromCluster(cluster: NodeCluster): E2eCluster {
  return {
    server: cluster.server, kubeConfig: cluster.kubeConfig, kubeConfigPath: cluster.kubeConfigPath, kubectl: cluster.kubectl,
    dir: cluster.dir, netns: cluster.netns, nodes: cluster.nodes.map((n) => n.name), binaries: cluster.binaries,
    exec: execIn(cluster.holderPid), logFile: (c) => cluster.logFile(c), release: () => cluster.stop(),
  };
}

/** The phase's cluster, or a new one (two nodes, everything installed) when this file runs alone. */
export async function connectCluster(): Promise<E2eCluster> {
  const stateFile = process.env.TLR_NODE_CLUSTER_STATE;
  if (stateFile) return fromState(JSON.parse(await readFile(stateFile, 'utf8')) as ClusterState);
  return fromCluster(await startNodeCluster({ nodes: Number(process.env.TLR_E2E_NODES ?? '2') }));
}

/** A fresh namespace for one test, deleted afterwards (unless the test failed and TLR_E2E_KEEP is set). */
export async function testNamespace(t: ExecutionContext, cluster: E2eCluster, prefix = 'e2e'): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`.toLowerCase();
  await cluster.kubectl(['create', 'namespace', name]);
  t.teardown(async () => {
    if (!t.passed && process.env.TLR_E2E_KEEP) return;
    await cluster.kubectl(['delete', 'namespace', name, '--wait=false'], { allowFailure: true });
  });
  return name;
}
