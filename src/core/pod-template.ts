/**
 * The admin's optional `fsGroup` (config key `fsGroup`) for the pods of opted-in runs. A new volume's root is usually
 * owned by root with mode 0755, and `tlr-prepare` runs as a non-root user: with an fsGroup the kubelet makes the volume
 * group-writable for the pod (CSI drivers with `fsGroupPolicy` File or ReadWriteOnceWithFSType). A run that sets its
 * own fsGroup keeps it. `OnRootMismatch` avoids a recursive chown of a volume that already has the right group.
 */
type PodTemplate = Record<string, unknown> & { securityContext?: Record<string, unknown> };

export function withFsGroup(template: PodTemplate | undefined, fsGroup: number | undefined): PodTemplate | undefined {
  if (fsGroup === undefined || template?.securityContext?.fsGroup !== undefined) return template;
  const securityContext = { ...template?.securityContext, fsGroup, fsGroupChangePolicy: template?.securityContext?.fsGroupChangePolicy ?? 'OnRootMismatch' };
  return { ...template, securityContext };
}
