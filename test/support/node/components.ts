/**
 * The command line of every component of the test cluster, as a pure function of the layout and the binaries:
 * etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kube-proxy once; containerd, the kubelet and the
 * CSI driver with its external-provisioner once per node; the socket forward that lets the host reach the API server.
 */
import { fileURLToPath } from 'node:url';
import { API_PORT } from './certificates.js';
import { PROGRAMS } from './host.js';
import { csiSocket, type ClusterLayout, type NodeLayout } from './layout.js';
import { REGISTRY_ADDRESS, SERVICE_CIDR } from './netns.js';
import type { CsiDriver } from './storage.js';

export interface Binaries {
  /** kube-apiserver, etcd, kubelet, … (test/support/go-builds.ts `kubernetes`). */
  readonly kubernetes: string;
  /** csi-provisioner, tlr-csi-hostpath, pause (`node`). */
  readonly node: string;
}

export interface ComponentSpec {
  readonly name: string;
  readonly argv: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
}

const SOCKET_FORWARD = fileURLToPath(new URL('./socket-forward.js', import.meta.url));
const OCI_REGISTRY = fileURLToPath(new URL('./oci-registry.js', import.meta.url));

export function etcd(layout: ClusterLayout, bin: Binaries): ComponentSpec {
  return {
    name: 'etcd',
    argv: [`${bin.kubernetes}/etcd`, '--name=tlr', `--data-dir=${layout.etcdData}`,
      '--listen-client-urls=http://127.0.0.1:2379', '--advertise-client-urls=http://127.0.0.1:2379',
      '--listen-peer-urls=http://127.0.0.1:2380', '--initial-advertise-peer-urls=http://127.0.0.1:2380',
      '--initial-cluster=tlr=http://127.0.0.1:2380', '--listen-metrics-urls=http://127.0.0.1:2381',
      '--unsafe-no-fsync=true', '--quota-backend-bytes=2147483648', '--log-level=warn'],
  };
}

export function apiserver(layout: ClusterLayout, bin: Binaries): ComponentSpec {
  const p = (name: string): string => `${layout.pki}/${name}`;
  return {
    name: 'kube-apiserver',
    argv: [`${bin.kubernetes}/kube-apiserver`, '--etcd-servers=http://127.0.0.1:2379',
      '--bind-address=0.0.0.0', `--secure-port=${API_PORT}`, `--advertise-address=${layout.nodes[0]?.ip}`,
      `--cert-dir=${layout.dir}/apiserver-certs`,
      `--tls-cert-file=${p('apiserver.crt')}`, `--tls-private-key-file=${p('apiserver.key')}`, `--client-ca-file=${p('ca.crt')}`,
      `--service-account-key-file=${p('sa.pub')}`, `--service-account-signing-key-file=${p('sa.key')}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      '--authorization-mode=Node,RBAC', '--enable-admission-plugins=NodeRestriction',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      `--kubelet-client-certificate=${p('apiserver-kubelet-client.crt')}`, `--kubelet-client-key=${p('apiserver-kubelet-client.key')}`,
      `--kubelet-certificate-authority=${p('ca.crt')}`, '--kubelet-preferred-address-types=InternalIP',
      // Webhooks are called at their Service's endpoint IPs (pods on the bridge), so no DNS is needed.
      '--enable-aggregator-routing=true', '--allow-privileged=true', '--profiling=false', '--event-ttl=2h'],
  };
}

export function controllerManager(layout: ClusterLayout, bin: Binaries, kubeconfig: string): ComponentSpec {
  const p = (name: string): string => `${layout.pki}/${name}`;
  return {
    name: 'kube-controller-manager',
    argv: [`${bin.kubernetes}/kube-controller-manager`, `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`,
      '--bind-address=127.0.0.1', '--secure-port=10257', '--leader-elect=false',
      `--service-account-private-key-file=${p('sa.key')}`, `--root-ca-file=${p('ca.crt')}`, '--use-service-account-credentials=true',
      `--cluster-signing-cert-file=${p('ca.crt')}`, `--cluster-signing-key-file=${p('ca.key')}`,
      // All of them: service accounts, namespaces, the garbage collector (retention), the PV binder, deployments.
      '--controllers=*', '--profiling=false'],
  };
}

export function scheduler(bin: Binaries, kubeconfig: string): ComponentSpec {
  return {
    name: 'kube-scheduler',
    argv: [`${bin.kubernetes}/kube-scheduler`, `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`,
      '--bind-address=127.0.0.1', '--secure-port=10259', '--leader-elect=false', '--profiling=false'],
  };
}

export function kubeProxy(layout: ClusterLayout, bin: Binaries): ComponentSpec {
  return { name: 'kube-proxy', argv: [`${bin.kubernetes}/kube-proxy`, `--config=${layout.kubeProxyConfig}`] };
}

export function containerd(node: NodeLayout): ComponentSpec {
  return { name: `containerd-${node.name}`, argv: [PROGRAMS.containerd, '--config', node.containerdConfig] };
}

export function kubelet(node: NodeLayout, bin: Binaries, kubeconfig: string): ComponentSpec {
  return {
    name: `kubelet-${node.name}`,
    argv: [`${bin.kubernetes}/kubelet`, `--config=${node.kubeletConfig}`, `--kubeconfig=${kubeconfig}`,
      `--root-dir=${node.kubeletRoot}`, `--cert-dir=${node.kubeletRoot}/pki`,
      `--hostname-override=${node.name}`, `--node-ip=${node.ip}`, '--v=1'],
  };
}

export function csiDriver(node: NodeLayout, bin: Binaries, driver: CsiDriver): ComponentSpec {
  return {
    name: `csi-${driver.short}-${node.name}`,
    argv: [`${bin.node}/tlr-csi-hostpath`, `--name=${driver.name}`, `--endpoint=${csiSocket(node, driver.name)}`,
      `--data-root=${node.csiData}/${driver.name}`, `--node-id=${node.name}`,
      `--registration-dir=${node.kubeletRoot}/plugins_registry`],
  };
}

/** One provisioner per node and driver (`--node-deployment`): it provisions the PVCs the scheduler put on its node. */
export function csiProvisioner(node: NodeLayout, bin: Binaries, driver: CsiDriver, kubeconfig: string): ComponentSpec {
  return {
    name: `csi-provisioner-${driver.short}-${node.name}`,
    argv: [`${bin.node}/csi-provisioner`, `--csi-address=${csiSocket(node, driver.name)}`, `--kubeconfig=${kubeconfig}`,
      '--node-deployment=true', '--feature-gates=Topology=true', '--leader-election=false', '--timeout=30s',
      '--extra-create-metadata', '--v=2'],
    env: { NODE_NAME: node.name },
  };
}

export function socketForward(layout: ClusterLayout): ComponentSpec {
  return { name: 'api-forward', argv: [process.execPath, SOCKET_FORWARD, layout.apiSocket, '127.0.0.1', String(API_PORT)] };
}


/** The read-only test registry serving `images` (archive and the name it is served as, `<REGISTRY_ADDRESS>/…:<tag>`). */
export function imageRegistry(images: ReadonlyArray<{ readonly file: string; readonly served: string }>): ComponentSpec {
  const specs = images.map((i) => `${i.file}=${i.served.slice(REGISTRY_ADDRESS.length + 1)}`);
  return { name: 'image-registry', argv: [process.execPath, OCI_REGISTRY, '--listen', REGISTRY_ADDRESS, ...specs] };
}
