/**
 * Storage as admins set it up: CSI drivers registered with each kubelet, a CSIDriver object each, and a StorageClass
 * each with `volumeBindingMode: WaitForFirstConsumer` (the volume is made on the node the first pod is scheduled to).
 * Two drivers differ only in their CSIDriver's `fsGroupPolicy`, which decides whether the kubelet applies a pod's
 * `fsGroup` to the volume: `File` (always; the CSI reference hostpath driver's setting) and the API default
 * `ReadWriteOnceWithFSType` (only for ReadWriteOnce volumes with an fsType, which a directory-backed volume has not).
 */
export interface CsiDriver {
  readonly name: string;
  /** For process names. */
  readonly short: string;
  readonly storageClass: string;
  /** Undefined: the API server's default, ReadWriteOnceWithFSType. */
  readonly fsGroupPolicy?: 'File' | 'None';
  readonly isDefaultClass: boolean;
}

export const CSI_DRIVERS: readonly CsiDriver[] = [
  { name: 'hostpath.csi.tlr.dev', short: 'hostpath', storageClass: 'tlr-hostpath', fsGroupPolicy: 'File', isDefaultClass: true },
  { name: 'hostpath-fsgroup-default.csi.tlr.dev', short: 'hostpath-default', storageClass: 'tlr-hostpath-default-policy', isDefaultClass: false },
];

export function storageManifests(drivers: readonly CsiDriver[] = CSI_DRIVERS): string {
  return drivers.map((d) => `apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata:
  name: ${d.name}
spec:
  attachRequired: false
  podInfoOnMount: false
  volumeLifecycleModes: [Persistent]${d.fsGroupPolicy ? `\n  fsGroupPolicy: ${d.fsGroupPolicy}` : ''}
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: ${d.storageClass}${d.isDefaultClass ? '\n  annotations:\n    storageclass.kubernetes.io/is-default-class: "true"' : ''}
provisioner: ${d.name}
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
`).join('---\n');
}
