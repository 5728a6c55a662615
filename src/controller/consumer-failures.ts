/**
 * Why a consumer did not start, where users look. When the `tlr-substitute` init container refuses a result (a file
 * changed after sealing, a result never written, over a limit), Tekton's TaskRun says only
 * `init container failed, "tlr-substitute" exited with code 1`; the reason is in the init container's termination
 * message, which only `kubectl describe pod` shows. The controller watches consumer pods (label `tlr.dev/consumer`,
 * which the Pod webhook's objectSelector also uses) and records that message as a Warning Event `ResultUnusable` on the
 * pod's TaskRun and on its PipelineRun, so `kubectl describe taskrun|pipelinerun`, `kubectl get events` and `tkn pr
 * describe` show it.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { INIT_CONTAINER_SUBSTITUTE } from '../api/names.js';
import type { KubeObject } from '../api/tekton.js';
import type { EventRecorder } from './events.js';

/** Failures older than this when first seen (a controller that just started, listing old pods) are not reported. */
export const REPORT_WITHIN_MS = 10 * 60 * 1000;
/** Events carry at most this much of the message (Kubernetes caps an Event's message at 1 KiB). */
const MAX_MESSAGE = 1000;
const PIPELINE_RUN_LABEL = 'tekton.dev/pipelineRun';
const PIPELINE_RUN_UID_LABEL = 'tekton.dev/pipelineRunUID';
const PIPELINE_TASK_LABEL = 'tekton.dev/pipelineTask';

export interface SubstituteFailure {
  readonly exitCode: number;
  readonly message: string;
  readonly finishedAt: Date | undefined;
}

/** The `tlr-substitute` init container's failure, if it failed. */
export function substituteFailure(pod: V1Pod): SubstituteFailure | undefined {
  const status = pod.status?.initContainerStatuses?.find((s) => s.name === INIT_CONTAINER_SUBSTITUTE);
  const terminated = status?.state?.terminated ?? status?.lastState?.terminated;
  if (!terminated || terminated.exitCode === 0) return undefined;
  const message = (terminated.message ?? '').trim();
  return {
    exitCode: terminated.exitCode,
    message: message || `exited with code ${terminated.exitCode} (${terminated.reason ?? 'no reason'}), no message`,
    finishedAt: dateOf(terminated.finishedAt),
  };
}

function dateOf(value: Date | string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** The objects the Event goes on: the pod's TaskRun (its controlling owner) and, when Tekton labelled it, its PipelineRun. */
export function eventTargets(pod: V1Pod): KubeObject[] {
  const namespace = pod.metadata?.namespace;
  const targets: KubeObject[] = [];
  const owner = pod.metadata?.ownerReferences?.find((o) => o.kind === 'TaskRun' && o.apiVersion.startsWith('tekton.dev/'));
  if (owner) targets.push({ apiVersion: owner.apiVersion, kind: 'TaskRun', metadata: { name: owner.name, namespace, uid: owner.uid } });
  const labels = pod.metadata?.labels ?? {};
  const run = labels[PIPELINE_RUN_LABEL];
  const uid = labels[PIPELINE_RUN_UID_LABEL];
  if (run && uid) targets.push({ apiVersion: 'tekton.dev/v1', kind: 'PipelineRun', metadata: { name: run, namespace, uid } });
  return targets;
}

function describePod(pod: V1Pod): string {
  const task = pod.metadata?.labels?.[PIPELINE_TASK_LABEL];
  return `consumer pod ${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}${task ? ` (pipeline task ${task})` : ''}`;
}

export class ConsumerFailureReporter {
  /** Pods already reported (by uid); bounded, oldest forgotten first. */
  private readonly reported = new Set<string>();

  constructor(
    private readonly events: EventRecorder,
    private readonly logger: Logger,
    private readonly now: () => Date = (): Date => new Date(),
  ) {}

  async onPod(pod: V1Pod): Promise<void> {
    const uid = pod.metadata?.uid ?? '';
    if (uid === '' || this.reported.has(uid)) return;
    const failure = substituteFailure(pod);
    if (!failure) return;
    this.remember(uid);
    if (failure.finishedAt !== undefined && this.now().getTime() - failure.finishedAt.getTime() > REPORT_WITHIN_MS) return;
    const where = describePod(pod);
    const message = `${where}: ${INIT_CONTAINER_SUBSTITUTE} refused a result: ${failure.message}`;
    const targets = eventTargets(pod);
    if (targets.length === 0) this.logger.warn({ pod: where, message }, 'consumer failed, but its pod names no TaskRun to report on');
    for (const target of targets) {
      await this.events.record(target, 'Warning', 'ResultUnusable', message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message);
    }
  }

  private remember(uid: string): void {
    this.reported.add(uid);
    if (this.reported.size > 10_000) {
      const oldest = this.reported.values().next().value;
      if (oldest !== undefined) this.reported.delete(oldest);
    }
  }
}
