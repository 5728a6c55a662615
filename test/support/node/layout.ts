/**
 * Where everything of one test cluster lives: one directory (`/tmp/tlr-node-<id>/` by default), with one
 * subdirectory per node. Unix socket paths must stay under 108 bytes, so the directory name is short.
 */
import { join } from 'node:path';

export const NODE_NAME_PREFIX = 'node-';
export const nodeName = (n: number): string => `${NODE_NAME_PREFIX}${n}`;

export interface NodeLayout {
  readonly index: number;
  readonly name: string;
  readonly ip: string;
  readonly dir: string;
  readonly containerdConfig: string;
  readonly containerdRoot: string;
  readonly containerdState: string;
  readonly containerdSocket: string;
  readonly runcRoot: string;
  readonly cniConfDir: string;
  readonly cniIpamDir: string;
  readonly cniBridge: string;
  readonly kubeletConfig: string;
  readonly kubeletRoot: string;
  readonly podLogsDir: string;
  readonly volumePluginDir: string;
  /** Each CSI driver instance's data directory is `<csiData>/<driver name>`. */
  readonly csiData: string;
  /** The kubelet's healthz port on 127.0.0.1 (one per node: all kubelets share the namespace's loopback). */
  readonly kubeletHealthzPort: number;
}

export interface ClusterLayout {
  readonly dir: string;
  readonly pki: string;
  readonly logs: string;
  readonly etcdData: string;
  readonly apiSocket: string;
  readonly kubeProxyConfig: string;
  readonly resolvConf: string;
  readonly nodes: readonly NodeLayout[];
}

export function nodeLayout(dir: string, index: number, ip: string): NodeLayout {
  const d = join(dir, `n${index}`);
  const kubeletRoot = join(d, 'kubelet');
  return {
    index, name: nodeName(index), ip, dir: d,
    containerdConfig: join(d, 'containerd.toml'),
    containerdRoot: join(d, 'containerd', 'root'),
    containerdState: join(d, 'containerd', 'state'),
    containerdSocket: join(d, 'containerd', 'containerd.sock'),
    runcRoot: join(d, 'runc'),
    cniConfDir: join(d, 'cni'),
    cniIpamDir: join(d, 'cni-ipam'),
    cniBridge: `cni${index}`,
    kubeletConfig: join(d, 'kubelet.yaml'),
    kubeletRoot,
    podLogsDir: join(d, 'pod-logs'),
    volumePluginDir: join(d, 'volume-plugins'),
    csiData: join(d, 'csi-data'),
    kubeletHealthzPort: 10248 + 100 * index,
  };
}

/** Where the kubelet looks for a CSI driver's socket by convention (any path works; the registration names it). */
export const csiSocket = (node: NodeLayout, driver: string): string => join(node.kubeletRoot, 'plugins', driver, 'csi.sock');

export function clusterLayout(dir: string, nodeIps: readonly string[]): ClusterLayout {
  return {
    dir,
    pki: join(dir, 'pki'),
    logs: join(dir, 'logs'),
    etcdData: join(dir, 'etcd'),
    apiSocket: join(dir, 'api.sock'),
    kubeProxyConfig: join(dir, 'kube-proxy.yaml'),
    resolvConf: join(dir, 'resolv.conf'),
    nodes: nodeIps.map((ip, i) => nodeLayout(dir, i, ip)),
  };
}
