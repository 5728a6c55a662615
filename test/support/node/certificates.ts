/**
 * The node cluster's credentials: the API server's serving certificate, one client certificate per component (each
 * with the identity Kubernetes' default RBAC expects: `system:kube-controller-manager`, `system:kube-scheduler`,
 * `system:kube-proxy`, `system:node:<name>` in `system:nodes`), each kubelet's serving certificate, the
 * service-account signing key, and a kubeconfig per component.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLIENT_EXTENSIONS, createPki, issueCert, openssl, servingExtensions, subject, type Pki } from '../pki.js';
import type { ClusterLayout } from './layout.js';
import { API_SERVICE_IP } from './netns.js';

/** Inside the namespace every component reaches the API server on loopback. */
export const API_PORT = 6443;
export const IN_NAMESPACE_SERVER = `https://127.0.0.1:${API_PORT}`;

export interface ClusterPki {
  readonly pki: Pki;
  readonly caPem: string;
  readonly admin: { certPem: string; keyPem: string };
  /** Component name → kubeconfig path (server: IN_NAMESPACE_SERVER). */
  readonly kubeconfigs: Readonly<Record<string, string>>;
  readonly file: (name: string) => string;
}

export function kubeconfigYaml(server: string, caFile: string, certFile: string, keyFile: string): string {
  return `apiVersion: v1
kind: Config
clusters:
  - name: tlr-node
    cluster: {certificate-authority: ${caFile}, server: "${server}"}
users:
  - name: user
    user: {client-certificate: ${certFile}, client-key: ${keyFile}}
contexts:
  - name: tlr-node
    context: {cluster: tlr-node, user: user}
current-context: tlr-node
`;
}

export function createClusterPki(layout: ClusterLayout): ClusterPki {
  const pki = createPki(layout.pki);
  const file = (name: string): string => join(layout.pki, name);
  const apiHosts = [
    '127.0.0.1', API_SERVICE_IP, ...layout.nodes.map((n) => n.ip),
    'localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local',
  ];
  issueCert(pki, 'apiserver', subject('kube-apiserver'), servingExtensions(apiHosts));
  issueCert(pki, 'apiserver-kubelet-client', subject('kube-apiserver-kubelet-client', ['system:masters']), CLIENT_EXTENSIONS);
  openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', file('sa.key')]);
  openssl(['pkey', '-in', file('sa.key'), '-pubout', '-out', file('sa.pub')]);

  const clients: Record<string, [cn: string, orgs: string[]]> = {
    admin: ['admin', ['system:masters']],
    'kube-controller-manager': ['system:kube-controller-manager', []],
    'kube-scheduler': ['system:kube-scheduler', []],
    'kube-proxy': ['system:kube-proxy', []],
    // The CSI external-provisioner is test infrastructure, not what is under test: it acts as an admin.
    'csi-provisioner': ['csi-provisioner', ['system:masters']],
  };
  for (const node of layout.nodes) {
    clients[`kubelet-${node.name}`] = [`system:node:${node.name}`, ['system:nodes']];
    issueCert(pki, `kubelet-serving-${node.name}`, subject(`system:node:${node.name}`, ['system:nodes']), servingExtensions([node.ip, node.name]));
  }
  const kubeconfigs: Record<string, string> = {};
  let admin = { certPem: '', keyPem: '' };
  for (const [name, [cn, orgs]] of Object.entries(clients)) {
    const issued = issueCert(pki, name, subject(cn, orgs), CLIENT_EXTENSIONS);
    if (name === 'admin') admin = issued;
    const path = file(`${name}.kubeconfig`);
    writeFileSync(path, kubeconfigYaml(IN_NAMESPACE_SERVER, pki.caCert, file(`${name}.crt`), file(`${name}.key`)));
    kubeconfigs[name] = path;
  }
  return { pki, caPem: readFileSync(pki.caCert, 'utf8'), admin, kubeconfigs, file };
}
