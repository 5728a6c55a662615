/**
 * Large values are hashed on a second thread while substitute copies them (init/parallel-hash.ts): the digest must be
 * the same as in line, the bytes copied must be the file's, and a changed file must still be refused, whatever chunk
 * is changed, with every original script intact.
 */
import test, { type ExecutionContext } from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { chunkHasher, PARALLEL_MIN_BYTES } from '../../init/parallel-hash.js';
import { makeVolume, RUN_DIR, runCli, writeResult, type CliRun } from './temp-volume.js';

const SIZE = PARALLEL_MIN_BYTES + 3 * 1024 * 1024 + 17; // on the worker, and not a whole number of chunks

test('the worker hasher gives the same digest as hashing in line, slot by slot', async (t) => {
  const data = randomBytes(SIZE);
  const slotSize = 256 * 1024;
  const hasher = chunkHasher(SIZE, 4, slotSize);
  try {
    const pending: Array<Promise<void> | undefined> = [];
    for (let offset = 0, turn = 0; offset < data.length; offset += slotSize, turn++) {
      const slot = turn % 4;
      await pending[slot];
      const length = data.copy(hasher.slots[slot] as Buffer, 0, offset, offset + slotSize);
      pending[slot] = hasher.update(slot, length);
    }
    for (const p of pending) await p;
    t.is(await hasher.digest(), createHash('sha256').update(data).digest('hex'));
  } finally {
    await hasher.close();
  }
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
