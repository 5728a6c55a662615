/* eslint-disable @typescript-eslint/require-await -- async generators here stand in for asynchronous file reads */
import test from 'ava';
import { Writable } from 'node:stream';
import { REFERENCE_MAX_LENGTH, type Reference } from '../../src/core/reference.js';
import { substituteStream, WRITES_IN_FLIGHT, type ReferenceOpener } from '../../init/stream-substitute.js';
import { referenceFor } from './temp-volume.js';

const A = referenceFor('run-1/p/a', 'x');
const B = referenceFor('run-1/p/b', 'x');
const VALUES: Record<string, string> = { 'run-1/p/a': '<value A with [[tlr: inside]>', 'run-1/p/b': '' };

/** Splits text into chunks of `size` bytes. */
async function* chunked(data: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

function sink(): { stream: Writable; data: () => Buffer } {
  const parts: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback): void {
      parts.push(Buffer.from(chunk));
      callback();
    },
  });
  return { stream, data: () => Buffer.concat(parts) };
}

const open: ReferenceOpener = async (reference: Reference) => chunked(Buffer.from(VALUES[reference.path]!), 3);

async function run(text: string, chunkSize: number): Promise<string> {
  const out = sink();
  await substituteStream(chunked(Buffer.from(text, 'latin1'), chunkSize), out.stream, open, 'Script s');
  return out.data().toString('latin1');
}

const SCRIPT = `#!/bin/sh\n[[[tlr:${A}]]\n${B}${A}\necho '[[tlr:v1' [[ [[tl\n${A}`;
const VA = VALUES['run-1/p/a']!;
const EXPECTED = `#!/bin/sh\n[[[tlr:${VA}]]\n${VA}\necho '[[tlr:v1' [[ [[tl\n${VA}`;

test('tokens split across 1-byte chunks are found and replaced', async (t) => {
  t.is(await run(SCRIPT, 1), EXPECTED);
});

test('every chunk size gives the same output', async (t) => {
  const sizes = [2, 3, 5, 6, 7, 13, 64, 100, 127, 128, 129, REFERENCE_MAX_LENGTH, SCRIPT.length, 1 << 16];
  for (const size of sizes) t.is(await run(SCRIPT, size), EXPECTED, `chunk size ${size}`);
});

test('counts substitutions and bytes written', async (t) => {
  const out = sink();
  const result = await substituteStream(chunked(Buffer.from(`${A}-${A}-${B}`), 7), out.stream, open, 'Script s');
  t.deepEqual(result, { substitutions: 3, bytesWritten: 2 * VA.length + 2 });
});

test('text that merely starts like a reference passes through, also at the very end', async (t) => {
  for (const text of ['[[tlr:', 'a [[tlr:v', 'b [[tlr:v12', 'c [[tlr:x]]', '[[', '[[tlr:v:']) {
    t.is(await run(text, 1), text);
  }
});

test('a v1 reference cut off by the end of the script is refused', async (t) => {
  const error = await t.throwsAsync(run(`echo ${A.slice(0, 40)}`, 1));
  t.is(
    error.message,
    `Script s contains a malformed reference at byte 5: "${A.slice(0, 40)}"; expected ` +
      '[[tlr:v1:sha256=<64 hex digits>:size=<bytes>:path=<run-dir>/<producer>/<result>]]',
  );
});

test('a malformed v1 reference is refused (uppercase hex, size with a leading zero, path too long)', async (t) => {
  const sha = 'a'.repeat(64);
  const bad = [
    `[[tlr:v1:sha256=${'A'.repeat(64)}:size=1:path=r/p/x]]`,
    `[[tlr:v1:sha256=${sha}:size=01:path=r/p/x]]`,
    `[[tlr:v1:sha256=${sha}:size=12345678901234567:path=r/p/x]]`,
    `[[tlr:v1:sha256=${sha}:size=1:path=${'x'.repeat(1025)}]]`,
    `[[tlr:v1:sha256=${sha}:size=1:path=r/p/x]`,
  ];
  for (const token of bad) {
    const error = await t.throwsAsync(run(`${token}\n`, 5));
    t.regex(error.message, /^Script s contains a malformed reference at byte 0/);
  }
});

test('an unknown version is refused even when split across chunks', async (t) => {
  const error = await t.throwsAsync(run('abc[[tlr:v23:sha256=...]]', 1));
  t.is(
    error.message,
    'Script s contains a reference of unknown version v23 at byte 3: this tlr-init understands only v1 references; ' +
      'use the tlr-init image of the same release as the controller',
  );
});

test('a failing reference stream (digest mismatch) rejects and destroys the output', async (t) => {
  const out = sink();
  const failing: ReferenceOpener = async () =>
    (async function* (): AsyncGenerator<Buffer> {
      yield Buffer.from('partial');
      throw new Error('mismatch');
    })();
  await t.throwsAsync(substituteStream(chunked(Buffer.from(`x${A}y`), 4), out.stream, failing, 'Script s'), {
    message: 'mismatch',
  });
  t.true(out.stream.destroyed);
});

test('backpressure: chunk k is asked for only once chunks up to k-1-WRITES_IN_FLIGHT are written', async (t) => {
  const chunk = Buffer.alloc(1 << 20, 1);
  let written = 0;
  let violations = 0;
  let maxAhead = 0;
  const big: ReferenceOpener = async () =>
    (async function* (): AsyncGenerator<Buffer> {
      for (let k = 0; k < 64; k++) {
        if (written < k - WRITES_IN_FLIGHT) violations++; // a ring of WRITES_IN_FLIGHT + 2 buffers relies on this
        maxAhead = Math.max(maxAhead, k - written);
        yield chunk;
      }
    })();
  const slow = new Writable({
    highWaterMark: 1 << 16,
    write(_chunk, _encoding, callback): void {
      setImmediate(() => {
        written++;
        callback();
      });
    },
  });
  const result = await substituteStream(chunked(Buffer.from(A), 1000), slow, big, 'Script s');
  t.is(result.bytesWritten, 64 << 20);
  t.is(violations, 0);
  t.is(maxAhead, WRITES_IN_FLIGHT, 'memory is bounded: the producer never runs further ahead');
});
