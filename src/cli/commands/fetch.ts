import { mkdir } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { DEFAULT_INIT_IMAGE } from '../../core/config.js';
import { DEFAULT_MOUNT_PATH } from '../../api/names.js';
import { fetchResults } from '../../fetch/fetch.js';
import { fetchToStream } from '../../fetch/to-stdout.js';
import { TlrError } from '../../errors.js';
import type { CliIo } from '../io.js';
import { fetchProgress } from '../progress.js';
import { EXIT } from '../program.js';
import { contextNamespace, loadKubeConfig, parsePositive } from './serve.js';

interface FetchFlags {
  namespace?: string;
  output: string;
  image: string;
  mountPath: string;
  timeout: number;
  kubeconfig?: string;
  context?: string;
  quiet?: boolean;
}

export function fetchCommand(program: Command, io: CliIo): void {
  program
    .command('fetch')
    .description(
      "Copy results stored by reference out of a run's result volume, each verified against its recorded size and\n" +
        'sha256 before it appears under its name. Starts a short-lived reader pod (the tlr-init image, the volume\n' +
        'mounted read-only) and execs into it; needs get on pipelineruns, list on taskruns, create/get/delete on pods, get and create on\n' +
        'pods/exec and get on persistentvolumeclaims in the namespace (ClusterRole tlr-fetch). Progress on a terminal;\n' +
        'Ctrl-C stops it, deletes the reader pod and keeps no partial file (exit 130).',
    )
    .argument('<pipelinerun>', 'name of the PipelineRun')
    .argument('[results...]', '<pipeline task>.<result> or a pipeline result name (default: every one the run recorded)')
    .option('-n, --namespace <ns>', "namespace of the run (default: the kubeconfig context's, else default)")
    .option('-o, --output <dir>', 'directory to write into (one file per result, named as above); - for standard output: one result as its bytes, several as a tar stream, each verified before it is written', '.')
    .option('--image <image>', 'the tlr-init image (as in tlr-config initImage)', DEFAULT_INIT_IMAGE)
    .option('--mount-path <path>', 'where the reader mounts the volume (as in tlr-config mountPath)', DEFAULT_MOUNT_PATH)
    .option('--timeout <seconds>', 'how long to wait for the reader pod', (v) => parsePositive(v, '--timeout'), 120)
    .addOption(new Option('--kubeconfig <path>', 'kubeconfig file (default: KUBECONFIG, a list of files as kubectl reads it, then ~/.kube/config)'))
    .option('--context <name>', 'the kubeconfig context to use (default: its current context)')
    .option('-q, --quiet', 'print only warnings and errors on standard error (no progress, no reader pod lines)')
    .action(async (run: string, results: string[], opts: FetchFlags) => {
      const kubeConfig = loadKubeConfig(opts.kubeconfig, opts.context);
      const progress = fetchProgress((text) => io.err(text), io.stderr, opts.quiet === true);
      const interrupt = onInterrupt(io);
      const fetchInto = (outDir: string): ReturnType<typeof fetchResults> =>
        fetchResults({
          kubeConfig,
          namespace: opts.namespace ?? contextNamespace(kubeConfig) ?? 'default',
          run,
          names: results,
          outDir,
          image: opts.image,
          mountPath: opts.mountPath,
          timeoutSeconds: opts.timeout,
          log: (line) => progress.log(line),
          warn: (line) => progress.warn(line),
          progress: (name, bytes, total) => progress.progress(name, bytes, total),
          signal: interrupt.signal,
        });
      try {
        await fetchAndPrint(io, opts.output, fetchInto);
      } finally {
        progress.stop();
        interrupt.dispose();
      }
    });
}

async function fetchAndPrint(io: CliIo, output: string, fetchInto: (dir: string) => ReturnType<typeof fetchResults>): Promise<void> {
  if (output === '-') {
    if (!io.stdout) throw new TlrError('E_INPUT', '-o -: this program has no standard output for bytes');
    // stdout carries the data: the summary goes to stderr.
    const fetched = await fetchToStream(io.stdout, fetchInto);
    for (const f of fetched) io.err(`${f.name}\t${f.bytes}\tsha256:${f.sha256}\n`);
    return;
  }
  await mkdir(output, { recursive: true });
  const fetched = await fetchInto(output);
  for (const f of fetched) io.out(`${f.file}\t${f.bytes}\tsha256:${f.sha256}\n`);
}

/**
 * Ctrl-C (SIGINT) or SIGTERM during a fetch: the first aborts it (the transfer stops, the partial file and the reader
 * pod are removed, exit 130); a second one quits at once, leaving the pod to its activeDeadlineSeconds.
 */
function onInterrupt(io: CliIo): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const handler = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      io.err(`${signal} again: quitting at once; the reader pod deletes itself within its deadline\n`);
      process.exit(EXIT.interrupted);
    }
    io.err(`${signal}: stopping; removing the reader pod and the partial file (${signal} again to quit at once)\n`);
    controller.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
