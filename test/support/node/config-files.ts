/**
 * The components' configuration files, each a pure function of the layout: containerd's (CRI) config, the
 * KubeletConfiguration, the KubeProxyConfiguration (nftables mode) and the CNI network of each node. Every path
 * points into the cluster's directory; nothing is written to the host's default locations.
 */
import { writeFile } from 'node:fs/promises';
import { CNI_BIN_DIR, PROGRAMS } from './host.js';
import type { ClusterLayout, NodeLayout } from './layout.js';
import { NODE_CIDR, POD_CIDR, podSubnet, SERVICE_CIDR } from './netns.js';

export const SANDBOX_IMAGE = 'registry.k8s.io/pause:3.10';
export const CLUSTER_DNS_IP = '10.96.0.10';

/** containerd 1.6 (Debian) CRI config; `restrict_oom_score_adj` because these VMs lack CAP_SYS_RESOURCE. */
export function containerdConfig(node: NodeLayout): string {
  return `version = 2
root = "${node.containerdRoot}"
state = "${node.containerdState}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "${node.containerdSocket}"
[ttrpc]
  address = "${node.containerdSocket}.ttrpc"
[debug]
  level = "warn"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "${node.dir}/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${SANDBOX_IMAGE}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  netns_mounts_under_state_dir = true
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "${PROGRAMS.runc}"
        SystemdCgroup = false
        Root = "${node.runcRoot}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${CNI_BIN_DIR}"
    conf_dir = "${node.cniConfDir}"
    max_conf_num = 1
`;
}

/** One bridge per node, no masquerading; routes only to the pods, the nodes and the Services. */
export function cniConfig(node: NodeLayout): string {
  return `${JSON.stringify({
    cniVersion: '0.4.0',
    name: `tlr-${node.name}`,
    plugins: [{
      type: 'bridge', bridge: node.cniBridge, isGateway: true, ipMasq: false, hairpinMode: true,
      ipam: {
        type: 'host-local', dataDir: node.cniIpamDir,
        ranges: [[{ subnet: podSubnet(node.index) }]],
        routes: [{ dst: POD_CIDR }, { dst: NODE_CIDR }, { dst: SERVICE_CIDR }],
      },
    }],
  }, null, 2)}\n`;
}

export function kubeletConfig(layout: ClusterLayout, node: NodeLayout, cgroupRoot: string): string {
  return `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
# One cgroup root per node: a kubelet removes pod cgroups under its root that it does not know, so two kubelets
# sharing one would kill each other's pods.
cgroupRoot: /${cgroupRoot}/${node.name}
containerRuntimeEndpoint: unix://${node.containerdSocket}
address: ${node.ip}
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${node.kubeletHealthzPort}
tlsCertFile: ${layout.pki}/kubelet-serving-${node.name}.crt
tlsPrivateKeyFile: ${layout.pki}/kubelet-serving-${node.name}.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${layout.pki}/ca.crt}
authorization: {mode: Webhook}
clusterDomain: cluster.local
# No DNS server runs: this Service IP answers nothing, so lookups fail inside the namespace (and pods get the
# resolv.conf of a real cluster instead of a MissingClusterDNS event each).
clusterDNS: [${CLUSTER_DNS_IP}]
resolvConf: ${layout.resolvConf}
podLogsDir: ${node.podLogsDir}
volumePluginDir: ${node.volumePluginDir}
failSwapOn: false
rotateCertificates: false
serverTLSBootstrap: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
maxPods: 60
serializeImagePulls: false
syncFrequency: 10s
fileCheckFrequency: 10s
`;
}

export function kubeProxyConfig(layout: ClusterLayout, kubeconfig: string): string {
  return `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
clientConnection:
  kubeconfig: ${kubeconfig}
hostnameOverride: ${layout.nodes[0]?.name}
clusterCIDR: ${POD_CIDR}
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Host-wide conntrack settings are left alone (0: do not change); the per-namespace ones live in our namespace.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`;
}

/** No nameserver: the test cluster has no DNS, and a pod's lookups go to its own loopback, never out. */
export const RESOLV_CONF = '# the test cluster has no DNS\noptions timeout:1 attempts:1\n';

export async function writeConfigFiles(layout: ClusterLayout, cgroupRoot: string, kubeProxyKubeconfig: string): Promise<void> {
  await writeFile(layout.resolvConf, RESOLV_CONF);
  await writeFile(layout.kubeProxyConfig, kubeProxyConfig(layout, kubeProxyKubeconfig));
  for (const node of layout.nodes) {
    await writeFile(node.containerdConfig, containerdConfig(node));
    await writeFile(`${node.cniConfDir}/10-tlr.conflist`, cniConfig(node));
    await writeFile(node.kubeletConfig, kubeletConfig(layout, node, cgroupRoot));
  }
}
