import type { V1PersistentVolumeClaim } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  ANNOTATION_HOLD,
  ANNOTATION_RESULT_VOLUME,
  ANNOTATION_REWRITTEN,
  HOLD_CONTROLLER,
  LABEL_MANAGED_BY,
  LABEL_PIPELINE_RUN_UID,
  MANAGED_BY,
  PIPELINE_RUN_PENDING,
  REASON_REFUSED,
  REWRITE_VERSION,
} from '../api/names.js';
import { describeObject, type PipelineRun } from '../api/tekton.js';
import type { Config } from '../core/config.js';
import type { FeatureFlags } from '../core/feature-flags.js';
import { admissionOptIn } from '../core/admission-opt-in.js';
import { rewritePipelineRun } from '../core/pipeline-run.js';
import { formatDiagnostic, RewriteError, TlrError } from '../errors.js';
import type { Resolver } from '../core/resolver.js';
import { apiMessage, isConflict, isNotFound, isRefusedObject, TEKTON, type Clients } from '../k8s/api.js';
import { shapeProblems } from '../core/shape/check-object.js';
import type { EventRecorder } from './events.js';
import type { ControllerMetrics } from './metrics.js';
import { ownerReference, RefFetcher } from './refs.js';


export interface ReconcilerDeps {
  readonly clients: Clients;
  readonly settings: { config(namespace: string): Config; featureFlags(): FeatureFlags };
  /** The informer's cached copy of a run (may be stale: writes carry its resourceVersion, a 409 retries). */
  readonly getRun: (namespace: string, name: string) => PipelineRun | undefined;
  readonly events: EventRecorder;
  readonly metrics: ControllerMetrics;
  readonly logger: Logger;
  readonly now?: () => Date;
}

interface Settings {
  readonly config: Config;
  readonly featureFlags: FeatureFlags;
}

/** What a reconcile asks of the queue: nothing, or to come back later. */
export interface Outcome {
  readonly result: 'rewritten' | 'refused' | 'waiting' | 'retention' | 'skipped';
  readonly requeueAfterMs?: number;
}

/**
 * Level-triggered, idempotent reconcile of one PipelineRun. Every step can be interrupted and redone: the PVC and any
 * ResolutionRequest have names derived from the run's uid (a retry finds what an earlier attempt created), and the
 * rewritten spec, its annotations and the release of the hold are written in one update guarded by resourceVersion.
 * No rewrite logic lives here: the rewrite is the pure `rewritePipelineRun`.
 */
export class Reconciler {
  private readonly refs: RefFetcher;
  private readonly now: () => Date;

  constructor(private readonly deps: ReconcilerDeps) {
    this.refs = new RefFetcher(deps.clients);
    this.now = deps.now ?? ((): Date => new Date());
  }

  async reconcile(namespace: string, name: string): Promise<Outcome> {
    const cached = this.deps.getRun(namespace, name);
    if (!cached) return { result: 'skipped' };
    const run: PipelineRun = { ...cached, apiVersion: 'tekton.dev/v1', kind: 'PipelineRun' };
    if (isDone(run)) return this.retention(run);
    if (isHeldRewritten(run)) return this.releaseOnly(run);
    if (!needsRewrite(run)) return { result: 'skipped' };
    try {
      const settings = await this.configFor(run);
      if (!settings) return { result: 'waiting' };
      const malformed = shapeProblems(run, 'PipelineRun', describeObject(run));
      if (malformed.length > 0) return await this.refuse(run, malformed.map(formatDiagnostic).join('\n'));
      const fetched = await this.refs.fetch(run);
      if (fetched.kind === 'waiting') return { result: 'waiting', requeueAfterMs: 30_000 };
      if (fetched.kind === 'failed') return this.refuse(run, `${describeObject(run)}: ${fetched.field}: ${fetched.message}`);
      return await this.rewrite(run, settings, fetched.resolver);
    } catch (err) {
      // Not a conflict: something the run's author or an admin may need to see (a quota, a missing permission, the
      // API server failing). The run stays held and is retried with backoff; the event says why it waits.
      if (!(err instanceof RetryableError)) {
        await this.deps.events.record(run, 'Warning', 'RetryingAfterError', `the run stays held and will be retried: ${apiMessage(err)}`);
      }
      throw err;
    }
  }

  /**
   * The config for the run's namespace and Tekton's feature flags; undefined (with a Warning event) while either
   * ConfigMap is invalid. Not the run's fault, so it waits: a ConfigMap change requeues every run.
   */
  private async configFor(run: PipelineRun): Promise<Settings | undefined> {
    try {
      return { config: this.deps.settings.config(run.metadata?.namespace ?? 'default'), featureFlags: this.deps.settings.featureFlags() };
    } catch (err) {
      if (!(err instanceof TlrError)) throw err;
      await this.deps.events.record(run, 'Warning', 'ConfigInvalid', `the run waits until the configuration is fixed: ${err.message}`);
      return undefined;
    }
  }

  /** The pure rewrite, the PVC it needs, then one guarded update that writes the result back and releases the hold. */
  private async rewrite(run: PipelineRun, { config, featureFlags }: Settings, resolver: Resolver): Promise<Outcome> {
    const claim = claimName(run);
    let rewritten: PipelineRun;
    try {
      rewritten = rewritePipelineRun(run, { config, featureFlags, resolver, provisionedClaim: claim }).object;
    } catch (err) {
      if (err instanceof RewriteError) return this.refuse(run, err.message);
      // The rewrite is pure: the same run gives the same failure however often it is retried.
      this.deps.logger.error({ pipelineRun: describeObject(run), err }, 'Failed rewriting run');
      return this.refuse(run, `${describeObject(run)}: the rewrite failed on this run (an internal error, logged by the controller: ${(err as Error).message}); report it to the cluster's admin`);
    }
    const provisioned = rewritten.metadata?.annotations?.[ANNOTATION_RESULT_VOLUME] === `provisioned:${claim}`;
    if (provisioned) {
      const problem = await this.ensureClaim(run, claim, config);
      if (problem !== undefined) return this.refuse(run, `${describeObject(run)}: ${problem}`);
    }
    const updated = release(rewritten);
    const refused = await this.replace(updated, 'updating');
    if (refused !== undefined) return this.refuse(run, `${describeObject(run)}: the API server refused the rewritten run: ${refused}`);
    const released = run.spec.status === PIPELINE_RUN_PENDING && updated.spec.status === undefined;
    const where = provisioned ? `PVC ${claim} (class ${config.storageClassName || '(default)'}, ${config.size})` : rewritten.metadata?.annotations?.[ANNOTATION_RESULT_VOLUME] ?? 'the result volume';
    await this.deps.events.record(run, 'Normal', 'Rewritten', `results stored by reference on ${where}${released ? '; hold released' : '; the run stays pending (held by its author)'}`);
    return { result: 'rewritten' };
  }

  /**
   * Replaces the run (spec and metadata), guarded by its resourceVersion; a conflict is retried from fresh state.
   * Returns the API server's message when it refused the object itself (validation, Tekton's webhook, a policy): the
   * run's fault, which no retry changes.
   */
  private async replace(run: PipelineRun, what: string): Promise<string | undefined> {
    const { namespace = 'default', name = '' } = run.metadata ?? {};
    try {
      await this.deps.clients.custom.replaceNamespacedCustomObject({ ...TEKTON, namespace, plural: 'pipelineruns', name, body: run });
      return undefined;
    } catch (err) {
      if (isConflict(err) || isNotFound(err)) throw new RetryableError(`${what} ${namespace}/${name}: ${apiMessage(err)}`);
      if (isRefusedObject(err)) return apiMessage(err);
      throw err;
    }
  }

  /** A run admitted already rewritten (e.g. the output of `tlr render` applied as is): nothing to do but release. */
  private async releaseOnly(run: PipelineRun): Promise<Outcome> {
    const refused = await this.replace(release(run), 'releasing');
    if (refused !== undefined) return this.refuse(run, `${describeObject(run)}: the API server refused the released run: ${refused}`);
    await this.deps.events.record(run, 'Normal', 'Released', 'the run was admitted already rewritten; hold released');
    return { result: 'rewritten' };
  }

  /** Creates the run's result PVC, or accepts the one an earlier attempt created. Returns a problem, if any. */
  private async ensureClaim(run: PipelineRun, claim: string, config: Config): Promise<string | undefined> {
    const namespace = run.metadata?.namespace ?? 'default';
    const body: V1PersistentVolumeClaim = {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name: claim,
        namespace,
        labels: {
          [LABEL_MANAGED_BY]: MANAGED_BY,
          [LABEL_PIPELINE_RUN_UID]: run.metadata?.uid ?? '',
          'tekton.dev/pipelineRun': run.metadata?.name ?? '',
        },
        ownerReferences: [ownerReference(run)],
      },
      spec: {
        accessModes: [...config.accessModes],
        resources: { requests: { storage: config.size } },
        volumeMode: 'Filesystem',
        ...(config.storageClassName !== '' ? { storageClassName: config.storageClassName } : {}),
      },
    };
    try {
      await this.deps.clients.core.createNamespacedPersistentVolumeClaim({ namespace, body });
      this.deps.metrics.provisioned.inc();
      return undefined;
    } catch (err) {
      if (!isConflict(err)) throw new Error(`creating PersistentVolumeClaim ${namespace}/${claim}: ${apiMessage(err)}`, { cause: err });
    }
    const existing = await this.deps.clients.core.readNamespacedPersistentVolumeClaim({ namespace, name: claim });
    if (existing.metadata?.labels?.[LABEL_PIPELINE_RUN_UID] === run.metadata?.uid) return undefined;
    return `spec.workspaces: expected PersistentVolumeClaim ${namespace}/${claim} to be free for the run's results, found one not created for this run; delete or rename it`;
  }

  /** Fails the run with the rewrite's message: Succeeded=False, so Tekton never starts it and nothing retries. */
  private async refuse(run: PipelineRun, message: string): Promise<Outcome> {
    const now = this.now().toISOString();
    const status = (run.status ?? {}) as Record<string, unknown>;
    const body = {
      ...run,
      status: {
        ...status,
        startTime: status.startTime ?? now,
        completionTime: now,
        conditions: [{ type: 'Succeeded', status: 'False', reason: REASON_REFUSED, message: truncate(message, 16_384), lastTransitionTime: now }],
      },
    };
    const { namespace = 'default', name = '' } = run.metadata ?? {};
    try {
      await this.deps.clients.custom.replaceNamespacedCustomObjectStatus({ ...TEKTON, namespace, plural: 'pipelineruns', name, body });
    } catch (err) {
      if (isConflict(err) || isNotFound(err)) throw new RetryableError(`failing ${namespace}/${name}: ${apiMessage(err)}`);
      throw err;
    }
    await this.deps.events.record(run, 'Warning', REASON_REFUSED, truncate(message, 1024));
    return { result: 'refused' };
  }

  /** After completion: delete the PVC we provisioned, at once or after the configured time. Never a user's PVC. */
  private async retention(run: PipelineRun): Promise<Outcome> {
    const claim = claimName(run);
    if (run.metadata?.annotations?.[ANNOTATION_RESULT_VOLUME] !== `provisioned:${claim}`) return { result: 'skipped' };
    const policy = this.retentionPolicy(run);
    if (!policy || policy.kind === 'with-run') return { result: 'skipped' };
    if (policy.kind === 'keep') {
      const wait = completionTime(run, this.now()) + policy.seconds * 1000 - this.now().getTime();
      if (wait > 0) return { result: 'retention', requeueAfterMs: wait };
    }
    const pvc = await this.ownClaim(run, claim);
    if (!pvc || !(await this.deleteClaim(pvc))) return { result: 'skipped' };
    const how = policy.kind === 'keep' ? `keep ${policy.seconds}s` : policy.kind;
    await this.deps.events.record(run, 'Normal', 'ResultVolumeDeleted', `deleted PVC ${claim} (retention: ${how})`);
    return { result: 'retention' };
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

  /** The run's provisioned PVC if it exists, is ours (labelled with the run's uid) and is not already going. */
  private async ownClaim(run: PipelineRun, claim: string): Promise<V1PersistentVolumeClaim | undefined> {
    let pvc: V1PersistentVolumeClaim;
    try {
      pvc = await this.deps.clients.core.readNamespacedPersistentVolumeClaim({ namespace: run.metadata?.namespace ?? 'default', name: claim });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    const ours = pvc.metadata?.labels?.[LABEL_PIPELINE_RUN_UID] === run.metadata?.uid;
    return ours && pvc.metadata?.deletionTimestamp === undefined ? pvc : undefined;
  }
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

/** A run the controller must rewrite: pending (held by us or by its author), opted in, not yet rewritten. */
export function needsRewrite(run: PipelineRun): boolean {
  if (run.metadata?.annotations?.[ANNOTATION_REWRITTEN] !== undefined) return false;
  if (run.spec?.status !== PIPELINE_RUN_PENDING) return false;
  return run.metadata?.annotations?.[ANNOTATION_HOLD] === HOLD_CONTROLLER || admissionOptIn(run).optedIn;
}

/** Rewritten before admission but held by the webhook: only the release is left to do. */
export function isHeldRewritten(run: PipelineRun): boolean {
  return (
    run.metadata?.annotations?.[ANNOTATION_REWRITTEN] !== undefined &&
    run.metadata.annotations[ANNOTATION_HOLD] === HOLD_CONTROLLER &&
    run.spec?.status === PIPELINE_RUN_PENDING
  );
}

/** Whether a change to this run may need the controller (cheap pre-filter for informer events). */
export function isInteresting(run: PipelineRun): boolean {
  if (needsRewrite(run) || isHeldRewritten(run)) return true;
  return run.metadata?.annotations?.[ANNOTATION_RESULT_VOLUME]?.startsWith('provisioned:') === true && isDone(run);
}

/** The provisioned claim's name: derived from the run's name and uid, so a retry can never make a second one. */
export function claimName(run: PipelineRun): string {
  const base = (run.metadata?.name ?? 'run').slice(0, 200).replace(/[-.]+$/, '');
  return `${base}-tlr-${(run.metadata?.uid ?? '').replace(/-/g, '').slice(0, 8)}`;
}

/** The rewritten run with the controller's hold lifted (a hold its author set stays). */
function release(run: PipelineRun): PipelineRun {
  const annotations = { ...run.metadata?.annotations };
  const ours = annotations[ANNOTATION_HOLD] === HOLD_CONTROLLER;
  delete annotations[ANNOTATION_HOLD];
  annotations[ANNOTATION_REWRITTEN] ??= REWRITE_VERSION;
  const spec = { ...run.spec };
  if (ours && spec.status === PIPELINE_RUN_PENDING) delete spec.status;
  return { ...run, metadata: { ...run.metadata, annotations }, spec };
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 20)}… (truncated)`;
}
