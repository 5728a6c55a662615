import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

/** Where Kubernetes reads a container's termination message (`terminationMessagePath`'s default). */
export const DEFAULT_TERMINATION_LOG = '/dev/termination-log';
/** Kubernetes keeps at most 4096 bytes of a container's termination message. */
export const TERMINATION_LOG_MAX_BYTES = 4096;

/** The termination-log path: `$TLR_TERMINATION_LOG` when set (tests), else /dev/termination-log. */
export function terminationLogPath(): string {
  return process.env.TLR_TERMINATION_LOG ?? DEFAULT_TERMINATION_LOG;
}

/**
 * Writes `message` to the termination log so `kubectl describe pod` shows it under the failed init container.
 * Only when the file already exists and is writable (never creates it): outside Kubernetes nothing happens.
 * Never throws: failing to report a failure must not hide the failure itself. Returns whether it wrote.
 */
export async function writeTerminationLog(message: string, path: string = terminationLogPath()): Promise<boolean> {
  try {
    const handle = await open(path, constants.O_WRONLY | constants.O_TRUNC);
    try {
      await handle.writeFile(truncateBytes(message, TERMINATION_LOG_MAX_BYTES));
    } finally {
      await handle.close();
    }
    return true;
  } catch {
    return false;
  }
}

/** Cuts `text` so that its UTF-8 encoding fits in `max` bytes, marking the cut with "...". */
export function truncateBytes(text: string, max: number): string {
  if (Buffer.byteLength(text) <= max) return text;
  let cut = text.slice(0, max - 3);
  while (Buffer.byteLength(cut) > max - 3) cut = cut.slice(0, -1);
  return `${cut}...`;
}
