import type { Command } from 'commander';
import { convertOnly } from '../../core/rewrite.js';
import { stringifyYamlDocuments } from '../../yaml/documents.js';
import { asKubeObject, readObjects } from '../inputs.js';
import type { CliIo } from '../io.js';
import { reportWarnings, runAll } from '../report.js';

export function convertCommand(program: Command, io: CliIo): void {
  program
    .command('convert')
    .description(
      'Translate the TEP-0086 form (resultWorkspace, storage: reference, type: stringReference) into the canonical\n' +
        'form Tekton accepts (tlr.dev annotations), for `kubectl apply`. Other objects pass through unchanged.',
    )
    .argument('<files...>', 'YAML files of Tasks, Pipelines, PipelineRuns, TaskRuns (- for standard input)')
    .action(async (files: string[]) => {
      const docs = await readObjects(files, () => io.stdin());
      const outputs = runAll(docs, (doc) => convertOnly(asKubeObject(doc)));
      reportWarnings(outputs, io);
      io.out(stringifyYamlDocuments(outputs.map((o) => o.object)));
    });
}
