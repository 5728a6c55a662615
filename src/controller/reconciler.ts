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
import type { PipelineRun } from '../api/tekton.js';
import type { Config } from '../core/config.js';
import type { FeatureFlags } from '../core/feature-flags.js';
import { admissionOptIn } from '../core/opt-in.js';
import { rewritePipelineRun } from '../core/pipeline-run.js';
import { RewriteError, TlrError } from '../errors.js';
import { apiMessage, isConflict, isNotFound, TEKTON, type Clients } from '../k8s/api.js';
import type { EventRecorder } from './events.js';
import type { ControllerMetrics } from './metrics.js';
import { ownerReference, RefFetcher } from './refs.js';

export const PENDING = PIPELINE_RUN_PENDING;

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

    let config: Config;
    try {
      config = this.deps.settings.config(namespace);
    } catch (err) {
      // The admin's ConfigMap is invalid: not the run's fault, so it waits (a ConfigMap change requeues every run).
      const message = err instanceof TlrError ? err.message : String(err);
      await this.deps.events.record(run, 'Warning', 'ConfigInvalid', `tlr-config is invalid, the run waits until it is fixed: ${message}`);
      return { result: 'waiting' };
    }
    const fetched = await this.refs.fetch(run);
    if (fetched.kind === 'waiting') return { result: 'waiting', requeueAfterMs: 30_000 };
    if (fetched.kind === 'failed') return this.refuse(run, `${describe(run)}: ${fetched.field}: ${fetched.message}`);

    const claim = claimName(run);
    let rewritten: PipelineRun;
    try {
      rewritten = rewritePipelineRun(run, { config, featureFlags: this.deps.settings.featureFlags(), resolver: fetched.resolver, provisionedClaim: claim }).object;
    } catch (err) {
      if (err instanceof RewriteError) return this.refuse(run, err.message);
      throw err;
    }
    const volume = rewritten.metadata?.annotations?.[ANNOTATION_RESULT_VOLUME];
    if (volume === `provisioned:${claim}`) {
      const problem = await this.ensureClaim(run, claim, config);
      if (problem !== undefined) return this.refuse(run, `${describe(run)}: ${problem}`);
    }
    const updated = release(rewritten);
    try {
      await this.deps.clients.custom.replaceNamespacedCustomObject({ ...TEKTON, namespace, plural: 'pipelineruns', name, body: updated });
    } catch (err) {
      if (isConflict(err) || isNotFound(err)) throw new RetryableError(`updating ${namespace}/${name}: ${apiMessage(err)}`);
      throw err;
    }
    const released = run.spec.status === PENDING && updated.spec.status === undefined;
    await this.deps.events.record(
      run,
      'Normal',
      'Rewritten',
      `results stored by reference on ${volume ?? 'the result volume'}${volume === `provisioned:${claim}` ? ` (PVC ${claim}, class ${config.storageClassName || '(default)'}, ${config.size})` : ''}` +
        `${released ? '; hold released' : '; the run stays pending (held by its author)'}`,
    );
    return { result: 'rewritten' };
  }

  /** A run admitted already rewritten (e.g. the output of `tlr render` applied as is): nothing to do but release. */
  private async releaseOnly(run: PipelineRun): Promise<Outcome> {
    const { namespace = 'default', name = '' } = run.metadata ?? {};
    try {
      await this.deps.clients.custom.replaceNamespacedCustomObject({ ...TEKTON, namespace, plural: 'pipelineruns', name, body: release(run) });
    } catch (err) {
      if (isConflict(err) || isNotFound(err)) throw new RetryableError(`releasing ${namespace}/${name}: ${apiMessage(err)}`);
      throw err;
    }
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
      if (!isConflict(err)) throw err;
    }
    const existing = await this.deps.clients.core.readNamespacedPersistentVolumeClaim({ namespace, name: claim });
    if (existing.metadata?.labels?.[LABEL_PIPELINE_RUN_UID] === run.metadata?.uid) return undefined;
    return `metadata: expected PersistentVolumeClaim "${claim}" to be free for the run's results, found one not created for this run; delete or rename it`;
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
    const namespace = run.metadata?.namespace ?? 'default';
    let config: Config;
    try {
      config = this.deps.settings.config(namespace);
    } catch {
      return { result: 'skipped' }; // an invalid config never deletes anything
    }
    const policy = config.retention;
    if (policy.kind === 'with-run') return { result: 'skipped' };
    if (policy.kind === 'keep') {
      const completed = Date.parse(String((run.status as { completionTime?: unknown } | undefined)?.completionTime ?? ''));
      const due = (Number.isNaN(completed) ? this.now().getTime() : completed) + policy.seconds * 1000;
      const wait = due - this.now().getTime();
      if (wait > 0) return { result: 'retention', requeueAfterMs: wait };
    }
    let pvc: V1PersistentVolumeClaim;
    try {
      pvc = await this.deps.clients.core.readNamespacedPersistentVolumeClaim({ namespace, name: claim });
    } catch (err) {
      if (isNotFound(err)) return { result: 'skipped' };
      throw err;
    }
    if (pvc.metadata?.labels?.[LABEL_PIPELINE_RUN_UID] !== run.metadata?.uid || pvc.metadata?.deletionTimestamp) return { result: 'skipped' };
    try {
      await this.deps.clients.core.deleteNamespacedPersistentVolumeClaim({
        namespace,
        name: claim,
        body: { preconditions: { uid: pvc.metadata?.uid ?? '' } },
      });
      this.deps.metrics.deleted.inc();
      await this.deps.events.record(run, 'Normal', 'ResultVolumeDeleted', `deleted PVC ${claim} (retention: ${policy.kind === 'keep' ? `keep ${policy.seconds}s` : policy.kind})`);
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
    return { result: 'retention' };
  }
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
  if (run.spec.status !== PENDING) return false;
  return run.metadata?.annotations?.[ANNOTATION_HOLD] === HOLD_CONTROLLER || admissionOptIn(run).optedIn;
}

/** Rewritten before admission but held by the webhook: only the release is left to do. */
export function isHeldRewritten(run: PipelineRun): boolean {
  return (
    run.metadata?.annotations?.[ANNOTATION_REWRITTEN] !== undefined &&
    run.metadata.annotations[ANNOTATION_HOLD] === HOLD_CONTROLLER &&
    run.spec.status === PENDING
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
  if (ours && spec.status === PENDING) delete spec.status;
  return { ...run, metadata: { ...run.metadata, annotations }, spec };
}

function describe(run: PipelineRun): string {
  return `PipelineRun ${run.metadata?.namespace ?? 'default'}/${run.metadata?.name ?? ''}`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 20)}… (truncated)`;
}
