import type { Command } from 'commander';
import { describeObject } from '../../api/tekton.js';
import { validateWithEmbedded } from '../../schema/embedded-specs.js';
import type { CrdValidator } from '../../schema/crd-validator.js';
import { loadCrdValidator } from '../../schema/load-crds.js';
import { TlrError } from '../../errors.js';
import type { CliIo } from '../io.js';
import { CommandRefused, failOnWarnings, formatLocated, locate, warningsOf, type Collected, type LocatedDiagnostic } from '../report.js';
import { addRenderOptions, renderDocuments, type RenderFlags } from './render.js';

type ValidateFlags = RenderFlags & { crds?: string; output?: string };

/** One object's outcome, as `-o json` reports it. */
interface ObjectReport {
  readonly file: string;
  readonly line: number;
  readonly object: string;
  /**
   * `ok`: the cluster stores it as written; `rewritten`: as `tlr render` prints it; `refused`; `invalid` (CRD
   * schema); `warned`: it has warnings and --strict makes them failures.
   */
  readonly status: 'ok' | 'rewritten' | 'refused' | 'invalid' | 'warned';
}

export function validateCommand(program: Command, io: CliIo): void {
  addRenderOptions(
    program
      .command('validate')
      .description(
        'Check that the files convert and render without refusal and, with --crds, that every object the cluster\n' +
          "would store (converted Tasks/Pipelines, rewritten runs) passes Tekton's CRD schemas with strict field\n" +
          'validation. Prints one line per object; exits 1 when anything is refused or invalid (or warned about, with --strict).',
      )
      .argument('<files...>', 'YAML files (- for standard input)')
      .option('--crds <dir>', "directory of Tekton's CRD YAML files (e.g. Tekton's config/300-crds)")
      .option('-o, --output <format>', 'text, or json: one JSON document on stdout (objects and diagnostics), for CI tools', 'text'),
  ).action(async (files: string[], flags: ValidateFlags) => {
    const format = flags.output ?? 'text';
    if (format !== 'text' && format !== 'json') throw new TlrError('E_INPUT', `--output: expected "text" or "json", found "${format}"`);
    const validator = flags.crds !== undefined ? await loadCrdValidator(flags.crds) : undefined;
    const collected = await renderDocuments(files, flags, io);
    const { objects, invalid } = judge(collected, validator, flags.strict === true);
    const warnings = warningsOf(collected.results, collected.docs);
    const errors = [...collected.refusals, ...invalid];
    if (format === 'json') {
      const failed = errors.length > 0 || (flags.strict === true && warnings.length > 0);
      io.out(`${JSON.stringify({ ok: !failed, objects, diagnostics: [...errors, ...warnings].map(located) }, null, 2)}\n`);
      if (failed) throw new CommandRefused('', true);
      return;
    }
    for (const w of warnings) io.err(`${formatLocated(w)}\n`);
    printPassed(objects, validator !== undefined, io);
    if (errors.length > 0) throw new CommandRefused(errors.map(formatLocated).join('\n'));
    failOnWarnings(flags.strict, warnings);
  });
}

/** One `ok` line per object that passed. */
function printPassed(objects: readonly ObjectReport[], schema: boolean, io: CliIo): void {
  for (const o of objects) {
    if (o.status !== 'ok' && o.status !== 'rewritten') continue;
    io.out(`${o.file}:${o.line}: ${o.object}: ok${o.status === 'rewritten' ? ' (rewritten)' : ''}${schema ? ', valid against the CRD schema' : ''}\n`);
  }
}

/** Each object's outcome, in file order, and the CRD schema problems of those that rendered. */
function judge(collected: Collected, validator: CrdValidator | undefined, strict: boolean): { objects: ObjectReport[]; invalid: LocatedDiagnostic[] } {
  const objects: ObjectReport[] = [];
  const invalid: LocatedDiagnostic[] = [];
  for (const { object, doc, changed, diagnostics } of collected.results) {
    const name = describeObject(object);
    const found = validator ? validateWithEmbedded(validator, object) : [];
    invalid.push(...found.map((p) => locate({ severity: 'error' as const, object: name, path: p.path, message: p.message }, doc, collected.docs)));
    const warned = strict && diagnostics.some((d) => d.severity === 'warning');
    objects.push({ file: doc.file, line: doc.line, object: name, status: found.length > 0 ? 'invalid' : warned ? 'warned' : changed ? 'rewritten' : 'ok' });
  }
  const refused = new Map<string, LocatedDiagnostic>();
  for (const d of collected.refusals) if (!refused.has(`${d.document.file}:${d.document.line}`)) refused.set(`${d.document.file}:${d.document.line}`, d);
  for (const d of refused.values()) objects.push({ file: d.document.file, line: d.document.line, object: d.document.object, status: 'refused' });
  objects.sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1));
  return { objects, invalid };
}

/** A diagnostic as `-o json` writes it: location first, every field named. */
function located(d: LocatedDiagnostic): Record<string, unknown> {
  return { file: d.file, line: d.line, ...(d.column !== undefined ? { column: d.column } : {}), severity: d.severity, object: d.object, path: d.path, message: d.message };
}
