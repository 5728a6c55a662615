import type { V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { ANNOTATION_RESULT_VOLUME, LABEL_PIPELINE_RUN_UID, PREFIX } from '../api/names.js';
import type { PipelineRun } from '../api/tekton.js';
import type { Config } from '../core/config.js';
import type { FeatureFlags } from '../core/feature-flags.js';
import { isConflict, isNotFound, statusCode, type Clients } from '../k8s/api.js';
import type { EventRecorder } from './events.js';
import type { ControllerMetrics } from './metrics.js';

/** The label the rewrite puts on the volumeClaimTemplate of a run's result workspace (Tekton copies it to the PVC). */
export const LABEL_RESULT_VOLUME = `${PREFIX}/result-volume`;

export interface ReconcilerDeps {
  readonly clients: Clients;
  readonly settings: { config(namespace: string): Config; featureFlags(): FeatureFlags };
  /** The informer's cached copy of a run. */
  readonly getRun: (namespace: string, name: string) => PipelineRun | undefined;
  readonly events: EventRecorder;
  readonly metrics: ControllerMetrics;
  readonly logger: Logger;
  readonly now?: () => Date;
}

/** What a reconcile asks of the queue: nothing, or to come back later. */
export interface Outcome {
  readonly result: 'retention' | 'skipped';
  readonly requeueAfterMs?: number;
}

/**
 * Level-triggered, idempotent reconcile of one opted-in PipelineRun. The rewrite itself happens at admission (Tekton
 * forbids changing a created run's spec; src/webhook/pipelinerun-admission.ts): what is left for a controller is
 * what happens after the run, the retention of its result volume. A finished run's result PVCs (the one Tekton made
 * from the run's volumeClaimTemplate, labelled `tlr.dev/result-volume` and owned by the run; or a claim provisioned
 * for it by an earlier version) are deleted at once (`retention: on-completion`) or after the configured time;
 * `with-run` leaves them to the garbage collector, which deletes them with the run. A PVC the user bound is never
 * touched: the rewrite binds it as is, without our label, and records it as `user-claim:<name>`.
 */
export class Reconciler {
  private readonly now: () => Date;

  constructor(private readonly deps: ReconcilerDeps) {
    this.now = deps.now ?? ((): Date => new Date());
  }

  async reconcile(namespace: string, name: string): Promise<Outcome> {
    const cached = this.deps.getRun(namespace, name);
    if (!cached || !isDone(cached)) return { result: 'skipped' };
    const policy = this.retentionPolicy(cached);
    if (!policy || policy.kind === 'with-run') return { result: 'skipped' };
    if (policy.kind === 'keep') {
      const wait = completionTime(cached, this.now()) + policy.seconds * 1000 - this.now().getTime();
      if (wait > 0) return { result: 'retention', requeueAfterMs: wait };
    }
    return this.apply(cached, namespace, policy);
  }

  /** Deletes the finished run's result PVCs, then releases those no running pod uses. */
  private async apply(cached: PipelineRun, namespace: string, policy: Config['retention']): Promise<Outcome> {
    const claims = await this.resultClaims(cached);
    const deleted: string[] = [];
    for (const pvc of claims.filter((c) => !isGoing(c))) {
      if (await this.deleteClaim(pvc)) deleted.push(pvc.metadata?.name ?? '');
    }
    const how = policy.kind === 'keep' ? `keep ${policy.seconds}s` : policy.kind;
    if (deleted.length > 0) await this.deps.events.record(cached, 'Normal', 'ResultVolumeDeleted', `deleted PVC ${deleted.join(', ')} (retention: ${how})`);
    // A deleted PVC stays Terminating while any pod names it, finished ones too (the pvc-protection controller counts
    // every scheduled pod), and Tekton keeps a run's pods: release the ones no running pod uses.
    // Listed again only when this reconcile deleted something (to see what the deletes left Terminating).
    const going = (deleted.length > 0 ? await this.resultClaims(cached) : claims).filter(isGoing);
    const held = await this.release(cached, namespace, going);
    if (held.length > 0) return { result: 'retention', requeueAfterMs: RELEASE_RETRY_MS };
    return deleted.length > 0 ? { result: 'retention' } : { result: 'skipped' };
  }

  /**
   * For each deleted result PVC still held by `kubernetes.io/pvc-protection`: when no pod that names it is still
   * running (pending or running: a `tlr fetch` reader, a task retried late), the finalizer is removed — what Tekton does
   * for its own volumeClaimTemplate PVCs with `coschedule: pipelineruns` — so the PVC and, through the provisioner, its
   * volume go now rather than when the run's pods are deleted. Returns the claims still in use.
   */
  private async release(run: PipelineRun, namespace: string, terminating: readonly V1PersistentVolumeClaim[]): Promise<string[]> {
    const protectedClaims = terminating.filter((pvc) => pvc.metadata?.finalizers?.includes(PVC_PROTECTION));
    if (protectedClaims.length === 0) return [];
    const pods = (await this.deps.clients.core.listNamespacedPod({ namespace })).items;
    const held: string[] = [];
    for (const pvc of protectedClaims) {
      const name = pvc.metadata?.name ?? '';
      const users = pods.filter((pod) => !isTerminal(pod) && pod.spec?.volumes?.some((v) => v.persistentVolumeClaim?.claimName === name));
      if (users.length > 0) {
        held.push(name);
        this.deps.logger.info({ run: `${namespace}/${run.metadata?.name ?? ''}`, pvc: name, pods: users.map((p) => p.metadata?.name) }, 'deleted PVC still used by a running pod; waiting');
        continue;
      }
      const finalizers = pvc.metadata?.finalizers ?? [];
      try {
        await this.deps.clients.core.patchNamespacedPersistentVolumeClaim({
          namespace, name,
          body: [
            { op: 'test', path: '/metadata/uid', value: pvc.metadata?.uid },
            { op: 'test', path: '/metadata/finalizers', value: finalizers },
            { op: 'replace', path: '/metadata/finalizers', value: finalizers.filter((f) => f !== PVC_PROTECTION) },
          ],
        });
      } catch (err) {
        if (isNotFound(err)) continue;
        // Changed meanwhile (a JSON patch test failing is 422; a conflict 409): look again shortly.
        if (isConflict(err) || statusCode(err) === 422) {
          held.push(name);
          continue;
        }
        throw err;
      }
      await this.deps.events.record(run, 'Normal', 'ResultVolumeReleased', `released PVC ${name}: no running pod uses it (removed the ${PVC_PROTECTION} finalizer)`);
    }
    return held;
  }

  /** The run's result PVCs that exist and are ours for this run, Terminating ones included. */
  private async resultClaims(run: PipelineRun): Promise<V1PersistentVolumeClaim[]> {
    const namespace = run.metadata?.namespace ?? 'default';
    const uid = run.metadata?.uid ?? '';
    const list = await this.deps.clients.core.listNamespacedPersistentVolumeClaim({ namespace, labelSelector: LABEL_RESULT_VOLUME });
    const fromTemplate = list.items.filter((pvc) => pvc.metadata?.ownerReferences?.some((o) => o.uid === uid && o.kind === 'PipelineRun'));
    const provisioned = await this.provisionedClaim(run);
    return [...fromTemplate, ...(provisioned ? [provisioned] : [])];
  }

  /** A claim an earlier version provisioned (`provisioned:<name>`), if it is still there and labelled with the run's uid. */
  private async provisionedClaim(run: PipelineRun): Promise<V1PersistentVolumeClaim | undefined> {
    const volume = run.metadata?.annotations?.[ANNOTATION_RESULT_VOLUME] ?? '';
    if (!volume.startsWith('provisioned:')) return undefined;
    try {
      const pvc = await this.deps.clients.core.readNamespacedPersistentVolumeClaim({ namespace: run.metadata?.namespace ?? 'default', name: volume.slice('provisioned:'.length) });
      return pvc.metadata?.labels?.[LABEL_PIPELINE_RUN_UID] === run.metadata?.uid ? pvc : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Deletes exactly this PVC (uid precondition); false if it was already gone or replaced. */
  private async deleteClaim(pvc: V1PersistentVolumeClaim): Promise<boolean> {
    const { namespace = 'default', name = '', uid = '' } = pvc.metadata ?? {};
    try {
      await this.deps.clients.core.deleteNamespacedPersistentVolumeClaim({ namespace, name, body: { preconditions: { uid } } });
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return false;
      throw err;
    }
    this.deps.metrics.deleted.inc();
    return true;
  }

  /** The namespace's retention policy; undefined when the config is invalid (an invalid config deletes nothing). */
  private retentionPolicy(run: PipelineRun): Config['retention'] | undefined {
    try {
      return this.deps.settings.config(run.metadata?.namespace ?? 'default').retention;
    } catch {
      return undefined;
    }
  }
}

/** The finalizer the API server puts on every PVC; the pvc-protection controller removes it once no scheduled pod names the claim. */
export const PVC_PROTECTION = 'kubernetes.io/pvc-protection';
/** How soon to look again at a deleted PVC a running pod still uses. */
export const RELEASE_RETRY_MS = 15_000;

/** Deleted already (Terminating, held by a finalizer). */
function isGoing(pvc: V1PersistentVolumeClaim): boolean {
  return pvc.metadata?.deletionTimestamp !== undefined;
}

function isTerminal(pod: V1Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

/** When the run completed (Tekton's status.completionTime), or now if Tekton did not record it. */
function completionTime(run: PipelineRun, now: Date): number {
  const value = (run.status as { completionTime?: unknown } | undefined)?.completionTime;
  const parsed = typeof value === 'string' ? Date.parse(value) : value instanceof Date ? value.getTime() : NaN;
  return Number.isNaN(parsed) ? now.getTime() : parsed;
}

/** An expected transient failure (409 and the like): retried with backoff, logged quietly. */
export class RetryableError extends Error {
  override readonly name = 'RetryableError';
}

export function isDone(run: PipelineRun): boolean {
  const conditions = (run.status as { conditions?: Array<{ type?: string; status?: string }> } | undefined)?.conditions ?? [];
  return conditions.some((c) => c.type === 'Succeeded' && (c.status === 'True' || c.status === 'False'));
}

/** Whether a change to this run may need the controller (cheap pre-filter for informer events): a finished run. */
export function isInteresting(run: PipelineRun): boolean {
  return isDone(run);
}
