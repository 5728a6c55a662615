import test, { type ExecutionContext } from 'ava';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { referenceFor, runCli, tempDir } from './temp-volume.js';

interface Dirs {
  root: string;
  results: string;
  scripts: string;
  termLog: string;
}

async function tempDirs(t: ExecutionContext): Promise<Dirs> {
  const base = await tempDir(t, 'tlr-cli-');
  const dirs = { root: join(base, 'volume'), results: join(base, 'results'), scripts: join(base, 'scripts') };
  for (const dir of Object.values(dirs)) await mkdir(dir);
  const termLog = join(base, 'termination-log');
  await writeFile(termLog, '');
  return { ...dirs, termLog };
}

function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('prepare, seal and substitute end to end through the built binary', async (t) => {
  const d = await tempDirs(t);
  const prepared = await runCli(['prepare', '--root', d.root, '--dir', 'uid-1/build']);
  t.is(prepared.code, 0, prepared.stderr);
  const value = 'line 1\nline 2 with $dollar and `backticks`\n';
  await writeFile(join(d.root, 'uid-1', 'build', 'out'), value);
  const sealed = await runCli([
    'seal', '--root', d.root, '--dir', 'uid-1/build', '--results-dir', d.results, '--max-size', '1000', 'out', 'absent',
  ]);
  t.is(sealed.code, 0, sealed.stderr);
  t.is(
    sealed.stderr,
    `Result "absent" was not produced: ${join(d.root, 'uid-1', 'build', 'absent')} does not exist; its consumers ` +
      `will fail in their tlr-substitute init container, saying so; ${join(d.results, 'absent')} holds a notice ` +
      'instead of a reference\n',
  );
  const reference = await readFile(join(d.results, 'out'), 'utf8');
  t.is(reference, referenceFor('uid-1/build/out', value));
  t.deepEqual((await readdir(d.results)).sort(), ['absent', 'out']);
  t.like(jsonLines(sealed.stdout)[0], { level: 30, component: 'tlr-init', msg: 'Sealed result', result: 'out' });

  const script = join(d.scripts, 'script-0-abcde');
  await writeFile(script, `#!/bin/sh\ncat <<'EOF'\n${reference}EOF\n`);
  await chmod(script, 0o755);
  const substituted = await runCli(['substitute', '--root', d.root, '--scripts', d.scripts, '--max-substituted', '1000'], {
    TLR_RUN_DIR: 'uid-1',
    TLR_REFS: reference,
    TLR_TERMINATION_LOG: d.termLog,
  });
  t.is(substituted.code, 0, substituted.stderr);
  t.is(await readFile(script, 'utf8'), `#!/bin/sh\ncat <<'EOF'\n${value}EOF\n`);
  t.like(jsonLines(substituted.stdout)[0], { msg: 'Substituted result', path: 'uid-1/build/out', bytes: value.length });
  t.is(await readFile(d.termLog, 'utf8'), '');
});

test('seal: an oversized result fails with exit code 1 and lists the failure', async (t) => {
  const d = await tempDirs(t);
  await runCli(['prepare', '--root', d.root, '--dir', 'uid-1/build']);
  await writeFile(join(d.root, 'uid-1', 'build', 'big'), Buffer.alloc(2000));
  await writeFile(join(d.root, 'uid-1', 'build', 'ok'), 'fine');
  const run = await runCli([
    'seal', '--root', d.root, '--dir', 'uid-1/build', '--results-dir', d.results, '--max-size', '1000', 'big', 'ok',
  ]);
  t.is(run.code, 1);
  t.is(
    run.stderr,
    'Sealing failed for 1 of 2 results:\n- Result "big" is 2000 bytes, over the limit of 1000 bytes (config key ' +
      `maxResultSize); write less or ask your admin to raise the limit; ${join(d.results, 'big')} holds a notice ` +
      'instead of a reference\n',
  );
  t.deepEqual((await readdir(d.results)).sort(), ['big', 'ok']);
});

test('substitute: a tampered file exits 1, reports to stderr and the termination log', async (t) => {
  const d = await tempDirs(t);
  await runCli(['prepare', '--root', d.root, '--dir', 'uid-1/build']);
  const file = join(d.root, 'uid-1', 'build', 'out');
  const reference = referenceFor('uid-1/build/out', 'original');
  await writeFile(file, 'tampered');
  const script = join(d.scripts, 'script-0');
  await writeFile(script, `echo ${reference}\n`);
  const run = await runCli(['substitute', '--root', d.root, '--run-dir', 'uid-1', '--scripts', d.scripts, '--max-substituted', '100'], {
    TLR_TERMINATION_LOG: d.termLog,
    TLR_REFS: reference,
  });
  t.is(run.code, 1);
  const message =
    `Result file ${file} does not match its reference: expected sha256 ${referenceSha(reference)} and 8 bytes, ` +
    `found sha256 ${referenceSha(referenceFor('a/b', 'tampered'))} and 8 bytes; the file was changed after the ` +
    'producing task sealed it';
  t.is(run.stderr, `${message}\n`);
  t.is(await readFile(d.termLog, 'utf8'), message);
  t.is(await readFile(script, 'utf8'), `echo ${reference}\n`);
});

test('usage errors exit with 2', async (t) => {
  const missingFlag = await runCli(['seal', '--dir', 'uid-1/build', 'out']);
  t.is(missingFlag.code, 2);
  t.regex(missingFlag.stderr, /required option '--max-size <bytes>' not specified/);
  const badDir = await runCli(['prepare', '--dir', '../x/y']);
  t.is(badDir.code, 2);
  t.regex(badDir.stderr, /reference path must be relative/);
  t.is((await runCli(['nonsense'])).code, 2);
  const d = await tempDirs(t);
  const noRunDir = await runCli(['substitute', '--root', d.root, '--max-substituted', '1'], { TLR_RUN_DIR: '', TLR_TERMINATION_LOG: d.termLog });
  t.is(noRunDir.code, 2);
  t.is(
    await readFile(d.termLog, 'utf8'),
    "tlr-init substitute: error: option '--run-dir <name>' value '' from env 'TLR_RUN_DIR' is invalid. " +
      '--run-dir must be a name of ' +
      '[A-Za-z0-9._-] other than "." and "..", got ""',
  );
  const noLimit = await runCli(['substitute', '--run-dir', 'uid-1'], { TLR_TERMINATION_LOG: d.termLog });
  t.is(noLimit.code, 2);
  t.regex(noLimit.stderr, /required option '--max-substituted <bytes>' not specified/);
  t.is((await runCli(['--help'])).code, 0);
});

function referenceSha(reference: string): string {
  return /sha256=([0-9a-f]{64})/.exec(reference)![1]!;
}

test('seal: the classic results earlier steps wrote take their share of the copies’ room (--copy-room), and the refusal names them', async (t) => {
  const d = await tempDirs(t);
  await runCli(['prepare', '--root', d.root, '--dir', 'uid-1/build']);
  await writeFile(join(d.root, 'uid-1', 'build', 'img'), 'x'.repeat(300));
  // A classic result of 1800 bytes: {"key":"note","value":"…","type":1}, 1835 bytes of the message.
  await writeFile(join(d.results, 'note'), 'a'.repeat(1800));
  const args = ['seal', '--root', d.root, '--dir', 'uid-1/build', '--results-dir', d.results, '--max-size', '1000', '--copies', 'img', '--max-copy', '512'];
  const fits = await runCli([...args, '--copy-room', '2200', 'img']);
  t.is(fits.code, 0, fits.stderr);
  t.is(await readFile(join(d.results, 'tlr-copy-img'), 'utf8'), 'x'.repeat(300));
  const over = await runCli([...args, '--copy-room', '2114', 'img']);
  t.not(over.code, 0);
  t.regex(over.stderr, /Result "img": its copy .* takes 300 bytes as Tekton encodes it, and the copies of this task's results have 279 of their 2114 bytes left in the tlr-seal step's termination message, beside its references and its classic results \(note: 1835 bytes\)/);
  t.is(await readFile(join(d.results, 'note'), 'utf8'), 'a'.repeat(1800), 'a classic result is left as it is');
});
