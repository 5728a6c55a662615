/**
 * What substitute copies is bounded: exactly a reference's size per value (a file that grows after the check is
 * refused, not read to its end), and a total per pod (`--max-substituted`, config key maxSubstitutedSize), checked
 * before anything is written. And it acts only on the references the task declared.
 */
import test from 'ava';
import { appendFile, chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { substituteScripts, type SubstituteOptions } from '../../init/substitute.js';
import { openVerifiedResult } from '../../init/verified-result.js';
import { parseReference } from '../../src/core/reference.js';
import { makeVolume, PRODUCER, referenceFor, RUN_DIR, writeResult, type TempVolume } from './temp-volume.js';

function optionsFor(volume: TempVolume, extra: Partial<SubstituteOptions> = {}): SubstituteOptions {
  return { root: volume.root, runDir: RUN_DIR, scriptsDir: volume.scriptsDir, maxSubstituted: 1 << 30, log: () => undefined, warn: () => undefined, ...extra };
}

async function writeScript(volume: TempVolume, name: string, text: string): Promise<string> {
  const path = join(volume.scriptsDir, name);
  await writeFile(path, text);
  await chmod(path, 0o755);
  return path;
}

test('a file that grows after it was checked: exactly its size is read, then it is refused', async (t) => {
  const volume = await makeVolume(t);
  const token = await writeResult(volume, 'out', 'x'.repeat(1000));
  const reference = parseReference(token)!;
  const chunks = await openVerifiedResult(reference, { root: volume.root, runDir: RUN_DIR }); // checks done, file open
  await appendFile(join(volume.producerDir, 'out'), Buffer.alloc(8 << 20, 0x79)); // then it grows by 8 MiB
  let read = 0;
  const error = await t.throwsAsync(async () => {
    for await (const chunk of chunks) read += chunk.length;
  });
  t.is(read, 1000, 'never read past the reference size');
  t.is(
    error.message,
    `Result file ${join(volume.producerDir, 'out')} does not match its reference: expected 1000 bytes, found more (it ` +
      'grew while it was being read); only the expected bytes were read. Something still writes to it after the ' +
      'producing task sealed it',
  );
  t.like(error, { code: 'E_DIGEST_MISMATCH' });
});

test('1,000 tokens of a 1 MiB result over the per-pod limit: refused before a byte is written', async (t) => {
  const volume = await makeVolume(t);
  const token = await writeResult(volume, 'big', Buffer.alloc(1 << 20, 0x61));
  const lines = Array.from({ length: 1000 }, () => `cat <<'E'\n${token}\nE`).join('\n');
  const script = await writeScript(volume, 'script-0-a', `#!/bin/sh\n${lines}\n`);
  const before = await readFile(script);
  const error = await t.throwsAsync(substituteScripts(optionsFor(volume, { refs: token, maxSubstituted: 64 << 20 })));
  t.is(
    error.message,
    `Substituting the results this pod uses by value would write 1048576000 bytes into its scripts (1000 × 1048576 ` +
      `bytes of ${RUN_DIR}/${PRODUCER}/big in ${script}), over the limit of 67108864 bytes (config key ` +
      'maxSubstitutedSize); nothing was written. Use a large result by path ($(tasks.<task>.results.<result>.path): ' +
      'the step reads the file and nothing is copied), or ask your admin to raise maxSubstitutedSize',
  );
  t.like(error, { code: 'E_RESULT_TOO_LARGE' });
  t.deepEqual(await readFile(script), before);
  t.deepEqual(await readdir(volume.scriptsDir), ['script-0-a']);
});

test('the limit counts every script of the pod together, and exactly at the limit is fine', async (t) => {
  const volume = await makeVolume(t);
  const token = await writeResult(volume, 'r', 'abcd');
  const a = await writeScript(volume, 'script-0-a', `#!/bin/sh\ncat <<'E'\n${token}\nE\n`);
  const b = await writeScript(volume, 'script-1-b', `#!/bin/sh\ncat <<'E'\n${token}${token}\nE\n`);
  const refused = await t.throwsAsync(substituteScripts(optionsFor(volume, { refs: token, maxSubstituted: 11 })));
  t.regex(refused.message, /would write 12 bytes into its scripts \(1 × 4 bytes of .* in .*script-0-a; 2 × 4 bytes of .* in .*script-1-b\), over the limit of 11 bytes/);
  const report = await substituteScripts(optionsFor(volume, { refs: token, maxSubstituted: 12 }));
  t.deepEqual(report.scripts, [{ script: a, substitutions: 1 }, { script: b, substitutions: 2 }]);
  t.is(await readFile(b, 'utf8'), "#!/bin/sh\ncat <<'E'\nabcdabcd\nE\n");
});

test('a refusal in a later script leaves every script as it was (all or nothing)', async (t) => {
  const volume = await makeVolume(t);
  const good = await writeResult(volume, 'good', 'fine');
  const bad = await writeResult(volume, 'bad', 'original');
  await writeFile(join(volume.producerDir, 'bad'), 'tampered');
  const a = await writeScript(volume, 'script-0-a', `#!/bin/sh\ncat <<'E'\n${good}\nE\n`);
  const b = await writeScript(volume, 'script-1-b', `#!/bin/sh\ncat <<'E'\n${bad}\nE\n`);
  const [beforeA, beforeB] = [await stat(a), await readFile(b)];
  await t.throwsAsync(substituteScripts(optionsFor(volume, { refs: `${good} ${bad}` })), { code: 'E_DIGEST_MISMATCH' } as never);
  t.is((await stat(a)).ino, beforeA.ino, 'the first script was not replaced either');
  t.deepEqual(await readFile(b), beforeB);
  t.deepEqual((await readdir(volume.scriptsDir)).sort(), ['script-0-a', 'script-1-b'], 'no temp file left');
});

// The attack: a commit message in a param is enough to put token-shaped text into a script.
test('only declared references are substituted; other token-shaped text is left alone and never fails the pod', async (t) => {
  const volume = await makeVolume(t);
  const declared = await writeResult(volume, 'payload', 'VALUE');
  const other = await writeResult(volume, 'other', 'NOT FOR THIS TASK');
  const message = `fix parsing of [[tlr:v1:sha256=${'f'.repeat(64)}:size=01:path=x]] and [[tlr:v2:x]] and ${other} and [[tlr:v1:`;
  const script = await writeScript(volume, 'script-0-a', `#!/bin/sh\necho '${message}'\ncat <<'E'\n${declared}\nE\n`);
  const report = await substituteScripts(optionsFor(volume, { refs: declared }));
  t.is(await readFile(script, 'utf8'), `#!/bin/sh\necho '${message}'\ncat <<'E'\nVALUE\nE\n`);
  t.deepEqual(report.verified, [`${RUN_DIR}/${PRODUCER}/payload`]);
});

test('a script holding only undeclared tokens is not rewritten at all', async (t) => {
  const volume = await makeVolume(t);
  const script = await writeScript(volume, 'script-0-a', `#!/bin/sh\necho ${referenceFor(`${RUN_DIR}/${PRODUCER}/gone`, 'x')}\n`);
  const before = await stat(script);
  const report = await substituteScripts(optionsFor(volume));
  t.deepEqual(report, { scripts: [], verified: [] });
  t.is((await stat(script)).ino, before.ino);
});
