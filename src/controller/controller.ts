import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { KubeConfig, KubernetesListObject, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { LABEL_CONSUMER, LABEL_OPTED_IN } from '../api/names.js';
import type { PipelineRun } from '../api/tekton.js';
import { apiMessage, makeClients, TEKTON, type Clients } from '../k8s/api.js';
import { startProbeServer, type ProbeServer } from '../k8s/http.js';
import { startInformer, type RunningInformer } from '../k8s/informer.js';
import { SettingsSource } from '../k8s/settings.js';
import { ConsumerFailureReporter } from './consumer-failures.js';
import { EventRecorder } from './events.js';
import { LeaderElector } from './leader.js';
import { ControllerMetrics } from './metrics.js';
import { WorkQueue } from './queue.js';
import { relabelDetachedRuns } from './sweep.js';
import { isInteresting, Reconciler, RetryableError } from './reconciler.js';

export interface ControllerOptions {
  readonly kubeConfig: KubeConfig;
  /** The controller's own namespace: its ConfigMap and its Lease live there. */
  readonly namespace: string;
  readonly configMap: string;
  readonly tektonNamespace: string;
  readonly leaseName: string;
  readonly identity?: string;
  /** Port of /healthz, /readyz and /metrics (0: any free port). */
  readonly httpPort: number;
  readonly workers: number;
  readonly logger: Logger;
  readonly registry?: Registry;
  /** Called when leadership is lost (default: the CLI exits so Kubernetes restarts the pod). */
  readonly onLeadershipLost?: () => void;
  /** Lease timings, for tests. */
  readonly leaseDurationSeconds?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  /** How often to look for runs that lost the `tlr.dev/opted-in` label (default 10 min). */
  readonly resyncMs?: number;
}

export interface RunningController {
  readonly httpPort: number;
  readonly metrics: ControllerMetrics;
  /** Resolves once this replica leads and its caches are synced. */
  readonly leading: Promise<void>;
  stop(): Promise<void>;
}

/**
 * `tlr controller`: watches the PipelineRuns the webhook rewrote (labelled `tlr.dev/opted-in`) in every namespace and
 * applies the retention of their result volumes when they finish. All replicas serve probes; only the Lease holder
 * reconciles.
 */
export async function startController(options: ControllerOptions): Promise<RunningController> {
  const logger = options.logger;
  const identity = options.identity ?? `${hostname()}-${randomBytes(4).toString('hex')}`;
  const clients = makeClients(options.kubeConfig);
  const metrics = new ControllerMetrics(options.registry ?? new Registry());
  const queue = new WorkQueue();
  let runs: RunningInformer<PipelineRun> | undefined;
  const settings = new SettingsSource({
    clients,
    namespace: options.namespace,
    configMap: options.configMap,
    tektonNamespace: options.tektonNamespace,
    logger,
    onChange: () => runs?.list().forEach((run) => enqueue(run)),
  });
  let settingsSynced = false;
  void settings.synced.then(() => (settingsSynced = true));
  let synced = false;
  let stopping = false;

  const probes: ProbeServer = await startProbeServer({
    port: options.httpPort,
    ready: () => settingsSynced && (!elector.isLeader || synced),
    notReadyReason: () =>
      [settings.notReadyReason(), runs?.notReadyReason(), consumers?.notReadyReason()].filter((r): r is string => r !== undefined).join('; and ') || undefined,
    registry: metrics.registry,
  });
  const elector = new LeaderElector({
    clients,
    namespace: options.namespace,
    name: options.leaseName,
    identity,
    logger,
    ...(options.leaseDurationSeconds !== undefined ? { leaseDurationSeconds: options.leaseDurationSeconds } : {}),
    ...(options.renewDeadlineMs !== undefined ? { renewDeadlineMs: options.renewDeadlineMs } : {}),
    ...(options.retryPeriodMs !== undefined ? { retryPeriodMs: options.retryPeriodMs } : {}),
  });

  const add = (key: string): void => {
    queue.add(key);
    metrics.queueDepth.set(queue.length);
  };
  const enqueue = (run: PipelineRun): void => {
    if (isInteresting(run)) add(`${run.metadata?.namespace ?? ''}/${run.metadata?.name ?? ''}`);
  };
  const events = new EventRecorder(clients, 'controller', identity, logger);
  const reconciler = new Reconciler({
    clients,
    settings,
    getRun: (namespace, name) => runs?.get(name, namespace),
    events,
    metrics,
    logger,
  });

  const consumerFailures = new ConsumerFailureReporter(events, logger);
  let consumers: RunningInformer<V1Pod> | undefined;
  const workers: Array<Promise<void>> = [];
  let sweeper: NodeJS.Timeout | undefined;
  const leading = (async (): Promise<void> => {
    const won = await elector.run(() => {
      // Stop reconciling at once: another replica may lead now. Then let the process go (default: exit, restart).
      metrics.leader.set(0);
      clearInterval(sweeper);
      queue.shutDown();
      (options.onLeadershipLost ?? ((): void => process.exit(1)))();
    });
    if (!won) return;
    metrics.leader.set(1);
    runs = watchRuns(clients, logger, enqueue);
    consumers = watchConsumerPods(clients, logger, (pod) => {
      consumerFailures.onPod(pod).catch((err: unknown) => logger.warn({ err: apiMessage(err) }, 'could not report a consumer failure'));
    });
    await Promise.all([runs.synced, consumers.synced, settings.synced]);
    synced = true;
    logger.info({ identity, workers: options.workers }, 'caches synced; reconciling');
    for (let i = 0; i < options.workers; i++) workers.push(work(queue, reconciler, metrics, logger));
    const sweep = (): void => {
      relabelDetachedRuns(clients, logger).catch((err: unknown) => logger.warn({ err: apiMessage(err) }, 'relabel sweep failed'));
    };
    sweep();
    sweeper = setInterval(sweep, options.resyncMs ?? 600_000);
    sweeper.unref();
  })();

  return {
    httpPort: probes.port,
    metrics,
    leading,
    stop: async () => {
      if (stopping) return;
      stopping = true;
      clearInterval(sweeper);
      queue.shutDown();
      await Promise.allSettled(workers);
      await elector.stop();
      await Promise.allSettled([runs?.stop(), consumers?.stop(), settings.stop()]);
      await probes.close();
    },
  };
}

async function work(queue: WorkQueue, reconciler: Reconciler, metrics: ControllerMetrics, logger: Logger): Promise<void> {
  for (;;) {
    const key = await queue.get();
    if (key === undefined) return;
    metrics.queueDepth.set(queue.length);
    const [namespace = '', name = ''] = key.split('/');
    const end = metrics.duration.startTimer();
    try {
      const outcome = await reconciler.reconcile(namespace, name);
      metrics.reconciles.inc({ result: outcome.result });
      queue.forget(key);
      if (outcome.requeueAfterMs !== undefined) queue.addAfter(key, outcome.requeueAfterMs);
      if (outcome.result !== 'skipped') logger.info({ run: key, result: outcome.result }, 'reconciled');
    } catch (err) {
      metrics.errors.inc();
      const delay = queue.addRateLimited(key);
      const level = err instanceof RetryableError ? 'info' : 'error';
      logger[level]({ run: key, err: err instanceof Error ? err.message : String(err), retryInMs: delay }, 'reconcile failed; will retry');
    } finally {
      end();
      queue.done(key);
    }
  }
}

/** Only the runs the webhook labelled as opted in: the cache never holds the cluster's other PipelineRuns. */
function watchRuns(clients: Clients, logger: Logger, onChange: (run: PipelineRun) => void): RunningInformer<PipelineRun> {
  const labelSelector = LABEL_OPTED_IN;
  return startInformer<PipelineRun>({
    kubeConfig: clients.kubeConfig,
    path: `/apis/${TEKTON.group}/${TEKTON.version}/pipelineruns`,
    labelSelector,
    list: async () => (await clients.custom.listClusterCustomObject({ ...TEKTON, plural: 'pipelineruns', labelSelector })) as KubernetesListObject<PipelineRun>,
    logger,
    onChange: (run, event) => {
      if (event !== 'delete') onChange(run);
    },
    transform: cachedRun,
  });
}

/**
 * What the controller keeps of a run: its identity, labels and annotations (the result volume, the opt-in label) and
 * the status fields retention reads. Not the spec (an opted-in run carries every Task it runs, inlined) nor the rest
 * of the status (Tekton copies the whole pipeline spec there again) nor managedFields and kubectl's
 * last-applied-configuration: about 1 KiB a run, whatever the pipeline.
 */
export function cachedRun(run: PipelineRun): PipelineRun {
  const { managedFields: _fields, annotations, ...metadata } = run.metadata ?? {};
  const { [LAST_APPLIED]: _applied, ...kept } = annotations ?? {};
  const status = run.status as { conditions?: unknown; startTime?: unknown; completionTime?: unknown } | undefined;
  return {
    apiVersion: run.apiVersion,
    kind: run.kind,
    metadata: { ...metadata, ...(annotations !== undefined ? { annotations: kept } : {}) },
    spec: {},
    ...(status !== undefined ? { status: { conditions: status.conditions, startTime: status.startTime, completionTime: status.completionTime } } : {}),
  };
}

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** Consumer pods only (label tlr.dev/consumer, which only pods of rewritten runs carry): for their init container's failures. */
function watchConsumerPods(clients: Clients, logger: Logger, onChange: (pod: V1Pod) => void): RunningInformer<V1Pod> {
  const labelSelector = LABEL_CONSUMER;
  return startInformer<V1Pod>({
    kubeConfig: clients.kubeConfig,
    path: '/api/v1/pods',
    labelSelector,
    list: () => clients.core.listPodForAllNamespaces({ labelSelector }),
    logger,
    onChange: (pod, event) => {
      if (event !== 'delete') onChange(pod);
    },
  });
}
