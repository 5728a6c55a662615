import { formatDiagnostic, RewriteError, type Diagnostic } from '../errors.js';
import type { RewriteResult } from '../core/options.js';
import type { KubeObject } from '../api/tekton.js';
import type { YamlDocument } from '../yaml/documents.js';
import type { CliIo } from './io.js';

export type RenderedDocument = RewriteResult<KubeObject> & { doc: YamlDocument };

/** A refusal that already carries its `file:line` context; the CLI prints it and exits 1. */
export class CommandRefused extends Error {
  override readonly name = 'CommandRefused';
}

/**
 * Runs `fn` on every document, collecting every refusal (with the document's file and line) before failing, so one
 * run of the command shows all problems.
 */
export function runAll(docs: readonly YamlDocument[], fn: (doc: YamlDocument) => RewriteResult<KubeObject>): Array<RewriteResult<KubeObject> & { doc: YamlDocument }> {
  const results: Array<RewriteResult<KubeObject> & { doc: YamlDocument }> = [];
  const refusals: string[] = [];
  for (const doc of docs) {
    try {
      results.push({ ...fn(doc), doc });
    } catch (error) {
      if (!(error instanceof RewriteError)) throw error;
      refusals.push(...error.diagnostics.map((d) => `${doc.file}:${doc.line}: ${formatDiagnostic(d)}`));
    }
  }
  if (refusals.length > 0) throw new CommandRefused(refusals.join('\n'));
  return results;
}

export function reportWarnings(results: ReadonlyArray<{ diagnostics: readonly Diagnostic[]; doc: YamlDocument }>, io: CliIo): void {
  for (const r of results) {
    for (const d of r.diagnostics) if (d.severity === 'warning') io.err(`${r.doc.file}:${r.doc.line}: ${formatDiagnostic(d)}\n`);
  }
}
