/**
 * The copies the seal step publishes (init/seal-copy.ts, src/core/copies.ts): the very bytes it hashed, as the classic
 * result tlr-copy-<name>, when they fit maxCopySize as Tekton encodes them and are UTF-8; otherwise the result is
 * refused, and neither the reference nor the copy holds a value (each a notice), whatever a step left there.
 */
import test from 'ava';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sealResult, type SealOptions } from '../../init/seal.js';
import { goJsonLength } from '../../init/seal-copy.js';
import { notProducedNotice, refusedNotice } from '../../init/seal-notice.js';
import { collectLog, makeVolume, PRODUCER, referenceFor, RUN_DIR, type TempVolume } from './temp-volume.js';

const DIR = `${RUN_DIR}/${PRODUCER}`;

function optionsFor(volume: TempVolume, copies: string[], maxCopy = 512, more: { escaped?: string[]; room?: number } = {}): SealOptions {
  const room = more.room !== undefined ? { room: { left: more.room, total: more.room } } : {};
  return {
    root: volume.root, dir: DIR, resultsDir: volume.resultsDir, maxSize: 1 << 20, log: collectLog().log,
    copies: { names: new Set(copies), escaped: new Set(more.escaped ?? []), maxSize: maxCopy, ...room },
  };
}

test('a result with a copy: the reference, and the value verbatim as tlr-copy-<name>, replacing what a step left there', async (t) => {
  const volume = await makeVolume(t);
  const value = "registry.example/app:1.2 it's \"q\" ü\n";
  await writeFile(join(volume.producerDir, 'image'), value);
  await writeFile(join(volume.producerDir, 'other'), 'no copy');
  await writeFile(join(volume.resultsDir, 'tlr-copy-image'), 'forged by a step');
  const options = optionsFor(volume, ['image']);
  t.like(await sealResult('image', options), { status: 'sealed', reference: referenceFor(`${DIR}/image`, value) });
  t.is(await readFile(join(volume.resultsDir, 'tlr-copy-image'), 'utf8'), value);
  await sealResult('other', options);
  t.deepEqual((await readdir(volume.resultsDir)).sort(), ['image', 'other', 'tlr-copy-image'], 'no copy of a result not asked for');
});

test('a copy exactly at the limit as Tekton encodes it is published; one byte over, or longer once escaped, is refused', async (t) => {
  const volume = await makeVolume(t);
  await writeFile(join(volume.producerDir, 'fits'), 'x'.repeat(512));
  t.like(await sealResult('fits', optionsFor(volume, ['fits'])), { status: 'sealed' });
  await writeFile(join(volume.producerDir, 'over'), 'x'.repeat(513));
  await t.throwsAsync(sealResult('over', optionsFor(volume, ['over'])), {
    message: /^Result "over" is used where a copy of its value is needed .*a copy is at most 512 bytes \(config key maxCopySize\); found 513 bytes\. /,
  });
  // 100 bytes of '<' are 600 as Go's encoder writes them (\u003c).
  await writeFile(join(volume.producerDir, 'escaped'), '<'.repeat(100));
  await t.throwsAsync(sealResult('escaped', optionsFor(volume, ['escaped'])), { message: /found 100 bytes, 600 as Tekton encodes it/ });
  for (const name of ['over', 'escaped']) {
    t.is(await readFile(join(volume.resultsDir, name), 'utf8'), refusedNotice(name), `${name}: no reference`);
    t.is(await readFile(join(volume.resultsDir, `tlr-copy-${name}`), 'utf8'), refusedNotice(name), `${name}: no copy`);
  }
});

test('a value that is not UTF-8 has no copy (Tekton would change its bytes): refused, naming the offset and byte', async (t) => {
  const volume = await makeVolume(t);
  await writeFile(join(volume.producerDir, 'bin'), Buffer.concat([Buffer.from('ab\u00fc'), Buffer.from([0xff, 0x41])]));
  await t.throwsAsync(sealResult('bin', optionsFor(volume, ['bin'])), { message: /found a byte that is not UTF-8 at offset 4 \(0xff\)/ });
  t.is(await readFile(join(volume.resultsDir, 'tlr-copy-bin'), 'utf8'), refusedNotice('bin'));
});

test('a result not produced leaves a notice in its copy too, never what a step wrote there', async (t) => {
  const volume = await makeVolume(t);
  await writeFile(join(volume.resultsDir, 'tlr-copy-absent'), 'forged');
  t.like(await sealResult('absent', optionsFor(volume, ['absent'])), { status: 'missing' });
  t.is(await readFile(join(volume.resultsDir, 'tlr-copy-absent'), 'utf8'), notProducedNotice('absent'));
});

test('an empty value has an empty copy', async (t) => {
  const volume = await makeVolume(t);
  await writeFile(join(volume.producerDir, 'empty'), '');
  t.like(await sealResult('empty', optionsFor(volume, ['empty'])), { status: 'sealed' });
  t.is(await readFile(join(volume.resultsDir, 'tlr-copy-empty'), 'utf8'), '');
});

test('the encoded length is what Go’s json.Marshal writes between the quotes', (t) => {
  // Each row: the text, and len(json.Marshal(text)) - 2 from Go 1.26.
  const rows: Array<[string, number]> = [
    ['abc', 3], ['"\\', 4], ['\n\r\t', 6], ['\u0001', 6], ['<>&', 18], ['\u2028\u2029', 12], ['ü€😀', 9], ["'$()`", 5],
  ];
  for (const [text, length] of rows) t.is(goJsonLength(text), length, JSON.stringify(text));
});

test('an escaped copy doubles every $, so the kubelet’s $(VAR) expansion gives the value back; its length counts doubled', (t) => {
  return (async () => {
    const volume = await makeVolume(t);
    await writeFile(join(volume.producerDir, 'v'), 'a $(HOME) $$ b');
    t.like(await sealResult('v', optionsFor(volume, [], 512, { escaped: ['v'] })), { status: 'sealed' });
    t.is(await readFile(join(volume.resultsDir, 'tlr-ecopy-v'), 'utf8'), 'a $$(HOME) $$$$ b');
    t.deepEqual((await readdir(volume.resultsDir)).sort(), ['tlr-ecopy-v', 'v'], 'only the copy asked for');
    await writeFile(join(volume.producerDir, 'w'), '$'.repeat(300));
    await t.throwsAsync(sealResult('w', optionsFor(volume, ['w'], 512, { escaped: ['w'] })), { message: /found 300 bytes, 600 as Tekton encodes it with every \$ doubled/ });
  })();
});

test('the copies together must fit the room the rewrite computed beside the references (--copy-room): the one over it is refused', async (t) => {
  const volume = await makeVolume(t);
  await writeFile(join(volume.producerDir, 'a'), 'x'.repeat(60));
  await writeFile(join(volume.producerDir, 'b'), 'y'.repeat(50));
  const options = optionsFor(volume, ['a', 'b'], 512, { room: 100 });
  t.like(await sealResult('a', options), { status: 'sealed' });
  await t.throwsAsync(sealResult('b', options), { message: /^Result "b": its copy .* takes 50 bytes as Tekton encodes it, and the copies of this task's results have 40 of their 100 bytes left in the tlr-seal step's termination message/ });
  t.is(await readFile(join(volume.resultsDir, 'tlr-copy-b'), 'utf8'), refusedNotice('b'));
});

test('a copy holding a variable Tekton substitutes again after the params ($(context.…), $(workspaces.…), …) is refused, naming it; $(HOME) is not Tekton’s', async (t) => {
  const volume = await makeVolume(t);
  for (const [name, value, at] of [['ctx', 'name-$(context.taskRun.name)', 5], ['ws', 'x $(workspaces.out.path)', 2], ['res', '$(results["a"].path)', 0]] as const) {
    await writeFile(join(volume.producerDir, name), value);
    await t.throwsAsync(sealResult(name, optionsFor(volume, [], 512, { escaped: [name] })), {
      message: new RegExp(`^Result "${name}" is used where a copy .*would replace "\\$\\(${value.slice(at + 2).split(/[.[]/)[0] ?? ''}[.[]…" at offset ${at} `),
    }, name);
    t.is(await readFile(join(volume.resultsDir, `tlr-ecopy-${name}`), 'utf8'), refusedNotice(name), `${name}: no copy`);
  }
  await writeFile(join(volume.producerDir, 'home'), '$(HOME) $(contextual) $(params)');
  t.like(await sealResult('home', optionsFor(volume, ['home'])), { status: 'sealed' });
});
