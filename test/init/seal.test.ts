import test from 'ava';
import { link, mkdir, readFile, readdir, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sealResult, sealResults, type SealOptions } from '../../init/seal.js';
import { notProducedNotice, refusedNotice } from '../../init/seal-notice.js';
import { collectLog, makeVolume, PRODUCER, referenceFor, RUN_DIR, type TempVolume } from './temp-volume.js';

const DIR = `${RUN_DIR}/${PRODUCER}`;

type Lines = ReturnType<typeof collectLog>['lines'];

function optionsFor(volume: TempVolume, maxSize = 1 << 20): SealOptions & { lines: Lines } {
  const { lines, log } = collectLog();
  return { root: volume.root, dir: DIR, resultsDir: volume.resultsDir, maxSize, log, lines };
}

test('seal writes the reference of the value file into the results directory', async (t) => {
  const volume = await makeVolume(t);
  const content = 'x'.repeat(100_000);
  await writeFile(join(volume.producerDir, 'out'), content);
  const options = optionsFor(volume);
  const outcome = await sealResult('out', options);
  const expected = referenceFor(`${DIR}/out`, content);
  t.deepEqual(outcome, { name: 'out', status: 'sealed', reference: expected, bytes: 100_000 });
  t.is(await readFile(join(volume.resultsDir, 'out'), 'utf8'), expected);
  t.is(options.lines.length, 1);
  t.like(options.lines[0], { msg: 'Sealed result', result: 'out', path: `${DIR}/out`, bytes: 100_000 });
  t.deepEqual(await readdir(volume.resultsDir), ['out'], 'no temp file left');
});

test('seal of an empty file gives a reference of size 0', async (t) => {
  const volume = await makeVolume(t);
  await writeFile(join(volume.producerDir, 'empty'), '');
  const outcome = await sealResult('empty', optionsFor(volume));
  t.is(outcome.status === 'sealed' && outcome.reference, referenceFor(`${DIR}/empty`, ''));
});

test('a missing result is reported, gets a notice (no reference), and it is not a failure', async (t) => {
  const volume = await makeVolume(t);
  const outcome = await sealResult('absent', optionsFor(volume));
  const classic = join(volume.resultsDir, 'absent');
  t.deepEqual(outcome, {
    name: 'absent',
    status: 'missing',
    message:
      `Result "absent" was not produced: ${join(volume.producerDir, 'absent')} does not exist; its consumers will ` +
      `fail in their tlr-substitute init container, saying so; ${classic} holds a notice instead of a reference`,
  });
  t.is(await readFile(classic, 'utf8'), notProducedNotice('absent'));
});

test('a small value written the classic way is moved onto the volume and sealed', async (t) => {
  const volume = await makeVolume(t);
  await writeFile(join(volume.resultsDir, 'small'), 'hello');
  const options = optionsFor(volume);
  const outcome = await sealResult('small', options);
  const expected = referenceFor(`${DIR}/small`, 'hello');
  t.like(outcome, { status: 'sealed', reference: expected });
  t.is(await readFile(join(volume.producerDir, 'small'), 'utf8'), 'hello');
  t.is(await readFile(join(volume.resultsDir, 'small'), 'utf8'), expected);
  t.deepEqual(
    options.lines.map((l) => l.msg),
    ['Moved result value onto the result volume', 'Sealed result'],
  );
});

test('a result over the limit is refused with both sizes', async (t) => {
  const volume = await makeVolume(t);
  await writeFile(join(volume.producerDir, 'big'), Buffer.alloc(2048));
  const error = await t.throwsAsync(sealResult('big', optionsFor(volume, 1000)));
  const classic = join(volume.resultsDir, 'big');
  t.is(
    error.message,
    'Result "big" is 2048 bytes, over the limit of 1000 bytes (config key maxResultSize); write less or ask your ' +
      `admin to raise the limit; ${classic} holds a notice instead of a reference`,
  );
  t.like(error, { code: 'E_RESULT_TOO_LARGE' });
  t.is(await readFile(classic, 'utf8'), refusedNotice('big'));
});

test('a symlink to /etc/passwd as the result file is refused', async (t) => {
  const volume = await makeVolume(t);
  const path = join(volume.producerDir, 'out');
  await symlink('/etc/passwd', path);
  const error = await t.throwsAsync(sealResult('out', optionsFor(volume)));
  t.is(
    error.message,
    `Result "out": ${path} is a symbolic link (to /etc/passwd), expected a regular file; write the content into ` +
      `the file itself, not a link to it; ${join(volume.resultsDir, 'out')} holds a notice instead of a reference`,
  );
  t.like(error, { code: 'E_RESULT_UNSAFE' });
  t.deepEqual(await readdir(volume.resultsDir), ['out']);
});

test('a hard-linked result file is refused', async (t) => {
  const volume = await makeVolume(t);
  const path = join(volume.producerDir, 'out');
  await writeFile(join(volume.base, 'elsewhere'), 'data');
  await link(join(volume.base, 'elsewhere'), path);
  const error = await t.throwsAsync(sealResult('out', optionsFor(volume)));
  t.is(
    error.message,
    `Result "out": ${path} has 2 hard links, expected 1; a hard-linked file can be changed through its other ` +
      `names, so copy the content instead of linking it; ${join(volume.resultsDir, 'out')} holds a notice instead of a reference`,
  );
});

test('a directory as the result file is refused', async (t) => {
  const volume = await makeVolume(t);
  const path = join(volume.producerDir, 'out');
  await mkdir(path);
  const error = await t.throwsAsync(sealResult('out', optionsFor(volume)));
  t.is(error.message, `Result "out": ${path} is a directory, expected a regular file; ${join(volume.resultsDir, 'out')} holds a notice instead of a reference`);
});

test('a producer directory that is a symlink is refused', async (t) => {
  const volume = await makeVolume(t);
  const elsewhere = join(volume.base, 'elsewhere');
  await rename(volume.producerDir, elsewhere);
  await writeFile(join(elsewhere, 'out'), 'data');
  await symlink(elsewhere, volume.producerDir);
  const error = await t.throwsAsync(sealResult('out', optionsFor(volume)));
  t.is(
    error.message,
    `Result "out": ${volume.producerDir} is a symbolic link, expected a directory; the directories on the result ` +
      `volume must be real directories, not links; ${join(volume.resultsDir, 'out')} holds a notice instead of a reference`,
  );
});

test('every result is processed; the failures are listed, the good ones sealed', async (t) => {
  const volume = await makeVolume(t);
  await writeFile(join(volume.producerDir, 'good'), 'ok');
  await writeFile(join(volume.producerDir, 'big'), Buffer.alloc(20));
  await symlink('/etc/passwd', join(volume.producerDir, 'link'));
  const outcomes = await sealResults(['big', 'absent', 'link', 'good'], optionsFor(volume, 10));
  t.deepEqual(
    outcomes.map((o) => [o.name, o.status]),
    [
      ['big', 'failed'],
      ['absent', 'missing'],
      ['link', 'failed'],
      ['good', 'sealed'],
    ],
  );
  t.deepEqual((await readdir(volume.resultsDir)).sort(), ['absent', 'big', 'good', 'link']);
  t.is(await readFile(join(volume.resultsDir, 'big'), 'utf8'), refusedNotice('big'));
  t.is(await readFile(join(volume.resultsDir, 'absent'), 'utf8'), notProducedNotice('absent'));
});

test('an invalid result name is refused', async (t) => {
  const volume = await makeVolume(t);
  const error = await t.throwsAsync(sealResult('../x', optionsFor(volume)));
  t.is(error.message, 'result name must be a name of [A-Za-z0-9._-] other than "." and "..", got "../x"');
});
