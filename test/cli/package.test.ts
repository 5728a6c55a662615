/**
 * `tlr` installs outside the checkout, as a user installs it: `npm pack` of the built project, then `npm install -g`
 * of that tarball into a fresh prefix (dependencies from the npm registry, or npm's cache). The installed `tlr` and
 * `tkn-tlr` (what `tkn tlr …` runs: tkn runs any `tkn-<name>` on PATH as its plugin) work from another directory.
 * Needs the npm registry (or a warm cache); without it the test fails, naming npm's error.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const PROJECT = resolve('.');

function run(command: string, args: readonly string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  // Node 24 (this process's) first on PATH: the installed bins' `#!/usr/bin/env node` finds it.
  const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` };
  const r = spawnSync(command, [...args], { cwd, env, encoding: 'utf8', timeout: 300_000 });
  return { status: r.status, stdout: r.stdout, stderr: `${r.stderr}${r.error ? String(r.error) : ''}` };
}

test('npm pack + npm install -g of the tarball: tlr and tkn-tlr work outside the checkout', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tlr-package-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const packed = run('npm', ['pack', '--json', '--pack-destination', dir], PROJECT);
  t.is(packed.status, 0, packed.stderr);
  const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const files = (info?.files ?? []).map((f) => f.path);
  for (const wanted of ['dist/src/cli/main.js', 'dist/init/main.js', 'config/202-user-clusterroles.yaml', 'README.md']) t.true(files.includes(wanted), wanted);
  t.deepEqual(files.filter((f) => f.startsWith('dist/test/') || f.endsWith('.map') || f.startsWith('src/')), [], 'no tests, sources or maps');

  const prefix = join(dir, 'prefix');
  const installed = run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(dir, info?.filename ?? '')], dir);
  t.is(installed.status, 0, installed.stderr);
  const help = run(join(prefix, 'bin', 'tkn-tlr'), ['--help'], dir);
  t.is(help.status, 0, help.stderr);
  t.regex(help.stdout, /^Usage: tkn tlr \[options\] \[command\]/);
  t.regex(help.stdout, /results/);
  const validated = run(join(prefix, 'bin', 'tlr'), ['validate', join(PROJECT, 'examples/large-json/pipelinerun.yaml')], dir);
  t.is(validated.status, 0, validated.stderr);
  t.regex(validated.stdout, /PipelineRun large-json-\*: ok \(rewritten\)/);
});
