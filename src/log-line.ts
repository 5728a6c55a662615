/**
 * The one JSON log line of every Tekton Large Results process: what pino writes for the controller and the webhook
 * (`makeLogger`: numeric levels, ISO time, `component` and `name`), and what tlr-init writes in pods, so one log
 * pipeline query reads them all: `{"level":30,"time":"…","component":"tlr-init","name":"tlr-init",…fields,"msg":"…"}`.
 */
export const LOG_LEVELS = { debug: 20, info: 30, warn: 40, error: 50 } as const;
export type LogLevel = keyof typeof LOG_LEVELS;

/** Keys the schema owns: a field by one of these names is dropped rather than written twice. */
const RESERVED = new Set(['level', 'time', 'component', 'name', 'msg']);

export function logLine(component: string, level: LogLevel, msg: string, fields: Readonly<Record<string, unknown>>, now: Date = new Date()): string {
  const own = Object.fromEntries(Object.entries(fields).filter(([key]) => !RESERVED.has(key)));
  return JSON.stringify({ level: LOG_LEVELS[level], time: now.toISOString(), component, name: component, ...own, msg });
}
