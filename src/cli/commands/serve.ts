import { KubeConfig } from '@kubernetes/client-node';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { pino, type Logger } from 'pino';
import { startController } from '../../controller/controller.js';
import { TlrError } from '../../errors.js';
import { makeClients } from '../../k8s/api.js';
import { startProbeServer } from '../../k8s/http.js';
import { SettingsSource } from '../../k8s/settings.js';
import { DEFAULT_ADMISSION_WORKERS, DEFAULT_HANDLER_TIMEOUT_MS, startWebhookServer } from '../../webhook/server.js';
import { Registry } from 'prom-client';

/** Options shared by the long-running processes. */
export interface ServeOptions {
  namespace: string;
  configMap: string;
  tektonNamespace: string;
  kubeconfig?: string;
  logLevel: string;
}

export function addServeOptions(command: Command): Command {
  return command
    .addOption(new Option('--namespace <ns>', 'namespace of the tlr-config ConfigMap (and the Lease)').env('POD_NAMESPACE').default('tlr-system'))
    .option('--config-map <name>', 'name of the ConfigMap with the admin settings', 'tlr-config')
    .option('--tekton-namespace <ns>', "namespace of Tekton's feature-flags ConfigMap", 'tekton-pipelines')
    .addOption(new Option('--kubeconfig <path>', 'kubeconfig file (default: in-cluster, then $KUBECONFIG, then ~/.kube/config)').env('KUBECONFIG'))
    .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error']).default('info'));
}

export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (path !== undefined && path !== '') kc.loadFromFile(path);
    else kc.loadFromDefault();
  } catch (err) {
    throw new TlrError('E_KUBECONFIG', `cannot load kubeconfig${path ? ` ${path}` : ''}: ${(err as Error).message}`);
  }
  if (!kc.getCurrentCluster()) throw new TlrError('E_KUBECONFIG', 'no cluster configured: run in a pod, or pass --kubeconfig');
  return kc;
}

export function makeLogger(name: string, level: string): Logger {
  return pino({ name, level, base: { component: name }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** Resolves on the first SIGTERM or SIGINT. */
export function untilSignal(logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    const handler = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'shutting down');
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
      resolve();
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  });
}

export function controllerCommand(program: Command): void {
  addServeOptions(
    program
      .command('controller')
      .description('Run the controller: provisions result volumes, resolves refs, rewrites and releases opted-in PipelineRuns.'),
  )
    .option('--lease-name <name>', 'name of the leader-election Lease', 'tlr-controller')
    .option('--http-port <port>', 'port of /healthz, /readyz and /metrics', (v) => parsePort(v, '--http-port'), 8080)
    .option('--workers <n>', 'concurrent reconciles', (v) => parsePositive(v, '--workers'), 8)
    .option('--lease-duration <seconds>', 'how long a dead leader blocks a standby', (v) => parsePositive(v, '--lease-duration'), 15)
    .option('--resync <seconds>', 'how often to look for opted-in runs that lost the tlr.dev/opted-in label', (v) => parsePositive(v, '--resync'), 600)
    .action(async (opts: ServeOptions & { leaseName: string; httpPort: number; workers: number; leaseDuration: number; resync: number }) => {
      const logger = makeLogger('tlr-controller', opts.logLevel);
      const controller = await startController({
        kubeConfig: loadKubeConfig(opts.kubeconfig),
        namespace: opts.namespace,
        configMap: opts.configMap,
        tektonNamespace: opts.tektonNamespace,
        leaseName: opts.leaseName,
        httpPort: opts.httpPort,
        workers: opts.workers,
        logger,
        leaseDurationSeconds: opts.leaseDuration,
        renewDeadlineMs: Math.round(opts.leaseDuration * 1000 * (2 / 3)),
        retryPeriodMs: Math.max(200, Math.round((opts.leaseDuration * 1000) / 7.5)),
        resyncMs: opts.resync * 1000,
      });
      logger.info({ httpPort: controller.httpPort }, 'controller started');
      await untilSignal(logger);
      await controller.stop();
    });
}

export function parsePort(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`${flag}: expected a port number 0-65535, found "${value}"`);
  return n;
}

export function parsePositive(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flag}: expected a positive integer, found "${value}"`);
  return n;
}

export function webhookCommand(program: Command): void {
  addServeOptions(
    program
      .command('webhook')
      .description('Run the HTTPS admission webhooks: rewrites opted-in PipelineRuns and standalone TaskRuns, adds tlr-substitute to consumer Pods.'),
  )
    .option('--port <port>', 'HTTPS port of /mutate/pipelineruns, /mutate/taskruns, /mutate/pods, /healthz, /readyz', (v) => parsePort(v, '--port'), 8443)
    .option('--tls-cert-file <path>', 'serving certificate (reloaded when it changes)', '/etc/tlr/tls/tls.crt')
    .option('--tls-key-file <path>', 'serving key (reloaded when it changes)', '/etc/tlr/tls/tls.key')
    .option('--metrics-port <port>', 'plain-HTTP port of /metrics, /healthz, /readyz', (v) => parsePort(v, '--metrics-port'), 9090)
    .option('--timeout-ms <ms>', "time to answer one review; keep it under the configuration's timeoutSeconds", (v) => parsePositive(v, '--timeout-ms'), DEFAULT_HANDLER_TIMEOUT_MS)
    .option('--admission-workers <n>', 'worker threads that decide admission requests (the event loop only does I/O)', (v) => parsePositive(v, '--admission-workers'), DEFAULT_ADMISSION_WORKERS)
    .action(async (opts: ServeOptions & { port: number; tlsCertFile: string; tlsKeyFile: string; metricsPort: number; timeoutMs: number; admissionWorkers: number }) => {
      const logger = makeLogger('tlr-webhook', opts.logLevel);
      const registry = new Registry();
      const settings = new SettingsSource({
        clients: makeClients(loadKubeConfig(opts.kubeconfig)),
        namespace: opts.namespace,
        configMap: opts.configMap,
        tektonNamespace: opts.tektonNamespace,
        logger,
      });
      let synced = false;
      void settings.synced.then(() => (synced = true));
      const probes = await startProbeServer({ port: opts.metricsPort, ready: () => synced, registry });
      await settings.synced;
      const server = await startWebhookServer({
        port: opts.port,
        certFile: opts.tlsCertFile,
        keyFile: opts.tlsKeyFile,
        settings,
        logger,
        metrics: registry,
        handlerTimeoutMs: opts.timeoutMs,
        admissionWorkers: opts.admissionWorkers,
      });
      logger.info({ port: server.port, metricsPort: probes.port }, 'webhook started');
      await untilSignal(logger);
      await server.close();
      await settings.stop();
      await probes.close();
    });
}
