import { PREFIX, TASK_WORKSPACE } from '../api/names.js';
import type { PipelineSpec, WorkspaceBinding } from '../api/tekton.js';
import type { Config } from './config.js';
import type { Diagnostics } from './diagnostics.js';
import type { FeatureFlags } from './feature-flags.js';
import { childPath } from './json-walk.js';

/** Where a run's reference results live. */
export type ResultVolume =
  /** A PVC the controller provisioned for this run (owned by it). */
  | { readonly kind: 'provisioned'; readonly claimName: string }
  /** A PVC the user bound to the result workspace: never deleted by us. */
  | { readonly kind: 'user-claim'; readonly claimName: string }
  /** A volumeClaimTemplate: Tekton creates the PVC, owned by the run. */
  | { readonly kind: 'template' };

export function describeVolume(volume: ResultVolume): string {
  return volume.kind === 'template' ? 'template' : `${volume.kind}:${volume.claimName}`;
}

/** The volumeClaimTemplate a run gets when the admin's config provisions through Tekton. */
export function claimTemplate(config: Config): Record<string, unknown> {
  return {
    metadata: { labels: { [`${PREFIX}/result-volume`]: 'true' } },
    spec: {
      accessModes: [...config.accessModes],
      ...(config.storageClassName !== '' ? { storageClassName: config.storageClassName } : {}),
      resources: { requests: { storage: config.size } },
    },
  };
}

/**
 * Binds the run's result workspace: keeps a PVC or volumeClaimTemplate the user bound, refuses any other volume
 * type, otherwise binds the provisioned claim (controller) or a claim template from config (offline / webhook).
 */
export function bindResultWorkspace(
  bindings: WorkspaceBinding[],
  name: string,
  provisioned: string | undefined,
  config: Config,
  path: string,
  diags: Diagnostics,
): { bindings: WorkspaceBinding[]; volume: ResultVolume } {
  const index = bindings.findIndex((b) => b.name === name);
  const existing = bindings[index];
  if (existing) {
    const claim = existing.persistentVolumeClaim?.claimName;
    if (claim !== undefined) {
      refuseAliases(bindings, index, claim, path, diags);
      // The controller's own claim, bound by an earlier pass, stays "provisioned": it is ours to clean up.
      return { bindings, volume: { kind: claim === provisioned ? 'provisioned' : 'user-claim', claimName: claim } };
    }
    if (existing.volumeClaimTemplate) return { bindings, volume: { kind: 'template' } };
    const found = Object.keys(existing).filter((k) => k !== 'name' && k !== 'subPath').join(', ') || 'nothing';
    diags.error(
      childPath(childPath(path, 'workspaces'), index),
      `the result workspace "${name}" must be bound to a persistentVolumeClaim or a volumeClaimTemplate, so every task ` +
        `of the run sees the same files; found ${found}. Bind a PVC, or leave it unbound and one is provisioned`,
    );
    return { bindings, volume: { kind: 'template' } };
  }
  if (provisioned !== undefined) {
    return {
      bindings: [...bindings, { name, persistentVolumeClaim: { claimName: provisioned } }],
      volume: { kind: 'provisioned', claimName: provisioned },
    };
  }
  return { bindings: [...bindings, { name, volumeClaimTemplate: claimTemplate(config) }], volume: { kind: 'template' } };
}

/**
 * The result claim bound a second time, under another workspace name, would let the tasks given that workspace mount
 * the whole volume read-write and change any task's results: refused, naming both bindings.
 */
function refuseAliases(bindings: readonly WorkspaceBinding[], index: number, claim: string, path: string, diags: Diagnostics): void {
  const result = bindings[index]?.name ?? '';
  bindings.forEach((b, i) => {
    if (i === index || b.persistentVolumeClaim?.claimName !== claim) return;
    diags.error(
      childPath(childPath(path, 'workspaces'), i),
      `workspace "${b.name}" binds claim "${claim}", which is the result workspace "${result}"'s claim; the tasks given ` +
        `"${b.name}" would mount the result volume whole and could change other tasks' results. Expected the result ` +
        `claim bound once; bind "${b.name}" to another claim`,
    );
  });
}

/**
 * With Tekton's affinity assistant off (`coschedule: disabled`), the run's pods are placed one by one: tasks running
 * at the same time on two nodes cannot both mount a ReadWriteOnce volume (the second waits on a Multi-Attach error)
 * unless the volume's driver pins them to its node. A warning, naming the fix, when the run gets a ReadWriteOnce
 * volume from the config.
 */
export function warnUnplacedReadWriteOnce(bindings: readonly WorkspaceBinding[], workspace: string, flags: FeatureFlags, path: string, diags: Diagnostics): void {
  if (flags.coschedule !== 'disabled') return;
  const template = bindings.find((b) => b.name === workspace)?.volumeClaimTemplate as { spec?: { accessModes?: unknown } } | undefined;
  const modes = template?.spec?.accessModes;
  // A claim the user bound: its access modes are not known here.
  if (!Array.isArray(modes) || modes.includes('ReadWriteMany') || !modes.includes('ReadWriteOnce')) return;
  diags.warn(
    path,
    "Tekton's feature-flags set coschedule: disabled and the result volume is ReadWriteOnce: tasks running at the same " +
      'time on different nodes cannot both mount it (Multi-Attach), unless its CSI driver keeps pods on the volume\'s ' +
      'node. Set coschedule to workspaces or pipelineruns, or use ReadWriteMany (tlr-config accessModes) with a driver that supports it',
  );
}

/**
 * Under Tekton's default `coschedule: workspaces` a TaskRun may bind only one distinct PVC. Refuses, with the fix,
 * every rewritten pipeline task that would bind the result volume and another PVC.
 */
export function checkCoschedule(
  spec: PipelineSpec,
  bindings: readonly WorkspaceBinding[],
  resultWorkspace: string,
  touched: readonly string[],
  flags: FeatureFlags,
  path: string,
  diags: Diagnostics,
): void {
  if (flags.coschedule !== 'workspaces') return;
  const byName = new Map<string, WorkspaceBinding>();
  for (const b of bindings) if (!byName.has(b.name)) byName.set(b.name, b);
  const rewritten = new Set(touched);
  const identity = (workspace: string): string | undefined => {
    const b = byName.get(workspace);
    if (b?.persistentVolumeClaim) return `claim "${b.persistentVolumeClaim.claimName}"`;
    if (b?.volumeClaimTemplate) return `a volumeClaimTemplate`;
    return undefined;
  };
  for (const list of ['tasks', 'finally'] as const) {
    (spec[list] ?? []).forEach((pt, i) => {
      if (!rewritten.has(pt.name)) return;
      const claims = new Map<string, string[]>();
      for (const w of pt.workspaces ?? []) {
        const ws = w.workspace ?? w.name;
        const id = identity(ws);
        if (id === undefined) continue;
        const key = id.startsWith('claim') ? id : `${id} (${ws})`;
        claims.set(key, [...(claims.get(key) ?? []), ws]);
      }
      if (claims.size <= 1) return;
      const others = [...claims.entries()].filter(([, ws]) => !ws.includes(resultWorkspace)).map(([id, ws]) => `"${ws[0]}" (${id})`);
      diags.error(
        childPath(childPath(childPath(path, list), i), 'workspaces'),
        `pipeline task "${pt.name}" would bind ${claims.size} PersistentVolumeClaims: the result workspace "${resultWorkspace}" ` +
          `(as ${TASK_WORKSPACE}) and ${others.join(', ')}; Tekton's affinity assistant refuses that under coschedule: workspaces. ` +
          `Fix: make ${others[0]?.split(' ')[0] ?? 'that workspace'} the result workspace (annotation tlr.dev/result-workspace), ` +
          `or set coschedule to pipelineruns, isolate-pipelinerun or disabled in Tekton's feature-flags ConfigMap`,
      );
    });
  }
}
