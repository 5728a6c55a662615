import { KubeConfig } from '@kubernetes/client-node';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { pino, type Logger } from 'pino';
import { startController } from '../../controller/controller.js';
import { TlrError } from '../../errors.js';

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
    .action(async (opts: ServeOptions & { leaseName: string; httpPort: number; workers: number }) => {
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
