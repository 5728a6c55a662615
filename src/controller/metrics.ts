import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The controller's Prometheus metrics (all prefixed `tlr_controller_`). */
export class ControllerMetrics {
  readonly reconciles: Counter<'result'>;
  readonly errors: Counter;
  readonly deleted: Counter;
  readonly duration: Histogram;
  readonly queueDepth: Gauge;
  readonly leader: Gauge;

  constructor(readonly registry: Registry = new Registry()) {
    this.reconciles = new Counter({
      name: 'tlr_controller_reconciles_total',
      help: 'Reconciles of finished PipelineRuns, by outcome (retention: deleted, released or requeued a result PVC; skipped: nothing to do).',
      labelNames: ['result'],
      registers: [registry],
    });
    this.errors = new Counter({ name: 'tlr_controller_reconcile_errors_total', help: 'Reconciles that failed and were retried.', registers: [registry] });
    this.deleted = new Counter({ name: 'tlr_controller_deleted_volumes_total', help: 'Result PVCs deleted by the retention policy.', registers: [registry] });
    this.duration = new Histogram({
      name: 'tlr_controller_reconcile_duration_seconds',
      help: 'Time of one reconcile, API calls included.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    this.queueDepth = new Gauge({ name: 'tlr_controller_queue_depth', help: 'Keys waiting in the work queue.', registers: [registry] });
    this.leader = new Gauge({ name: 'tlr_controller_leader', help: '1 while this replica holds the lease.', registers: [registry] });
    // Process and Node.js runtime metrics (RSS, heap, external memory, event-loop lag, GC).
    collectDefaultMetrics({ register: registry });
  }
}
