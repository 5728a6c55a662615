#!/usr/bin/env node
// `npm test`: runs the whole ava suite (TAP reporter, streamed) and ends with the one line CI reads:
// "N passed, N failed". Exits non-zero when anything failed or no test ran.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const child = spawn(process.execPath, ['node_modules/ava/entrypoints/cli.mjs', '--tap', ...process.argv.slice(2)], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const counts = { pass: 0, fail: 0, skip: 0, todo: 0 };
let sawPlan = false;
const lines = createInterface({ input: child.stdout });
lines.on('line', (line) => {
  process.stdout.write(`${line}\n`);
  const m = /^# (pass|fail|skip|todo) (\d+)$/.exec(line);
  if (m) counts[m[1]] = Number(m[2]);
  if (/^1\.\.\d+$/.test(line)) sawPlan = true;
});
child.on('close', (code) => {
  const failed = counts.fail + (code !== 0 && counts.fail === 0 ? 1 : 0);
  console.log(`${counts.pass} passed, ${failed} failed${counts.skip ? `, ${counts.skip} skipped` : ''}`);
  process.exitCode = code !== 0 || !sawPlan || counts.pass === 0 ? 1 : 0;
});
