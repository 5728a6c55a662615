/**
 * The project's error classes. Each has a stable `code` a caller can switch on, and a message that names the object,
 * the field path, what was expected and what was found, and what to do.
 */
export type ErrorCode =
  | 'E_REWRITE'
  | 'E_INPUT'
  | 'E_CONFIG'
  | 'E_YAML'
  | 'E_RESULT_MISSING'
  | 'E_RESULT_TOO_LARGE'
  | 'E_RESULT_UNSAFE'
  | 'E_RESULT_SHAPE'
  | 'E_DIGEST_MISMATCH'
  | 'E_NO_SPACE'
  | 'E_VOLUME_NOT_WRITABLE'
  | 'E_SCHEMA'
  | 'E_KUBECONFIG'
  | 'E_FETCH'
  /** Interrupted (Ctrl-C, SIGTERM): cleaned up, exit 130. */
  | 'E_INTERRUPTED';

export class TlrError extends Error {
  override readonly name: string = 'TlrError';
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A problem in a Tekton object that the rewrite refuses; `path` is the field path inside `object`. */
export interface Diagnostic {
  readonly severity: 'error' | 'warning';
  /** `Kind namespace/name`, e.g. `PipelineRun default/build-1`. */
  readonly object: string;
  /** e.g. `spec.pipelineSpec.tasks[2].taskSpec.steps[0].args[1]`. */
  readonly path: string;
  readonly message: string;
  /** The diagnostic is about the map key at `path` (an annotation's name), not its value: tools point at the key. */
  readonly key?: true;
}

export function formatDiagnostic(d: Diagnostic): string {
  return d.path === '' ? `${d.severity}: ${d.object}: ${d.message}` : `${d.severity}: ${d.object}: ${d.path}: ${d.message}`;
}

/** Thrown by the rewrite when it refuses an object; carries every diagnostic, not just the first. */
export class RewriteError extends TlrError {
  override readonly name = 'RewriteError';
  readonly diagnostics: readonly Diagnostic[];

  constructor(diagnostics: readonly Diagnostic[]) {
    const errors = diagnostics.filter((d) => d.severity === 'error');
    super('E_REWRITE', errors.map(formatDiagnostic).join('\n'));
    this.diagnostics = diagnostics;
  }
}
