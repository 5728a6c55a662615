import type { Command } from 'commander';
import { Option } from 'commander';
import { describeResultVolume, readRun } from '../../fetch/fetch.js';
import { listResults, type ListedResult } from '../../fetch/references.js';
import { makeClients } from '../../k8s/api.js';
import { TlrError } from '../../errors.js';
import type { CliIo } from '../io.js';
import { contextNamespace, loadKubeConfig } from './serve.js';

interface ResultsFlags {
  namespace?: string;
  output: string;
  kubeconfig?: string;
  context?: string;
}

export function resultsCommand(program: Command, io: CliIo): void {
  program
    .command('results')
    .description(
      "List a PipelineRun's results without downloading them: each task result (<pipeline task>.<result>) and pipeline\n" +
        'result, how it is stored (reference: on the result volume; value: in Tekton itself), its size and sha256 (as its\n' +
        'producer sealed it, for a reference). Needs get on pipelineruns and list on taskruns in the namespace.',
    )
    .argument('<pipelinerun>', 'name of the PipelineRun')
    .option('-n, --namespace <ns>', "namespace of the run (default: the kubeconfig context's, else default)")
    .option('-o, --output <format>', 'text (a table), or json', 'text')
    .addOption(new Option('--kubeconfig <path>', 'kubeconfig file (default: KUBECONFIG, a list of files as kubectl reads it, then ~/.kube/config)'))
    .option('--context <name>', 'the kubeconfig context to use (default: its current context)')
    .action(async (runName: string, opts: ResultsFlags) => {
      if (opts.output !== 'text' && opts.output !== 'json') throw new TlrError('E_INPUT', `--output: expected "text" or "json", found "${opts.output}"`);
      const kubeConfig = loadKubeConfig(opts.kubeconfig, opts.context);
      const namespace = opts.namespace ?? contextNamespace(kubeConfig) ?? 'default';
      const { run, taskRuns, what } = await readRun(makeClients(kubeConfig), namespace, runName);
      const results = listResults(run, taskRuns);
      const volume = describeResultVolume(run, taskRuns, what);
      if (opts.output === 'json') {
        io.out(`${JSON.stringify({ pipelineRun: `${namespace}/${runName}`, volume, results }, null, 2)}\n`);
        return;
      }
      io.out(table(results));
      io.err(`${what}: ${results.length} result(s); result volume: ${volume}\n`);
    });
}

/** NAME STORAGE SIZE SHA256, columns aligned (as kubectl prints), unusable ones with their reason. */
function table(results: readonly ListedResult[]): string {
  const rows = [
    ['NAME', 'STORAGE', 'SIZE', 'SHA256'],
    // An element's size and sha256 are its whole value's, the one its producer sealed and fetch verifies.
    ...results.map((r) => [r.name, r.element !== undefined ? `${r.storage} (element ${r.element})` : r.storage, r.size === undefined ? '-' : humanBytes(r.size), r.sha256 ?? r.problem ?? '-']),
  ];
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows.map((row) => row.map((cell, i) => (i < 3 ? cell.padEnd((widths[i] ?? 0) + 3) : cell)).join('').trimEnd()).join('\n') + '\n';
}

/** `512 B`, `1.5 KiB`, `1.0 GiB` (binary units, as kubectl's quantities). */
export function humanBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit] ?? ''}`;
}
