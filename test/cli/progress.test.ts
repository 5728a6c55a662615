/**
 * `tlr fetch`'s progress: on a terminal a bar with bytes, rate and ETA, cleared before any line is printed; not on a
 * terminal (CI logs, pipes) or with --quiet, no progress at all; warnings always.
 */
import test from 'ava';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { duration, fetchProgress } from '../../src/cli/progress.js';

const GIB = 1024 ** 3;

/** A stream that says it is a terminal, 120 columns wide, keeping what is drawn. */
function terminal(tty: boolean): Writable & { isTTY: boolean; columns: number; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _e, cb): void {
      chunks.push(chunk.toString());
      cb();
    },
  }) as Writable & { isTTY: boolean; columns: number; text: () => string; cursorTo: () => boolean; clearLine: () => boolean; moveCursor: () => boolean };
  stream.isTTY = tty;
  stream.columns = 120;
  // What cli-progress calls on a TTY stream (readline's, on process.stderr).
  stream.cursorTo = () => true;
  stream.clearLine = () => true;
  stream.moveCursor = () => true;
  stream.text = () => chunks.join('');
  return stream;
}

test('on a terminal: one bar per result with bytes, rate and ETA; a log line clears it first', async (t) => {
  const tty = terminal(true);
  const lines: string[] = [];
  let clock = 0;
  const progress = fetchProgress((text) => lines.push(text), tty, false, () => clock);
  progress.log('started reader pod ci/tlr-fetch-1 on PVC p');
  progress.progress('build.artifact', 0, GIB);
  clock = 4000;
  progress.progress('build.artifact', GIB / 4, GIB);
  await sleep(450); // cli-progress redraws at its own rate (fps 5)
  const drawn = tty.text();
  t.regex(drawn, /build\.artifact \[[^\]]+\] 25% \| 256\.0 MiB \/ 1\.0 GiB \| 64\.0 MiB\/s \| ETA 12s/, 'the average rate; what is left at that rate');
  progress.log('build.artifact: 1073741824 bytes, sha256 … verified -> out/build.artifact');
  t.deepEqual(lines, ['started reader pod ci/tlr-fetch-1 on PVC p\n', 'build.artifact: 1073741824 bytes, sha256 … verified -> out/build.artifact\n']);
  progress.stop();
});

test('not a terminal, or --quiet: no progress at all; --quiet keeps warnings only', async (t) => {
  const pipe = terminal(false);
  const lines: string[] = [];
  const plain = fetchProgress((text) => lines.push(text), pipe, false);
  plain.progress('r', GIB / 2, GIB);
  plain.log('a line');
  await sleep(250);
  t.is(pipe.text(), '');
  t.deepEqual(lines, ['a line\n']);

  const tty = terminal(true);
  const quietLines: string[] = [];
  const quiet = fetchProgress((text) => quietLines.push(text), tty, true);
  quiet.progress('r', GIB / 2, GIB);
  quiet.log('started reader pod');
  quiet.warn('skipped result x: not stored by reference');
  await sleep(250);
  t.is(tty.text(), '');
  t.deepEqual(quietLines, ['skipped result x: not stored by reference\n']);
});

test('durations read as a terminal shows them (sizes as tlr results shows them: fetch-units.test.ts)', (t) => {
  t.deepEqual([0.2, 9, 125, 3720].map(duration), ['1s', '9s', '2m05s', '1h02m']);
});
