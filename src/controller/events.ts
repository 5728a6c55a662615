import type { Logger } from 'pino';
import type { CoreV1Event } from '@kubernetes/client-node';
import type { KubeObject } from '../api/tekton.js';
import { apiMessage, type Clients } from '../k8s/api.js';

/**
 * Records Kubernetes Events on the objects the controller acts on. Failing to record is logged, never fatal. The same
 * event for the same object is recorded once per 10 minutes, so a run retried with backoff does not flood its Events.
 */
const REPEAT_AFTER_MS = 10 * 60 * 1000;

export class EventRecorder {
  constructor(
    private readonly clients: Clients,
    private readonly component: string,
    private readonly instance: string,
    private readonly logger: Logger,
  ) {}

  /** When each (object uid, reason, message) was last recorded: a retried reconcile does not repeat its Event. */
  private readonly recent = new Map<string, number>();

  async record(object: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const key = `${object.metadata?.uid ?? ''}\u0000${reason}\u0000${message}`;
    const last = this.recent.get(key);
    if (last !== undefined && Date.now() - last < REPEAT_AFTER_MS) return;
    this.recent.set(key, Date.now());
    if (this.recent.size > 10_000) this.forgetOld();
    const namespace = object.metadata?.namespace ?? 'default';
    const now = new Date();
    const body: CoreV1Event = {
      metadata: { generateName: `${object.metadata?.name ?? 'object'}.`, namespace },
      involvedObject: {
        apiVersion: object.apiVersion,
        kind: object.kind,
        name: object.metadata?.name,
        namespace,
        uid: object.metadata?.uid,
      },
      type,
      reason,
      message,
      source: { component: this.component },
      reportingComponent: `tlr.dev/${this.component}`,
      reportingInstance: this.instance,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    this.logger.info({ object: `${namespace}/${object.metadata?.name ?? ''}`, kind: object.kind, type, reason, message }, 'event');
    try {
      await this.clients.core.createNamespacedEvent({ namespace, body });
    } catch (err) {
      this.logger.warn({ reason, err: apiMessage(err) }, 'could not record event');
    }
  }

  private forgetOld(): void {
    const cutoff = Date.now() - REPEAT_AFTER_MS;
    for (const [key, at] of this.recent) if (at < cutoff) this.recent.delete(key);
  }
}
