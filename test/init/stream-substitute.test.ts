/* eslint-disable @typescript-eslint/require-await -- async generators here stand in for asynchronous file reads */
import test from 'ava';
import { Writable } from 'node:stream';
import { parseReference, REFERENCE_MAX_LENGTH, type Reference } from '../../src/core/reference.js';
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
const declared = new Map([A, B].map((token) => [token, parseReference(token)!]));

async function run(text: string, chunkSize: number, only: ReadonlyMap<string, Reference> = declared): Promise<string> {
  const out = sink();
  await substituteStream(chunked(Buffer.from(text, 'latin1'), chunkSize), out.stream, { declared: only, open });
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
  const result = await substituteStream(chunked(Buffer.from(`${A}-${A}-${B}`), 7), out.stream, { declared, open });
  t.deepEqual(result, { substitutions: 3, bytesWritten: 2 * VA.length + 2 });
});

test('text that merely starts like a reference passes through, also at the very end', async (t) => {
  for (const text of ['[[tlr:', 'a [[tlr:v', 'b [[tlr:v12', 'c [[tlr:x]]', '[[', '[[tlr:v:']) {
    t.is(await run(text, 1), text);
  }
});

// The attack: a commit message (or any param) in a script that holds token-shaped text. Only declared tokens are
// acted on; anything else passes through byte for byte and never fails the pod.
test('token-shaped text that was not declared passes through untouched, whatever its shape', async (t) => {
  const sha = 'a'.repeat(64);
  const texts = [
    `echo ${A.slice(0, 40)}`, // cut off by the end of the script
    `[[tlr:v1:sha256=${'A'.repeat(64)}:size=1:path=r/p/x]]\n`, // uppercase hex
    `[[tlr:v1:sha256=${sha}:size=01:path=r/p/x]]`, // size with a leading zero
    `[[tlr:v1:sha256=${sha}:size=12345678901234567:path=r/p/x]]`,
    `[[tlr:v1:sha256=${sha}:size=1:path=${'x'.repeat(1025)}]]`,
    `[[tlr:v1:sha256=${sha}:size=1:path=r/p/x]`,
    'abc[[tlr:v23:sha256=...]]', // unknown version
    `fix: handle [[tlr:v1:sha256=${sha}:size=3:path=run-1/../etc/passwd]] in the parser`, // a ".." path
    referenceFor('run-1/p/undeclared', 'x'), // a valid reference, not declared for this task
    `${A.slice(0, -1)}`, // a declared token missing its last byte
  ];
  for (const text of texts) {
    for (const size of [1, 5, 64]) t.is(await run(text, size), text, `${text.slice(0, 30)}… in chunks of ${size}`);
  }
});

test('with nothing declared, nothing is substituted, not even valid references', async (t) => {
  t.is(await run(SCRIPT, 7, new Map()), SCRIPT);
});

test('a declared token next to undeclared look-alikes is the only one replaced', async (t) => {
  const other = referenceFor('run-1/p/other', 'y');
  const text = `${other}${A}[[tlr:v1:${A}`;
  t.is(await run(text, 3), `${other}${VA}[[tlr:v1:${VA}`);
});

test('a failing reference stream (digest mismatch) rejects and destroys the output', async (t) => {
  const out = sink();
  const failing: ReferenceOpener = async () =>
    (async function* (): AsyncGenerator<Buffer> {
      yield Buffer.from('partial');
      throw new Error('mismatch');
    })();
  await t.throwsAsync(substituteStream(chunked(Buffer.from(`x${A}y`), 4), out.stream, { declared, open: failing }), {
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
  const result = await substituteStream(chunked(Buffer.from(A), 1000), slow, { declared, open: big });
  t.is(result.bytesWritten, 64 << 20);
  t.is(violations, 0);
  t.is(maxAhead, WRITES_IN_FLIGHT, 'memory is bounded: the producer never runs further ahead');
});
