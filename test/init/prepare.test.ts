import test, { type ExecutionContext } from 'ava';
import { chmod, mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { prepareResultDirs } from '../../init/prepare.js';
import { tempDir } from './temp-volume.js';

async function tempRoot(t: ExecutionContext): Promise<string> {
  return tempDir(t, 'tlr-prepare-');
}

async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o7777;
}

test('creates the run dir 01777 and the producer dir 0777 whatever the umask', async (t) => {
  const root = await tempRoot(t);
  const previous = process.umask(0o077);
  try {
    const dirs = await prepareResultDirs(root, 'uid-1/build');
    t.deepEqual(dirs, { runDirPath: join(root, 'uid-1'), producerDirPath: join(root, 'uid-1', 'build'), removed: [] });
  } finally {
    process.umask(previous);
  }
  t.is(await modeOf(join(root, 'uid-1')), 0o1777);
  t.is(await modeOf(join(root, 'uid-1', 'build')), 0o777);
});

test('is idempotent and repairs a wrong mode', async (t) => {
  const root = await tempRoot(t);
  await prepareResultDirs(root, 'uid-1/build');
  await prepareResultDirs(root, 'uid-1/test');
  await writeFile(join(root, 'uid-1', 'test', 'out'), 'kept');
  await chmod(join(root, 'uid-1', 'build'), 0o700);
  await prepareResultDirs(root, 'uid-1/build');
  t.is(await modeOf(join(root, 'uid-1', 'build')), 0o777);
  t.is(await modeOf(join(root, 'uid-1', 'test')), 0o777);
  t.is(await readFile(join(root, 'uid-1', 'test', 'out'), 'utf8'), 'kept', "another task's results are not touched");
});

test("a retry's prepare removes what the failed attempt left, so it can never be sealed; links are not followed", async (t) => {
  const root = await tempRoot(t);
  const outside = join(root, 'precious');
  await writeFile(outside, 'must survive');
  await prepareResultDirs(root, 'uid-1/build');
  const dir = join(root, 'uid-1', 'build');
  await writeFile(join(dir, 'report'), 'half-written by attempt 1');
  await symlink(outside, join(dir, 'link'));
  await mkdir(join(dir, 'sub'));
  await writeFile(join(dir, 'sub', 'x'), 'x');
  const again = await prepareResultDirs(root, 'uid-1/build');
  t.deepEqual([...again.removed].sort(), ['link', 'report', 'sub']);
  t.deepEqual(await readdir(dir), []);
  t.is(await readFile(outside, 'utf8'), 'must survive');
});

test('refuses a run dir that is a symlink', async (t) => {
  const root = await tempRoot(t);
  await mkdir(join(root, 'elsewhere'));
  await symlink(join(root, 'elsewhere'), join(root, 'uid-1'));
  const error = await t.throwsAsync(prepareResultDirs(root, 'uid-1/build'));
  t.is(
    error.message,
    `${join(root, 'uid-1')} is a symbolic link, expected a directory; refusing to write results through it`,
  );
});

test('refuses a producer dir that is a file', async (t) => {
  const root = await tempRoot(t);
  await mkdir(join(root, 'uid-1'));
  await writeFile(join(root, 'uid-1', 'build'), '');
  const error = await t.throwsAsync(prepareResultDirs(root, 'uid-1/build'));
  t.is(
    error.message,
    `${join(root, 'uid-1', 'build')} is a regular file, expected a directory; refusing to write results through it`,
  );
});

test('refuses a --dir with .. or of the wrong shape', async (t) => {
  const root = await tempRoot(t);
  await t.throwsAsync(prepareResultDirs(root, 'uid-1/../x'), {
    message: 'reference path must be relative, made of [A-Za-z0-9._-] segments without "." or "..", got "uid-1/../x"',
  });
  await t.throwsAsync(prepareResultDirs(root, 'uid-1'), {
    message: '--dir must be <run-dir>/<producer> (two segments), got "uid-1"',
  });
});

test('refuses a missing root', async (t) => {
  const root = join(await tempRoot(t), 'absent');
  await t.throwsAsync(prepareResultDirs(root, 'uid-1/build'), {
    message: `The result volume root ${root} is missing, expected a directory (is the result workspace mounted there?)`,
  });
});
