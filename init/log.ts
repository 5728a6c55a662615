/**
 * Logging of tlr-init: one JSON object per line on stdout for what was done (easy to grep and to parse from
 * `kubectl logs`), plain text on stderr for problems (read by humans first).
 */
export type LogFields = Record<string, string | number | boolean>;

export type Logger = (msg: string, fields: LogFields) => void;

/** Writes `{"level":"info","msg":...,...fields}` as one line to stdout. */
export function logInfo(msg: string, fields: LogFields): void {
  process.stdout.write(`${JSON.stringify({ level: 'info', msg, ...fields })}\n`);
}

/** Writes a human-readable problem to stderr, one message per call. */
export function logProblem(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Writes `{"level":"warn","msg":...,...fields}` as one line to stdout (something done that deserves a look). */
export function logWarning(msg: string, fields: LogFields): void {
  process.stdout.write(`${JSON.stringify({ level: 'warn', msg, ...fields })}\n`);
}
