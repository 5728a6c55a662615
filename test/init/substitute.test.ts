import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, link, lstat, mkdir, readdir, readFile, readlink, rename as fsRename, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { refusedNotice } from '../../init/seal-notice.js';
import { defaultOutput, substituteScripts, type SubstituteOptions } from '../../init/substitute.js';
import { collectLog, makeVolume, PRODUCER, referenceFor, RUN_DIR, writeResult } from './temp-volume.js';
import type { TempVolume } from './temp-volume.js';

const SHA_A = 'a'.repeat(64);

/** Substitute's options; `refs` are what the task declared (TLR_REFS). */
function optionsFor(volume: TempVolume, extra: Partial<SubstituteOptions> = {}): SubstituteOptions {
  return { root: volume.root, runDir: RUN_DIR, scriptsDir: volume.scriptsDir, maxSubstituted: 1 << 30, log: () => undefined, warn: () => undefined, ...extra };
}

async function writeScript(volume: TempVolume, name: string, text: string, mode = 0o755): Promise<string> {
  const path = join(volume.scriptsDir, name);
  await writeFile(path, text);
  await chmod(path, mode);
  return path;
}

/** Substitution must fail, leaving the script byte for byte as it was and no temp file behind. */
async function refused(
  t: ExecutionContext,
  volume: TempVolume,
  script: string,
  options = optionsFor(volume),
): Promise<Error> {
  const before = await readFile(script);
  const error = await t.throwsAsync(substituteScripts(options));
  t.deepEqual(await readFile(script), before, 'original script untouched');
  t.deepEqual((await readdir(volume.scriptsDir)).filter((n) => n.startsWith('.')), [], 'no temp file left');
  return error;
}

test('substitutes every token, the same token twice, keeps the mode, leaves other scripts untouched', async (t) => {
  const volume = await makeVolume(t);
  const a = await writeResult(volume, 'a', 'AAA\nline2\n');
  const b = await writeResult(volume, 'b', Buffer.from([0, 1, 2, 255]));
  const script = await writeScript(volume, 'script-0-x', `#!/bin/sh\necho '${a}'\n${b}|${a}\n`, 0o755);
  const plain = await writeScript(volume, 'script-1-y', '#!/bin/sh\necho plain [[tl\n', 0o700);
  const plainBefore = await stat(plain);
  const { lines, log } = collectLog();
  const report = await substituteScripts(optionsFor(volume, { log, refs: `${a} ${b}` }));
  const expected = Buffer.concat([
    Buffer.from("#!/bin/sh\necho 'AAA\nline2\n'\n"),
    Buffer.from([0, 1, 2, 255]),
    Buffer.from('|AAA\nline2\n\n'),
  ]);
  t.deepEqual(await readFile(script), expected);
  t.is((await stat(script)).mode & 0o7777, 0o755);
  const plainAfter = await stat(plain);
  t.is(plainAfter.ino, plainBefore.ino);
  t.is(plainAfter.mtimeMs, plainBefore.mtimeMs);
  t.deepEqual(report.scripts, [{ script, substitutions: 3 }]);
  t.deepEqual([...report.verified].sort(), [`${RUN_DIR}/${PRODUCER}/a`, `${RUN_DIR}/${PRODUCER}/b`]);
  t.deepEqual(
    lines.map((l) => [l.msg, l.path, l.bytes]),
    [
      ['Substituted result', `${RUN_DIR}/${PRODUCER}/a`, 10],
      ['Substituted result', `${RUN_DIR}/${PRODUCER}/b`, 4],
      ['Substituted result', `${RUN_DIR}/${PRODUCER}/a`, 10],
    ],
  );
  t.deepEqual((await readdir(volume.scriptsDir)).sort(), ['script-0-x', 'script-1-y']);
});

test('a result of several chunks arrives intact through a slow output (buffers are recycled safely)', async (t) => {
  const volume = await makeVolume(t);
  const content = randomBytes(5 * (1 << 20) + 12345);
  const ref = await writeResult(volume, 'big', content);
  const script = await writeScript(volume, 's', `A${ref}B${ref}C`);
  const slow = (path: string): Writable => {
    const file = createWriteStream(path, { flags: 'wx' });
    return new Writable({
      write(chunk: Buffer, _encoding, callback): void {
        setTimeout(() => file.write(Buffer.from(chunk), callback), 1);
      },
      final(callback): void {
        file.end(callback);
      },
    });
  };
  await substituteScripts(optionsFor(volume, { createOutput: slow, refs: ref }));
  const expected = Buffer.concat([Buffer.from('A'), content, Buffer.from('B'), content, Buffer.from('C')]);
  t.true((await readFile(script)).equals(expected)); // not deepEqual: slow on 10 MiB
});

test('a full disk after some chunks were written: the original script is intact', async (t) => {
  const volume = await makeVolume(t);
  const ref = await writeResult(volume, 'big', randomBytes(4 << 20));
  const script = await writeScript(volume, 's', `echo ${ref}\n`);
  const fillsUp = (path: string): Writable => {
    const file = createWriteStream(path, { flags: 'wx' });
    let writes = 0;
    return new Writable({
      write(chunk: Buffer, _encoding, callback): void {
        if (++writes < 3) file.write(chunk, callback);
        else callback(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
      },
      destroy(error, callback): void {
        file.destroy();
        file.once('close', () => callback(error));
      },
    });
  };
  const error = await refused(t, volume, script, optionsFor(volume, { createOutput: fillsUp, refs: ref }));
  t.like(error, { code: 'E_NO_SPACE' });
});

test('a rename that fails while the new scripts are put in place leaves every original script as it was', async (t) => {
  // Every failing rename: the first script's move aside, its replacement's move in, then the same for the second
  // (the first already substituted by then), and the removal of nothing else.
  for (let failing = 0; failing < 4; failing++) {
    const volume = await makeVolume(t);
    const ref = await writeResult(volume, 'r', 'VALUE');
    const first = await writeScript(volume, 'script-0-a', `echo ${ref} first\n`, 0o750);
    const second = await writeScript(volume, 'script-1-b', `echo ${ref} second\n`, 0o700);
    const warnings: unknown[] = [];
    let renames = 0;
    const rename = async (from: string, to: string): Promise<void> => {
      if (renames++ === failing) throw Object.assign(new Error(`EIO: i/o error, rename '${from}' -> '${to}'`), { code: 'EIO' });
      await fsRename(from, to);
    };
    const error = await refused(t, volume, second, optionsFor(volume, { refs: ref, rename, warn: (...w) => warnings.push(w) }));
    t.like(error, { code: 'EIO' }, `rename ${failing} fails`);
    t.is(await readFile(first, 'utf8'), `echo ${ref} first\n`, `rename ${failing}: the first script is its original`);
    t.is((await stat(first)).mode & 0o7777, 0o750);
    t.deepEqual((await readdir(volume.scriptsDir)).sort(), ['script-0-a', 'script-1-b']);
    t.deepEqual(warnings.filter((w) => JSON.stringify(w).includes('put back')), []);
  }
  // With no failure, both are substituted and nothing else is left.
  const volume = await makeVolume(t);
  const ref = await writeResult(volume, 'r', 'VALUE');
  const first = await writeScript(volume, 'script-0-a', `echo ${ref} first\n`);
  const second = await writeScript(volume, 'script-1-b', `echo ${ref} second\n`);
  await substituteScripts(optionsFor(volume, { refs: ref, rename: fsRename }));
  t.is(await readFile(first, 'utf8'), 'echo VALUE first\n');
  t.is(await readFile(second, 'utf8'), 'echo VALUE second\n');
  t.deepEqual((await readdir(volume.scriptsDir)).sort(), ['script-0-a', 'script-1-b']);
});

test('a script with "[[tlr:" text that is not a reference is left untouched', async (t) => {
  const volume = await makeVolume(t);
  const script = await writeScript(volume, 's', 'echo "[[tlr:not a reference]]"\n');
  const before = await stat(script);
  const report = await substituteScripts(optionsFor(volume));
  t.deepEqual(report.scripts, []);
  t.is((await stat(script)).ino, before.ino);
});

test('a symlink to /etc/passwd as a result file is refused', async (t) => {
  const volume = await makeVolume(t);
  const path = join(volume.producerDir, 'out');
  await symlink('/etc/passwd', path);
  const ref = referenceFor(`${RUN_DIR}/${PRODUCER}/out`, await readFile('/etc/passwd'));
  const script = await writeScript(volume, 's', `cat <<'E'\n${ref}\nE\n`);
  const error = await refused(t, volume, script, optionsFor(volume, { refs: ref }));
  t.is(
    error.message,
    `Reference to ${RUN_DIR}/${PRODUCER}/out: ${path} is a symbolic link (to /etc/passwd), expected a regular ` +
      'file; write the content into the file itself, not a link to it',
  );
  t.like(error, { code: 'E_RESULT_UNSAFE' });
});

test('a declared reference with ../ in its path is refused before any file is read', async (t) => {
  const volume = await makeVolume(t);
  const token = `[[tlr:v1:sha256=${SHA_A}:size=3:path=${RUN_DIR}/../etc/passwd]]`;
  const script = await writeScript(volume, 's', `echo ${token}\n`);
  const error = await refused(t, volume, script, optionsFor(volume, { refs: token }));
  t.is(
    error.message,
    `the references this task uses (--refs, env TLR_REFS): ${token}: reference path must be relative, made of ` +
      `[A-Za-z0-9._-] segments without "." or "..", got "${RUN_DIR}/../etc/passwd"; refusing to read it`,
  );
  t.like(error, { code: 'E_RESULT_UNSAFE' });
});

test("a reference to another run's directory is refused", async (t) => {
  const volume = await makeVolume(t);
  await mkdir(join(volume.root, 'run-2', PRODUCER), { recursive: true });
  await writeFile(join(volume.root, 'run-2', PRODUCER, 'out'), 'secret');
  const ref = referenceFor(`run-2/${PRODUCER}/out`, 'secret');
  const script = await writeScript(volume, 's', `echo ${ref}\n`);
  const error = await refused(t, volume, script, optionsFor(volume, { refs: ref }));
  t.is(
    error.message,
    `Reference to run-2/${PRODUCER}/out points outside this run's directory: expected a path starting with ` +
      `"${RUN_DIR}/", found "run-2/${PRODUCER}/out"`,
  );
});

test('a hard-linked result file is refused', async (t) => {
  const volume = await makeVolume(t);
  const ref = await writeResult(volume, 'out', 'data');
  await link(join(volume.producerDir, 'out'), join(volume.producerDir, 'other'));
  const script = await writeScript(volume, 's', `echo ${ref}\n`);
  const error = await refused(t, volume, script, optionsFor(volume, { refs: ref }));
  t.regex(error.message, /out has 2 hard links, expected 1;/);
});

test('a tampered result file (same size) fails the digest check; the script stays intact', async (t) => {
  const volume = await makeVolume(t);
  const ref = await writeResult(volume, 'out', 'good content');
  const path = join(volume.producerDir, 'out');
  await writeFile(path, 'evil content');
  const script = await writeScript(volume, 's', `echo ${ref}\n`);
  const error = await refused(t, volume, script, optionsFor(volume, { refs: ref }));
  t.is(
    error.message,
    `Result file ${path} does not match its reference: expected sha256 ${referenceSha(ref)} and 12 bytes, found ` +
      `sha256 ${referenceSha(referenceFor('x/y', 'evil content'))} and 12 bytes; the file was changed after the ` +
      'producing task sealed it',
  );
  t.like(error, { code: 'E_DIGEST_MISMATCH' });
});

test('a result file of another size is refused before reading it', async (t) => {
  const volume = await makeVolume(t);
  const ref = await writeResult(volume, 'out', 'short');
  const path = join(volume.producerDir, 'out');
  await writeFile(path, 'much longer');
  const script = await writeScript(volume, 's', `echo ${ref}\n`);
  const error = await refused(t, volume, script, optionsFor(volume, { refs: ref }));
  t.is(
    error.message,
    `Result file ${path} does not match its reference: expected sha256 ${referenceSha(ref)} and 5 bytes, found 11 ` +
      'bytes; the file was changed after the producing task sealed it',
  );
});

test('a missing result file is refused', async (t) => {
  const volume = await makeVolume(t);
  const ref = referenceFor(`${RUN_DIR}/${PRODUCER}/gone`, 'x');
  const script = await writeScript(volume, 's', `echo ${ref}\n`);
  const error = await refused(t, volume, script, optionsFor(volume, { refs: ref }));
  t.like(error, { code: 'E_RESULT_MISSING' });
});

test('a full disk while writing the new script: clear message, original script intact', async (t) => {
  const volume = await makeVolume(t);
  const ref = await writeResult(volume, 'out', 'x'.repeat(100_000));
  const script = await writeScript(volume, 's', `echo ${ref}\n`);
  const full = (): Writable =>
    new Writable({
      write(_chunk, _encoding, callback): void {
        callback(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
      },
    });
  const error = await refused(t, volume, script, optionsFor(volume, { createOutput: full, refs: ref }));
  t.is(
    error.message,
    `No space left while writing ${script}: the volume holding it (an emptyDir of the pod) is full; a script with ` +
      'results substituted is as large as those results, so the node must give the pod more ephemeral storage',
  );
  t.like(error, { code: 'E_NO_SPACE' });
});

test('--refs are verified even when no script names them', async (t) => {
  const volume = await makeVolume(t);
  const a = await writeResult(volume, 'a', 'aaa');
  const b = await writeResult(volume, 'b', 'bbb');
  const { lines, log } = collectLog();
  const report = await substituteScripts(optionsFor(volume, { refs: `${a} \n ${b}${a}`, log }));
  t.deepEqual(report.verified, [`${RUN_DIR}/${PRODUCER}/a`, `${RUN_DIR}/${PRODUCER}/b`]);
  t.deepEqual(
    lines.map((l) => [l.msg, l.path, l.bytes]),
    [
      ['Verified result', `${RUN_DIR}/${PRODUCER}/a`, 3],
      ['Verified result', `${RUN_DIR}/${PRODUCER}/b`, 3],
    ],
  );
});

test('a tampered --refs file is refused', async (t) => {
  const volume = await makeVolume(t);
  const ref = await writeResult(volume, 'a', 'aaa');
  await writeFile(join(volume.producerDir, 'a'), 'AAA');
  const error = await t.throwsAsync(substituteScripts(optionsFor(volume, { refs: ref })));
  t.like(error, { code: 'E_DIGEST_MISMATCH' });
});

test('--refs with anything but references is refused, saying where such text comes from', async (t) => {
  const volume = await makeVolume(t);
  const cases: Array<[string, string]> = [
    ['hello', 'a producing task published something else than its reference, or this task was not rewritten by Tekton Large Results'],
    ['[[tlr:v9:whatever]]', 'a malformed reference, or one of another version: the producing task must be sealed by the tlr-init image of the same release as the admission webhook'],
    [refusedNotice('x'), "a producing task's tlr-seal step did not seal that result: see that step's log"],
  ];
  for (const [refs, why] of cases) {
    const error = await t.throwsAsync(substituteScripts(optionsFor(volume, { refs })));
    t.is(error.message, `the references this task uses (--refs, env TLR_REFS) must be references [[tlr:v1:…]] separated by whitespace, found "${refs}": ${why}`);
  }
});

test('a symlink in the scripts directory is refused', async (t) => {
  const volume = await makeVolume(t);
  await symlink('/etc/passwd', join(volume.scriptsDir, 'script-0'));
  const error = await t.throwsAsync(substituteScripts(optionsFor(volume)));
  t.is(
    error.message,
    `Script ${join(volume.scriptsDir, 'script-0')} is a symbolic link, expected a regular file (Tekton writes ` +
      'scripts as files); refusing to substitute through it',
  );
});

function referenceSha(reference: string): string {
  return /sha256=([0-9a-f]{64})/.exec(reference)![1]!;
}

test('the output writer writes a new file byte-exact (mode 0600), never an existing one nor through a symlink, and closes what it opened', async (t) => {
  const volume = await makeVolume(t);
  // Descriptors of this process open on a file of the scripts directory (other tests run in this process too).
  const openHere = async (): Promise<string[]> => {
    const targets = await Promise.all((await readdir('/proc/self/fd')).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
    return targets.filter((target) => target.startsWith(volume.scriptsDir));
  };
  const data = randomBytes(3 * 256 * 1024 + 5);
  const path = join(volume.scriptsDir, 'new');
  await pipeline([data.subarray(0, 1000), data.subarray(1000)], defaultOutput(path));
  t.deepEqual(await readFile(path), data);
  t.is((await stat(path)).mode & 0o777, 0o600);

  await writeFile(join(volume.scriptsDir, 'existing'), 'keep');
  await t.throwsAsync(pipeline([Buffer.from('x')], defaultOutput(join(volume.scriptsDir, 'existing'))), { code: 'EEXIST' });
  t.is(await readFile(join(volume.scriptsDir, 'existing'), 'utf8'), 'keep');

  await symlink(join(volume.root, 'elsewhere'), join(volume.scriptsDir, 'link'));
  await t.throwsAsync(pipeline([Buffer.from('x')], defaultOutput(join(volume.scriptsDir, 'link'))), { code: 'EEXIST' });
  await t.throwsAsync(lstat(join(volume.root, 'elsewhere')), { code: 'ENOENT' });

  const failing = defaultOutput(join(volume.scriptsDir, 'aborted'));
  const errored = new Promise<Error>((resolve) => failing.once('error', resolve));
  const closed = new Promise((resolve) => failing.once('close', resolve));
  failing.write(Buffer.from('partial'));
  failing.destroy(new Error('stop'));
  t.is((await errored).message, 'stop');
  await closed;
  t.deepEqual(await openHere(), [], 'no descriptor left open');
});
