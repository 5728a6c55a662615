#!/usr/bin/env node
import { readStdin } from './inputs.js';
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  stdin: readStdin,
  stdout: process.stdout,
});
