import { existsSync } from 'node:fs';
import { delimiter } from 'node:path';
import { KubeConfig, type Cluster, type Context, type User } from '@kubernetes/client-node';
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
    .addOption(new Option('--kubeconfig <path>', 'kubeconfig file (default: KUBECONFIG, a list of files, then ~/.kube/config, then in-cluster)'))
    .addOption(new Option('--log-level <level>', 'log level').choices(['debug', 'info', 'warn', 'error']).default('info'));
}

/**
 * The kubeconfig as kubectl reads it: `--kubeconfig` names one file; otherwise `KUBECONFIG` (a list of files, merged,
 * the first to set a value winning), then ~/.kube/config, then the in-cluster ServiceAccount. `context` selects a
 * context by name (kubectl's `--context`).
 */
export function loadKubeConfig(path: string | undefined, context?: string): KubeConfig {
  let kc = new KubeConfig();
  try {
    if (path !== undefined && path !== '') kc.loadFromFile(path);
    else if (process.env.KUBECONFIG) kc = mergedKubeConfig(process.env.KUBECONFIG);
    else kc.loadFromDefault();
  } catch (err) {
    const source = path ? ` ${path}` : process.env.KUBECONFIG ? ` (KUBECONFIG=${process.env.KUBECONFIG})` : '';
    throw new TlrError('E_KUBECONFIG', `cannot load kubeconfig${source}: ${(err as Error).message}`);
  }
  if (context !== undefined) {
    const names = kc.getContexts().map((c) => c.name);
    if (!names.includes(context)) {
      throw new TlrError('E_KUBECONFIG', `--context: no context "${context}" in the kubeconfig; it has ${names.length > 0 ? names.map((n) => `"${n}"`).join(', ') : 'none'}`);
    }
    kc.setCurrentContext(context);
  }
  if (!kc.getCurrentCluster()) throw new TlrError('E_KUBECONFIG', 'no cluster configured: run in a pod, or pass --kubeconfig');
  return kc;
}

/**
 * KUBECONFIG's files merged by kubectl's rules (client-node's own merge throws on a name two files define and lets
 * the last current-context win): empty entries and missing files are skipped, the first file to set the current
 * context or to define a cluster, user or context of a given name wins.
 */
function mergedKubeConfig(list: string): KubeConfig {
  const files = list.split(delimiter).filter((f) => f !== '' && existsSync(f));
  if (files.length === 0) throw new Error(`none of its files exists`);
  const merged = { clusters: new Map<string, Cluster>(), users: new Map<string, User>(), contexts: new Map<string, Context>(), currentContext: '' };
  for (const file of files) {
    const kc = new KubeConfig();
    kc.loadFromFile(file);
    merged.currentContext ||= kc.getCurrentContext() ?? '';
    for (const c of kc.getClusters()) if (!merged.clusters.has(c.name)) merged.clusters.set(c.name, c);
    for (const u of kc.getUsers()) if (!merged.users.has(u.name)) merged.users.set(u.name, u);
    for (const c of kc.getContexts()) if (!merged.contexts.has(c.name)) merged.contexts.set(c.name, c);
  }
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [...merged.clusters.values()],
    users: [...merged.users.values()],
    contexts: [...merged.contexts.values()],
    currentContext: merged.currentContext,
  });
  return kc;
}

/** The namespace of the kubeconfig's current context, as kubectl defaults `-n` to it. */
export function contextNamespace(kc: KubeConfig): string | undefined {
  const namespace = kc.getContextObject(kc.getCurrentContext())?.namespace;
  return namespace !== undefined && namespace !== '' ? namespace : undefined;
}

export function makeLogger(name: string, level: string, destination?: pino.DestinationStream): Logger {
  // The schema of src/log-line.ts (tlr-init writes the same): numeric levels, ISO time, component and name.
  const options = { name, level, base: { component: name }, timestamp: pino.stdTimeFunctions.isoTime };
  return destination === undefined ? pino(options) : pino(options, destination);
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
      const probes = await startProbeServer({ port: opts.metricsPort, ready: () => synced, notReadyReason: () => settings.notReadyReason(), registry });
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
