/**
 * Logging of tlr-init: one JSON object per line on stdout for what was done (easy to grep and to parse from
 * `kubectl logs`), in the servers' schema (src/log-line.ts), plain text on stderr for problems (read by humans first).
 */
import { logLine } from '../src/log-line.js';

export type LogFields = Record<string, string | number | boolean>;

export type Logger = (msg: string, fields: LogFields) => void;

/** Writes `{"level":30,"time":…,"component":"tlr-init",…fields,"msg":…}` as one line to stdout. */
export function logInfo(msg: string, fields: LogFields): void {
  process.stdout.write(`${logLine('tlr-init', 'info', msg, fields)}\n`);
}

/** Writes a human-readable problem to stderr, one message per call. */
export function logProblem(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** The same at level warn (40): something done that deserves a look. */
export function logWarning(msg: string, fields: LogFields): void {
  process.stdout.write(`${logLine('tlr-init', 'warn', msg, fields)}\n`);
}
