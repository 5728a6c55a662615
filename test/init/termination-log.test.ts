import test from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TERMINATION_LOG_MAX_BYTES, writeTerminationLog } from '../../init/termination-log.js';
import { tempDir } from './temp-volume.js';

test('writes the message into an existing termination log, replacing its content', async (t) => {
  const path = join(await tempDir(t, 'tlr-term-'), 'termination-log');
  await writeFile(path, 'previous content that is longer');
  t.true(await writeTerminationLog('boom', path));
  t.is(await readFile(path, 'utf8'), 'boom');
});

test('never creates the termination log', async (t) => {
  const dir = await tempDir(t, 'tlr-term-');
  t.false(await writeTerminationLog('boom', join(dir, 'absent')));
  await t.throwsAsync(readFile(join(dir, 'absent')));
});

test('keeps the message within the 4096 bytes Kubernetes reads', async (t) => {
  const path = join(await tempDir(t, 'tlr-term-'), 'termination-log');
  await writeFile(path, '');
  await writeTerminationLog('é'.repeat(5000), path);
  const written = await readFile(path, 'utf8');
  t.true(Buffer.byteLength(written) <= TERMINATION_LOG_MAX_BYTES);
  t.true(written.endsWith('...'));
});
