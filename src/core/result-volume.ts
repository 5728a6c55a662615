import { PREFIX, TASK_WORKSPACE, VIEW_WORKSPACES } from '../api/names.js';
import type { PipelineSpec, PipelineTask, WorkspaceBinding } from '../api/tekton.js';
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
 * `shared`: the workspace is one the tasks bind themselves (sharedResultWorkspace).
 */
export function bindResultWorkspace(
  bindings: WorkspaceBinding[],
  name: string,
  provisioned: string | undefined,
  config: Config,
  path: string,
  diags: Diagnostics,
  shared?: boolean,
): { bindings: WorkspaceBinding[]; volume: ResultVolume } {
  const index = bindings.findIndex((b) => b.name === name);
  const existing = bindings[index];
  if (existing) {
    const claim = existing.persistentVolumeClaim?.claimName;
    if (claim !== undefined) {
      // On a shared workspace the tasks mount the claim whole anyway: another workspace naming it gives them nothing more.
      if (shared !== true) refuseAliases(bindings, index, claim, path, diags);
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

/** A PVC-backed binding's identity as Tekton counts PVCs (`ValidateOnlyOnePVCIsUsed`): its claim, or its template's workspace. */
function pvcIdentity(byName: ReadonlyMap<string, WorkspaceBinding>, workspace: string): string | undefined {
  const b = byName.get(workspace);
  if (b?.persistentVolumeClaim) return `claim "${b.persistentVolumeClaim.claimName}"`;
  if (b?.volumeClaimTemplate) return `a volumeClaimTemplate (${workspace})`;
  return undefined;
}

function bindingsByName(bindings: readonly WorkspaceBinding[]): Map<string, WorkspaceBinding> {
  const byName = new Map<string, WorkspaceBinding>();
  for (const b of bindings) if (!byName.has(b.name)) byName.set(b.name, b);
  return byName;
}

/** The run's workspace that will hold its results on a volume the tasks already share (see sharedResultWorkspace). */
export interface SharedWorkspace {
  readonly workspace: string;
  /** The pipeline tasks (of those storing or reading results by reference) that bind it under names of their own. */
  readonly mountedBy: readonly string[];
  /** The user's own claim (results stay on it after the run), or undefined for a volumeClaimTemplate. */
  readonly claim?: string;
}

/**
 * Under `coschedule: workspaces` a TaskRun may bind one PVC. When the pipeline tasks that store or read results by
 * reference (`touched`) bind PVC-backed workspaces of exactly one volume between them (the common shape: a source
 * workspace every task shares), a provisioned result volume would be a second PVC in each of them and Tekton would
 * fail the run; the results go on that volume instead, in the run's directory. Undefined when they bind none (a
 * provisioned volume is no second one) or several (no choice works: checkCoschedule refuses with the fixes).
 */
export function sharedResultWorkspace(spec: PipelineSpec, bindings: readonly WorkspaceBinding[], touched: ReadonlySet<string>, flags: FeatureFlags): SharedWorkspace | undefined {
  if (flags.coschedule !== 'workspaces') return undefined;
  const byName = bindingsByName(bindings);
  const { volumes, mountedBy } = pvcWorkspacesOf([...(spec.tasks ?? []), ...(spec.finally ?? [])].filter((pt) => touched.has(pt.name)), byName);
  const [only] = volumes.values();
  if (volumes.size !== 1 || only === undefined) return undefined;
  const claim = byName.get(only)?.persistentVolumeClaim?.claimName;
  return { workspace: only, mountedBy: [...mountedBy], ...(claim !== undefined ? { claim } : {}) };
}

/** The PVC-backed volumes the tasks bind (identity → first workspace naming it), and the tasks binding one themselves. */
function pvcWorkspacesOf(tasks: readonly PipelineTask[], byName: ReadonlyMap<string, WorkspaceBinding>): { volumes: Map<string, string>; mountedBy: Set<string> } {
  const volumes = new Map<string, string>();
  const mountedBy = new Set<string>();
  for (const pt of tasks) {
    for (const w of pt.workspaces ?? []) {
      const workspace = w.workspace ?? w.name;
      const id = pvcIdentity(byName, workspace);
      if (id === undefined) continue;
      if (!volumes.has(id)) volumes.set(id, workspace);
      if (!VIEW_WORKSPACES.has(w.name)) mountedBy.add(pt.name);
    }
  }
  return { volumes, mountedBy };
}

/** What the author is told when the results go on a shared workspace: where, and what that gives up. */
export function warnShared(shared: SharedWorkspace, path: string, diags: Diagnostics): void {
  const tasks = shared.mountedBy.map((t) => `"${t}"`).join(', ');
  diags.warn(
    path,
    `tasks store results by reference and share workspace "${shared.workspace}" (${shared.claim !== undefined ? `claim "${shared.claim}"` : 'a volumeClaimTemplate'}); ` +
      "under Tekton's coschedule: workspaces a task may bind one PersistentVolumeClaim, so the results are stored on it, in the run's " +
      `directory (named by the run's uid) at its root. ${tasks || 'Its tasks'} mount it whole and could change or remove a sealed result (a task emptying the workspace, as ` +
      `git-clone's deleteExisting does, removes it): a consumer or tlr fetch would then refuse it (size and sha256) or name it missing, never use it.` +
      (shared.claim !== undefined ? ` The directory stays on claim "${shared.claim}" after the run; nothing removes it.` : '') +
      ' For a volume of their own, set coschedule to pipelineruns or isolate-pipelinerun in Tekton\'s feature-flags',
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
  const byName = bindingsByName(bindings);
  const rewritten = new Set(touched);
  for (const list of ['tasks', 'finally'] as const) {
    (spec[list] ?? []).forEach((pt, i) => {
      if (!rewritten.has(pt.name)) return;
      const claims = new Map<string, string[]>();
      for (const w of pt.workspaces ?? []) {
        const ws = w.workspace ?? w.name;
        const id = pvcIdentity(byName, ws);
        if (id === undefined) continue;
        claims.set(id, [...(claims.get(id) ?? []), ws]);
      }
      if (claims.size <= 1) return;
      const others = [...claims.entries()].filter(([, ws]) => !ws.includes(resultWorkspace)).map(([id, ws]) => `"${ws[0]}" (${id})`);
      diags.error(
        childPath(childPath(childPath(path, list), i), 'workspaces'),
        `pipeline task "${pt.name}" would bind ${claims.size} PersistentVolumeClaims: the result workspace "${resultWorkspace}" ` +
          `(as ${TASK_WORKSPACE}) and ${others.join(', ')}; Tekton's affinity assistant refuses that under coschedule: workspaces. ` +
          'Fix: let the tasks that store or read results by reference share one PVC-backed workspace and name no result workspace ' +
          '(the results then go on that volume), or set coschedule to pipelineruns, isolate-pipelinerun or disabled in Tekton\'s ' +
          'feature-flags ConfigMap',
      );
    });
  }
}
