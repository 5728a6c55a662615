import { formatDiagnostic, RewriteError, type Diagnostic } from '../errors.js';
import type { RewriteResult } from '../core/options.js';
import type { KubeObject } from '../api/tekton.js';
import type { YamlDocument } from '../yaml/documents.js';
import type { CliIo } from './io.js';
import { originLabel, originOf } from './origin.js';

export type RenderedDocument = RewriteResult<KubeObject> & { doc: YamlDocument };

/**
 * A diagnostic with where it is: the file, and the line and column of its field (else of the document). A field of a
 * Pipeline or Task a run inlined is located where its author wrote it, in that document (`object` and `path` then
 * name that document and its own field).
 */
export type LocatedDiagnostic = Diagnostic & {
  readonly file: string;
  readonly line: number;
  readonly column?: number;
  /** The document the diagnostic is about (the run, even when the field is in its Pipeline): file, first line, name. */
  readonly document: { readonly file: string; readonly line: number; readonly object: string };
};

/** `file:line:col: severity: object: path: message`, the one text form of a diagnostic. */
export function formatLocated(d: LocatedDiagnostic): string {
  return `${d.file}:${d.line}${d.column !== undefined ? `:${d.column}` : ''}: ${formatDiagnostic(d)}`;
}

/**
 * The diagnostic at its field's place: in the document's file, or, for a field of an inlined Pipeline or Task, in
 * the document among `docs` it came from.
 */
export function locate(d: Diagnostic, doc: YamlDocument, docs: readonly YamlDocument[] = []): LocatedDiagnostic {
  const document = { file: doc.file, line: doc.line, object: d.object };
  const origin = originOf(d.path, doc, docs);
  const target = origin?.doc ?? doc;
  const named = origin === undefined ? d : { ...d, object: originLabel(origin, d.object), path: origin.path };
  const at = target.locate?.(named.path, d.key === true);
  const where = { file: target.file, document };
  return at === undefined ? { ...named, ...where, line: target.line } : { ...named, ...where, line: at.line, column: at.col };
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
  /** Every document read (where inlined Pipelines and Tasks are located). */
  readonly docs: readonly YamlDocument[];
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
      refusals.push(...error.diagnostics.map((d) => locate(d, doc, docs)));
    }
  }
  return { results, refusals, docs };
}

/** Runs `fn` on every document; fails with every refusal once all were tried, so one run shows all problems. */
export function runAll(docs: readonly YamlDocument[], fn: (doc: YamlDocument) => RewriteResult<KubeObject>): RenderedDocument[] {
  const { results, refusals } = collectAll(docs, fn);
  if (refusals.length > 0) throw new CommandRefused(refusals.map(formatLocated).join('\n'));
  return results;
}

/** The warnings of the documents that passed, located (among `docs`, for fields of inlined Pipelines and Tasks). */
export function warningsOf(
  results: ReadonlyArray<{ diagnostics: readonly Diagnostic[]; doc: YamlDocument }>,
  docs: readonly YamlDocument[] = [],
): LocatedDiagnostic[] {
  return results.flatMap((r) => r.diagnostics.filter((d) => d.severity === 'warning').map((d) => locate(d, r.doc, docs)));
}

/** With --strict a warning fails the command (exit 1), once every warning has been printed. */
export function failOnWarnings(strict: boolean | undefined, warnings: readonly LocatedDiagnostic[]): void {
  if (strict === true && warnings.length > 0) {
    throw new CommandRefused(`error: ${warnings.length} warning(s), and --strict makes warnings failures`);
  }
}

export function reportWarnings(
  results: ReadonlyArray<{ diagnostics: readonly Diagnostic[]; doc: YamlDocument }>,
  io: CliIo,
  docs: readonly YamlDocument[] = [],
): void {
  for (const d of warningsOf(results, docs)) io.err(`${formatLocated(d)}\n`);
}
