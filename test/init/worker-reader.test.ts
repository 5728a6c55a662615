/**
 * Large values are hashed on a second thread while substitute reads and writes them (init/worker-reader.ts): the digest must be
 * the same as in line, the bytes copied must be the file's, and a changed file must still be refused, whatever chunk
 * is changed, with every original script intact.
 */
import test, { type ExecutionContext } from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { WorkerReader, WORKER_MIN_BYTES } from '../../init/worker-reader.js';
import { makeVolume, RUN_DIR, runCli, tempDir, writeResult, type CliRun } from './temp-volume.js';

const SIZE = WORKER_MIN_BYTES + 3 * 1024 * 1024 + 17; // on the worker, and not a whole number of chunks

test('the worker reader hands out the file’s bytes in order and their digest, buffers reused by the ring rule', async (t) => {
  const dir = await tempDir(t, 'tlr-worker-reader-');
  const data = randomBytes(SIZE);
  await writeFile(join(dir, 'f'), data);
  const handle = await open(join(dir, 'f'), 'r');
  const reader = new WorkerReader(handle, SIZE, 6, 256 * 1024);
  try {
    const hash = createHash('sha256');
    let offset = 0;
    const recent: Buffer[] = [];
    for await (const chunk of reader.chunks()) {
      t.true(chunk.equals(data.subarray(offset, offset + chunk.length)), `chunk at ${offset}`);
      // The 4 chunks before this one are still intact (the consumer may still be writing them).
      for (const [i, b] of recent.entries()) t.is(b.length, 256 * 1024, `held chunk ${i}`);
      recent.push(chunk);
      if (recent.length > 4) recent.shift();
      hash.update(chunk);
      offset += chunk.length;
    }
    t.is(offset, SIZE);
    t.deepEqual(reader.digest, { sha256: createHash('sha256').update(data).digest('hex'), bytes: SIZE });
    t.is(hash.digest('hex'), reader.digest.sha256);
  } finally {
    await reader.close();
    await handle.close();
  }
});

test('a file shorter than expected ends early with the bytes there were (the caller refuses it)', async (t) => {
  const dir = await tempDir(t, 'tlr-worker-reader-');
  await writeFile(join(dir, 'f'), randomBytes(1000));
  const handle = await open(join(dir, 'f'), 'r');
  const reader = new WorkerReader(handle, SIZE, 6, 256 * 1024);
  try {
    let n = 0;
    for await (const chunk of reader.chunks()) n += chunk.length;
    t.is(n, 1000);
    t.is(reader.digest.bytes, 1000);
  } finally {
    await reader.close();
    await handle.close();
  }
});

test('a consumer that stops early (a refusal while writing) can close the reader and then the file: nothing is read after', async (t) => {
  const dir = await tempDir(t, 'tlr-worker-reader-');
  await writeFile(join(dir, 'f'), randomBytes(SIZE));
  const handle = await open(join(dir, 'f'), 'r');
  let reads = 0;
  // The handle as the reader sees it, counting the reads it starts.
  const counted = new Proxy(handle, {
    get: (target, key): unknown => (key === 'read' ? (...args: Parameters<FileHandle['read']>) => (reads++, target.read(...args)) : Reflect.get(target, key, target)),
  });
  const reader = new WorkerReader(counted, SIZE, 6, 256 * 1024);
  let n = 0;
  for await (const chunk of reader.chunks()) {
    n += chunk.length;
    if (n >= 1024 * 1024) break;
  }
  await reader.close();
  const readsAtClose = reads;
  await handle.close();
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.true(readsAtClose >= 4, 'the reads went through the counted handle');
  t.is(reads, readsAtClose, 'no read started once the reader was closed');
  t.is(n, 1024 * 1024);
  t.throws(() => reader.digest, { message: /digest before the last chunk/ });
});

async function substituteLarge(
  t: ExecutionContext,
  tamper?: (file: string) => Promise<void>,
): Promise<{ run: CliRun; script: string; original: string; value: string }> {
  const volume = await makeVolume(t);
  const value = randomBytes(SIZE).toString('base64').slice(0, SIZE); // text, no heredoc delimiter line
  const reference = await writeResult(volume, 'big', value);
  if (tamper) await tamper(join(volume.producerDir, 'big'));
  const script = join(volume.scriptsDir, 'script-0-x');
  const original = `#!/bin/sh\ncat <<'TLR_END'\n${reference}\nTLR_END\n`;
  await writeFile(script, original, { mode: 0o755 });
  const run = await runCli(
    ['substitute', '--root', volume.root, '--run-dir', RUN_DIR, '--scripts', volume.scriptsDir, '--max-substituted', String(2 * SIZE)],
    { TLR_REFS: `producer/big=${reference}` },
  );
  return { run, script, original, value };
}

test('substitute of a value hashed on the worker writes exactly the file’s bytes', async (t) => {
  const { run, script, value } = await substituteLarge(t);
  t.is(run.code, 0, run.stderr + run.stdout);
  t.is(await readFile(script, 'utf8'), `#!/bin/sh\ncat <<'TLR_END'\n${value}\nTLR_END\n`);
});

for (const [where, offset] of [['first chunk', 5], ['a middle chunk', Math.floor(SIZE / 2)], ['the last byte', SIZE - 1]] as const) {
  test(`a value changed in ${where} is refused by the worker’s digest; the script is left intact`, async (t) => {
    const { run, script, original } = await substituteLarge(t, async (file) => {
      const handle = await open(file, 'r+');
      try {
        const byte = Buffer.alloc(1);
        await handle.read(byte, 0, 1, offset);
        byte[0] = byte[0] === 0x41 ? 0x42 : 0x41;
        await handle.write(byte, 0, 1, offset);
      } finally {
        await handle.close();
      }
    });
    t.is(run.code, 1);
    t.regex(run.stdout + run.stderr, /does not match its reference: expected sha256 [0-9a-f]{64} and \d+ bytes, found sha256 [0-9a-f]{64}/);
    t.is(await readFile(script, 'utf8'), original);
  });
}

test('a ring or pool that could never move is refused when the reader is made, not left to hang', async (t) => {
  const dir = await tempDir(t, 'tlr-worker-reader-');
  await writeFile(join(dir, 'f'), 'x');
  const handle = await open(join(dir, 'f'), 'r');
  try {
    t.throws(() => new WorkerReader(handle, 1, 1, 1024), { message: /expected ring >= 2 and pool >= ring, found ring 1, pool 16/ });
    t.throws(() => new WorkerReader(handle, 1, 6, 1024, 5), { message: /found ring 6, pool 5/ });
  } finally {
    await handle.close();
  }
});
