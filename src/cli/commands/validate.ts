import type { Command } from 'commander';
import { describeObject } from '../../api/tekton.js';
import { validateWithEmbedded } from '../../schema/embedded-specs.js';
import { loadCrdValidator } from '../../schema/load-crds.js';
import type { CliIo } from '../io.js';
import { CommandRefused } from '../report.js';
import { addRenderOptions, renderFiles, type RenderFlags } from './render.js';

export function validateCommand(program: Command, io: CliIo): void {
  addRenderOptions(
    program
      .command('validate')
      .description(
        'Check that the files convert and render without refusal and, with --crds, that every object the cluster\n' +
          "would store (converted Tasks/Pipelines, rewritten runs) passes Tekton's CRD schemas with strict field\n" +
          'validation. Prints one line per object; exits 1 when anything is refused or invalid.',
      )
      .argument('<files...>', 'YAML files (- for standard input)')
      .option('--crds <dir>', "directory of Tekton's CRD YAML files (e.g. Tekton's config/300-crds)"),
  ).action(async (files: string[], flags: RenderFlags & { crds?: string }) => {
    const validator = flags.crds !== undefined ? await loadCrdValidator(flags.crds) : undefined;
    const outputs = await renderFiles(files, flags, io);
    const problems: string[] = [];
    for (const { object, doc, changed } of outputs) {
      const name = describeObject(object);
      const found = validator ? validateWithEmbedded(validator, object) : [];
      problems.push(...found.map((p) => `${doc.file}:${doc.line}: error: ${name}: ${p.path}: ${p.message}`));
      if (found.length === 0) io.out(`${doc.file}:${doc.line}: ${name}: ok${changed ? ' (rewritten)' : ''}${validator ? ', valid against the CRD schema' : ''}\n`);
    }
    if (problems.length > 0) throw new CommandRefused(problems.join('\n'));
  });
}
