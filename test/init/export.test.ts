import test from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI, makeVolume, referenceFor, runCli, writeResult, PRODUCER, RUN_DIR } from './temp-volume.js';

/** Runs `tlr-init export` and collects stdout as bytes (it is binary). */
async function exportBytes(args: readonly string[]): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const child = spawn(process.execPath, [CLI, 'export', ...args], { stdio: 'pipe' });
  const chunks: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => chunks.push(c));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout: Buffer.concat(chunks), stderr };
}

test('export writes exactly the referenced bytes to stdout, binary included', async (t) => {
  const volume = await makeVolume(t);
  const content = randomBytes(3 * 1024 * 1024 + 7);
  const token = await writeResult(volume, 'blob', content);
  const out = await exportBytes(['--root', volume.root, token]);
  t.is(out.code, 0, out.stderr);
  t.true(out.stdout.equals(content));
});

test('export refuses a tampered file, a symlink and a path outside the run, with nothing on stdout', async (t) => {
  const volume = await makeVolume(t);
  const token = await writeResult(volume, 'blob', 'original');
  await writeFile(join(volume.producerDir, 'blob'), 'tampered');
  const tampered = await exportBytes(['--root', volume.root, token]);
  t.is(tampered.code, 1);
  t.regex(tampered.stderr, /sha256|size/);

  await writeFile(join(volume.base, 'secret'), 'secret');
  await symlink(join(volume.base, 'secret'), join(volume.producerDir, 'link'));
  const linked = await exportBytes(['--root', volume.root, referenceFor(`${RUN_DIR}/${PRODUCER}/link`, 'secret')]);
  t.is(linked.code, 1);
  t.regex(linked.stderr, /symbolic link/);
  t.is(linked.stdout.length, 0);
});

test('export of something that is not a reference is a usage error', async (t) => {
  const out = await runCli(['export', 'not-a-reference']);
  t.is(out.code, 2);
  t.regex(out.stderr, /expected a reference/);
});

test('export reports every refusal as one line, without a stack trace', async (t) => {
  const volume = await makeVolume(t);
  const dotdot = `[[tlr:v1:sha256=${'a'.repeat(64)}:size=3:path=${RUN_DIR}/../../etc/passwd]]`;
  const outside = referenceFor(`other-run/${PRODUCER}/x`, 'x');
  for (const [token, code] of [[dotdot, 1], [outside, 1], ['[[tlr:v1:broken', 2]] as const) {
    const out = await exportBytes(['--root', volume.root, token]);
    t.is(out.code, code, out.stderr);
    t.is(out.stderr.trim().split('\n').length, 1, out.stderr);
    t.notRegex(out.stderr, /\n\s+at |TypeError|unexpected error/);
    t.is(out.stdout.length, 0);
  }
  const refused = await exportBytes(['--root', volume.root, dotdot]);
  t.is(
    refused.stderr,
    `tlr-init export: refusing the reference "${dotdot}": reference path must be relative, made of [A-Za-z0-9._-] ` +
      `segments without "." or "..", got "${RUN_DIR}/../../etc/passwd"\n`,
  );
});

test('idle waits and exits 0 on SIGTERM (the reader pod of tlr fetch)', async (t) => {
  const child = spawn(process.execPath, [CLI, 'idle', '--seconds', '60'], { stdio: ['ignore', 'pipe', 'ignore'] });
  // Wait for its "Waiting" line (its signal handlers are in place then), not for a guessed time.
  const line = await new Promise<string>((resolve) => child.stdout.once('data', (c: Buffer) => resolve(c.toString())));
  t.like(JSON.parse(line) as object, { level: 30, component: 'tlr-init', msg: 'Waiting for tlr fetch', seconds: 60 });
  t.is(child.exitCode, null, 'still waiting');
  child.kill('SIGTERM');
  t.is(await new Promise<number | null>((resolve) => child.on('close', resolve)), 0);
});
