#!/usr/bin/env node
// `npm test`: runs the whole ava suite (TAP reporter, streamed) and ends with the one line CI reads:
// "N passed, N failed". Exits non-zero when anything failed or no test ran.
//
// Two phases:
// 1. every test file but the real-cluster ones (unit, golden, CLI, the local data path, the API-server tests), in
//    parallel processes as ava runs them;
// 2. the real-cluster end-to-end tests (dist/test/e2e-cluster/), one file at a time, against one cluster with Tekton
//    and Tekton Large Results that this script starts first (test/support/node/keeper.ts) and stops afterwards. A
//    cluster that cannot start is a failure, with its log, never a skip.
//
// `npm test -- <files>` runs only the given files (each phase picks its own; a real-cluster file alone starts its
// own cluster). TLR_TEST_PHASES=1 or =2 runs one phase.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const E2E_DIR = 'dist/test/e2e-cluster/';
const phases = process.env.TLR_TEST_PHASES ?? '12';
const args = process.argv.slice(2);
const files = args.filter((a) => !a.startsWith('-'));
const flags = args.filter((a) => a.startsWith('-'));
const total = { pass: 0, fail: 0, skip: 0, todo: 0 };

function ava(avaArgs, env = process.env) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['node_modules/ava/entrypoints/cli.mjs', '--tap', ...avaArgs], {
      stdio: ['ignore', 'pipe', 'inherit'], env,
    });
    const counts = { pass: 0, fail: 0, skip: 0, todo: 0 };
    let sawPlan = false;
    createInterface({ input: child.stdout }).on('line', (line) => {
      process.stdout.write(`${line}\n`);
      const m = /^# (pass|fail|skip|todo) (\d+)$/.exec(line);
      if (m) counts[m[1]] = Number(m[2]);
      if (/^1\.\.\d+$/.test(line)) sawPlan = true;
    });
    child.on('close', (code) => {
      if (code !== 0 && counts.fail === 0) counts.fail = 1; // a crash outside any test still counts
      if (!sawPlan) counts.fail = Math.max(counts.fail, 1);
      for (const k of Object.keys(total)) total[k] += counts[k];
      resolve();
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Starts the keeper; resolves with its state file once the cluster is up, or undefined (after printing why). */
async function startCluster(dir) {
  const state = join(dir, 'state.json');
  const log = join(dir, 'keeper.log');
  const fd = openSync(log, 'w');
  const keeper = spawn(process.execPath, ['dist/test/support/node/keeper.js', state, '--nodes', process.env.TLR_E2E_NODES ?? '2'], {
    stdio: ['ignore', fd, fd],
  });
  let shown = 0;
  const show = () => {
    const text = readFileSync(log, 'utf8');
    process.stderr.write(text.slice(shown));
    shown = text.length;
  };
  process.stderr.write('# starting the real cluster for the end-to-end tests (test/support/node)\n');
  for (;;) {
    show();
    if (existsSync(state)) return { keeper, state };
    if (keeper.exitCode !== null || !alive(keeper.pid)) {
      await sleep(200);
      show();
      process.stderr.write(`# the real cluster did not start: the end-to-end tests cannot run (log above, ${log})\n`);
      return { keeper, state: undefined };
    }
    await sleep(500);
  }
}

async function stopCluster(keeper) {
  if (keeper.exitCode !== null) return;
  keeper.kill('SIGTERM');
  for (let i = 0; i < 240 && keeper.exitCode === null; i++) await sleep(250);
  if (keeper.exitCode === null) keeper.kill('SIGKILL');
}

const unitFiles = files.filter((f) => !f.includes(E2E_DIR));
const e2eFiles = files.filter((f) => f.includes(E2E_DIR));
if (phases.includes('1') && (files.length === 0 || unitFiles.length > 0)) await ava([...flags, ...unitFiles]);
if (phases.includes('2') && (files.length === 0 || e2eFiles.length > 0)) {
  if (e2eFiles.length > 0 && e2eFiles.length === files.length && files.length === 1) {
    // One real-cluster file alone: it starts its own cluster (test/support/node/e2e-cluster.ts).
    await ava(['--config', 'ava.e2e-cluster.config.mjs', ...flags, ...e2eFiles]);
  } else {
    const dir = mkdtempSync(join(tmpdir(), 'tlr-e2e-'));
    const { keeper, state } = await startCluster(dir);
    if (state) {
      await ava(['--config', 'ava.e2e-cluster.config.mjs', ...flags, ...e2eFiles], { ...process.env, TLR_NODE_CLUSTER_STATE: state });
    } else {
      total.fail += 1;
    }
    await stopCluster(keeper);
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`${total.pass} passed, ${total.fail} failed${total.skip ? `, ${total.skip} skipped` : ''}`);
process.exitCode = total.fail > 0 || total.pass === 0 ? 1 : 0;
