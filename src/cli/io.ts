import type { Writable } from 'node:stream';

/** Where a command writes: injected so tests capture output without touching process streams. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  stdin(): Promise<string>;
  /** Standard output for bytes (`tlr fetch -o -`); process.stdout in the real CLI. */
  stdout?: Writable;
  /** Standard error as a stream, for progress bars when it is a terminal (`isTTY`); process.stderr in the real CLI. */
  stderr?: Writable & { isTTY?: boolean };
}
