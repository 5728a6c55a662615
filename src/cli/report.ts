import { formatDiagnostic, RewriteError, type Diagnostic } from '../errors.js';
import type { RewriteResult } from '../core/options.js';
import type { KubeObject } from '../api/tekton.js';
import type { YamlDocument } from '../yaml/documents.js';
import type { CliIo } from './io.js';

export type RenderedDocument = RewriteResult<KubeObject> & { doc: YamlDocument };

/** A diagnostic with where it is: the file, and the line and column of its field (else of the document). */
export type LocatedDiagnostic = Diagnostic & {
  readonly file: string;
  readonly line: number;
  readonly column?: number;
  /** The first line of the document it is about (which object it is, in its file). */
  readonly document: number;
};

/** `file:line:col: severity: object: path: message`, the one text form of a diagnostic. */
export function formatLocated(d: LocatedDiagnostic): string {
  return `${d.file}:${d.line}${d.column !== undefined ? `:${d.column}` : ''}: ${formatDiagnostic(d)}`;
}

/** The diagnostic at its field's place in the document's file. */
export function locate(d: Diagnostic, doc: YamlDocument): LocatedDiagnostic {
  const at = doc.locate?.(d.path, d.key === true);
  const where = { file: doc.file, document: doc.line };
  return at === undefined ? { ...d, ...where, line: doc.line } : { ...d, ...where, line: at.line, column: at.col };
}

/**
 * A refusal that already carries its `file:line` context; the CLI prints it and exits 1. `silent`: the command
 * already said everything (`-o json`), only the exit code is left.
 */
export class CommandRefused extends Error {
  override readonly name = 'CommandRefused';
  constructor(message: string, readonly silent = false) {
    super(message);
  }
}

/** What every document gave: the results of those that passed, and the refusals of the others. */
export interface Collected {
  readonly results: RenderedDocument[];
  readonly refusals: LocatedDiagnostic[];
}

/** Runs `fn` on every document, collecting every refusal (with the document's file and line) instead of stopping. */
export function collectAll(docs: readonly YamlDocument[], fn: (doc: YamlDocument) => RewriteResult<KubeObject>): Collected {
  const results: RenderedDocument[] = [];
  const refusals: LocatedDiagnostic[] = [];
  for (const doc of docs) {
    try {
      results.push({ ...fn(doc), doc });
    } catch (error) {
      if (!(error instanceof RewriteError)) throw error;
      refusals.push(...error.diagnostics.map((d) => locate(d, doc)));
    }
  }
  return { results, refusals };
}

/** Runs `fn` on every document; fails with every refusal once all were tried, so one run shows all problems. */
export function runAll(docs: readonly YamlDocument[], fn: (doc: YamlDocument) => RewriteResult<KubeObject>): RenderedDocument[] {
  const { results, refusals } = collectAll(docs, fn);
  if (refusals.length > 0) throw new CommandRefused(refusals.map(formatLocated).join('\n'));
  return results;
}

/** The warnings of the documents that passed, located. */
export function warningsOf(results: ReadonlyArray<{ diagnostics: readonly Diagnostic[]; doc: YamlDocument }>): LocatedDiagnostic[] {
  return results.flatMap((r) => r.diagnostics.filter((d) => d.severity === 'warning').map((d) => locate(d, r.doc)));
}

/** With --strict a warning fails the command (exit 1), once every warning has been printed. */
export function failOnWarnings(strict: boolean | undefined, warnings: readonly LocatedDiagnostic[]): void {
  if (strict === true && warnings.length > 0) {
    throw new CommandRefused(`error: ${warnings.length} warning(s), and --strict makes warnings failures`);
  }
}

export function reportWarnings(results: ReadonlyArray<{ diagnostics: readonly Diagnostic[]; doc: YamlDocument }>, io: CliIo): void {
  for (const d of warningsOf(results)) io.err(`${formatLocated(d)}\n`);
}
