/**
 * Seal publishes only references it wrote itself, whatever a step leaves in /tekton/results/<name>: each test is an
 * attack (or an accident) that made it publish something else before.
 */
import test from 'ava';
import { appendFile, lstat, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { moveClassicValue } from '../../init/classic-value.js';
import { sealResult, type SealOptions } from '../../init/seal.js';
import { refusedNotice } from '../../init/seal-notice.js';
import { parseReference } from '../../src/core/reference.js';
import { collectLog, makeVolume, PRODUCER, referenceFor, RUN_DIR, type TempVolume } from './temp-volume.js';

const DIR = `${RUN_DIR}/${PRODUCER}`;

function optionsFor(volume: TempVolume, maxSize = 1 << 20): SealOptions {
  return { root: volume.root, dir: DIR, resultsDir: volume.resultsDir, maxSize, log: collectLog().log };
}

/** Another task's result in the same run, which a forged reference would alias. */
async function otherTasksFile(volume: TempVolume): Promise<string> {
  await mkdir(join(volume.root, RUN_DIR, 'other'), { recursive: true });
  await writeFile(join(volume.root, RUN_DIR, 'other', 'secret'), 'the other task\'s value');
  return referenceFor(`${RUN_DIR}/other/secret`, "the other task's value");
}

test('a hand-made reference to another task\'s file is sealed as the text it is, never published as a reference', async (t) => {
  const volume = await makeVolume(t);
  const forged = await otherTasksFile(volume);
  await writeFile(join(volume.resultsDir, 'r'), forged);
  const outcome = await sealResult('r', optionsFor(volume));
  const published = await readFile(join(volume.resultsDir, 'r'), 'utf8');
  t.like(outcome, { status: 'sealed', reference: published });
  t.is(parseReference(published)?.path, `${DIR}/r`, 'the published reference names this task\'s own file');
  t.is(published, referenceFor(`${DIR}/r`, forged), 'whose content is the forged text itself');
  t.is(await readFile(join(volume.producerDir, 'r'), 'utf8'), forged);
});

test('a malformed or ".." token in /tekton/results is a value too: consumers and tlr fetch get a valid reference', async (t) => {
  const volume = await makeVolume(t);
  const tokens = [
    `[[tlr:v1:sha256=${'a'.repeat(64)}:size=3:path=${RUN_DIR}/../../etc/passwd]]`,
    '[[tlr:v1:sha256=nothex:size=1:path=x]]',
    '[[tlr:v7:anything]]',
  ];
  for (const [i, token] of tokens.entries()) {
    await writeFile(join(volume.resultsDir, `r${i}`), token);
    const outcome = await sealResult(`r${i}`, optionsFor(volume));
    t.like(outcome, { status: 'sealed' });
    t.is(await readFile(join(volume.resultsDir, `r${i}`), 'utf8'), referenceFor(`${DIR}/r${i}`, token));
  }
});

test('a value on the volume and another in /tekton/results (written through a param): refused, neither published', async (t) => {
  const volume = await makeVolume(t);
  await writeFile(join(volume.producerDir, 'r'), 'stale, written early');
  await writeFile(join(volume.resultsDir, 'r'), 'the real value');
  const error = await t.throwsAsync(sealResult('r', optionsFor(volume)));
  const classic = join(volume.resultsDir, 'r');
  t.is(
    error.message,
    `Result "r" was written twice: to ${join(volume.producerDir, 'r')} on the result volume (20 bytes) and the ` +
      `classic way to ${classic} (14 bytes); expected only the file on the volume. Refused, so that neither a stale ` +
      'file nor a value meant for the other place is published. Write the value only to $(results.r.path); a path ' +
      `passed on through a param, or written by hand, still names ${classic}; ${classic} holds a notice instead of a reference`,
  );
  t.like(error, { code: 'E_RESULT_UNSAFE' });
  t.is(await readFile(classic, 'utf8'), refusedNotice('r'));
  t.is(await readFile(join(volume.producerDir, 'r'), 'utf8'), 'stale, written early', 'the volume file is left alone');
});

test('a forged reference to this very file, beside it, with another digest: refused', async (t) => {
  const volume = await makeVolume(t);
  await writeFile(join(volume.producerDir, 'r'), 'value');
  await writeFile(join(volume.resultsDir, 'r'), referenceFor(`${DIR}/r`, 'VALUE'));
  const error = await t.throwsAsync(sealResult('r', optionsFor(volume)));
  t.regex(error.message, /^Result "r" was written twice/);
  t.is(await readFile(join(volume.resultsDir, 'r'), 'utf8'), refusedNotice('r'));
});

test('sealing twice is harmless: the reference seal wrote before is recognised', async (t) => {
  const volume = await makeVolume(t);
  await writeFile(join(volume.producerDir, 'r'), 'value');
  const first = await sealResult('r', optionsFor(volume));
  const again = await sealResult('r', optionsFor(volume));
  t.deepEqual(again, first);
  t.is(await readFile(join(volume.resultsDir, 'r'), 'utf8'), referenceFor(`${DIR}/r`, 'value'));
});

test('a classic value over the limit is refused before anything is copied onto the volume', async (t) => {
  const volume = await makeVolume(t);
  const classic = join(volume.resultsDir, 'big');
  await writeFile(classic, Buffer.alloc(5000));
  const error = await t.throwsAsync(sealResult('big', optionsFor(volume, 4096)));
  t.is(
    error.message,
    `Result "big": ${classic} is 5000 bytes, over the limit of 4096 bytes (config key maxResultSize); nothing was ` +
      `copied. Write less or ask your admin to raise the limit; ${classic} holds a notice instead of a reference`,
  );
  t.deepEqual(await readdir(volume.producerDir), []);
});

test('a classic value that grows after it was checked is refused, and only the checked bytes were copied', async (t) => {
  const volume = await makeVolume(t);
  const classic = join(volume.resultsDir, 'r');
  await writeFile(classic, 'x'.repeat(100));
  const checked = await lstat(classic);
  await appendFile(classic, 'y'.repeat(1 << 20)); // grows between the check and the copy
  const error = await t.throwsAsync(moveClassicValue(classic, checked, join(volume.producerDir, 'r'), 'Result "r"', 1000));
  t.is(
    error.message,
    `Result "r": ${classic} changed while it was being moved onto the result volume: expected 100 bytes, found more; ` +
      "make sure nothing still writes to it when the task's steps end",
  );
  t.deepEqual(await readdir(volume.producerDir), [], 'the partial copy is removed');
});
