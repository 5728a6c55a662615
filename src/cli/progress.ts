/**
 * `tlr fetch`'s progress: on a terminal, one bar per result (cli-progress) with bytes, rate and ETA, redrawn in place
 * and cleared when the result is verified; when standard error is not a terminal (CI logs, a pipe) or with --quiet,
 * no progress at all: only the lines that say what happened. Log lines go through here so they never land inside a
 * bar that is being drawn.
 */
import type { Writable } from 'node:stream';
import { SingleBar } from 'cli-progress';
import { humanBytes } from './commands/results.js';

export interface FetchProgress {
  /** A line for standard error (what happened: the reader pod, each verified result). Not printed with --quiet. */
  log(line: string): void;
  /** A warning (a skipped result): printed even with --quiet. */
  warn(line: string): void;
  /** `bytes` of result `name` (of `total`) have arrived. */
  progress(name: string, bytes: number, total: number): void;
  /** Clears a bar being drawn (the transfer ended, failed or was interrupted). */
  stop(): void;
}

/** A terminal: a Writable with `isTTY` (process.stderr when it is one). */
type Terminal = Writable & { isTTY?: boolean; columns?: number };

export function fetchProgress(err: (text: string) => void, terminal: Terminal | undefined, quiet: boolean, now: () => number = Date.now): FetchProgress {
  const bars = !quiet && terminal?.isTTY === true ? new Bars(terminal, now) : undefined;
  return {
    log(line) {
      if (quiet) return;
      bars?.stop();
      err(`${line}\n`);
    },
    warn(line) {
      bars?.stop();
      err(`${line}\n`);
    },
    progress(name, bytes, total) {
      bars?.update(name, bytes, total);
    },
    stop() {
      bars?.stop();
    },
  };
}

class Bars {
  private bar: SingleBar | undefined;
  private name = '';
  private started = 0;

  constructor(private readonly terminal: Terminal, private readonly now: () => number) {}

  update(name: string, bytes: number, total: number): void {
    if (this.bar === undefined || name !== this.name) {
      this.stop();
      this.name = name;
      this.started = this.now();
      this.bar = new SingleBar({
        stream: this.terminal,
        format: `${name} [{bar}] {percentage}% | {done} / {size} | {rate} | ETA {left}`,
        barsize: 30,
        hideCursor: true,
        clearOnComplete: true,
        fps: 5,
        // cli-progress checks the stream; ours is a terminal by construction.
        noTTYOutput: false,
      });
      this.bar.start(total, 0, { done: humanBytes(0), size: humanBytes(total), rate: '-', left: '-' });
    }
    // The average since the start, as curl shows it: steadier than cli-progress's recent-updates ETA.
    const seconds = (this.now() - this.started) / 1000;
    const rate = seconds > 0 ? bytes / seconds : 0;
    this.bar.update(bytes, {
      done: humanBytes(bytes),
      size: humanBytes(total),
      rate: rate > 0 ? `${humanBytes(rate)}/s` : '-',
      left: rate > 0 ? duration((total - bytes) / rate) : '-',
    });
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

/** Seconds as a terminal shows them: 9s, 2m05s, 1h02m. */
export function duration(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
