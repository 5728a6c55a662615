/**
 * One log schema for every process: a tlr-init line (in pods) and a server line (pino, the controller and webhook)
 * have the same fixed keys, in the same order, with the same types, so one query of a log pipeline reads them all.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { makeLogger } from '../../src/cli/commands/serve.js';
import { LOG_LEVELS, logLine } from '../../src/log-line.js';

function serverLine(fields: Record<string, unknown>, msg: string): Record<string, unknown> {
  let out = '';
  const sink = new Writable({ write: (chunk: Buffer, _e, done) => ((out += chunk.toString()), done()) });
  makeLogger('tlr-webhook', 'info', sink).warn(fields, msg);
  return JSON.parse(out) as Record<string, unknown>;
}

test('tlr-init and the servers write the same schema: level number, ISO time, component, name, fields, msg', (t) => {
  const server = serverLine({ path: '/x' }, 'cannot list');
  const init = JSON.parse(logLine('tlr-init', 'warn', 'cannot list', { path: '/x' })) as Record<string, unknown>;
  t.deepEqual(Object.keys(init), Object.keys(server));
  for (const key of Object.keys(server)) t.is(typeof init[key], typeof server[key], key);
  t.is(init['level'], LOG_LEVELS.warn);
  t.is(server['level'], LOG_LEVELS.warn);
  t.regex(String(init['time']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  t.like(init, { component: 'tlr-init', name: 'tlr-init', path: '/x', msg: 'cannot list' });
  // A field named like a schema key cannot overwrite it.
  t.like(JSON.parse(logLine('tlr-init', 'info', 'm', { level: 'x', msg: 'y', n: 1 })) as object, { level: 30, msg: 'm', n: 1 });
});

test('tlr-init seal logs its lines in that schema', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'tlr-log-'));
  const results = await mkdtemp(join(tmpdir(), 'tlr-log-results-'));
  const run = spawnSync(process.execPath, ['dist/init/main.js', 'prepare', '--root', root, '--dir', 'u/t'], { encoding: 'utf8' });
  t.is(run.status, 0, run.stderr);
  await writeFile(join(root, 'u/t/out'), 'hello');
  const sealed = spawnSync(process.execPath, ['dist/init/main.js', 'seal', '--root', root, '--dir', 'u/t', '--results-dir', results, '--max-size', '1000', 'out'], { encoding: 'utf8' });
  t.is(sealed.status, 0, sealed.stderr);
  const line = JSON.parse(sealed.stdout.trim().split('\n')[0] ?? '{}') as Record<string, unknown>;
  t.deepEqual(Object.keys(line).slice(0, 4), ['level', 'time', 'component', 'name']);
  t.like(line, { level: 30, component: 'tlr-init', msg: 'Sealed result', result: 'out' });
});
