#!/usr/bin/env node
import { basename } from 'node:path';
import { readStdin } from './inputs.js';
import { runCli } from './program.js';

// Installed as `tkn-tlr`, tkn runs it as its plugin `tkn tlr …` (the same commands).
const name = basename(process.argv[1] ?? '') === 'tkn-tlr' ? 'tkn tlr' : 'tlr';
process.exitCode = await runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  stdin: readStdin,
  stdout: process.stdout,
  stderr: process.stderr,
}, name);
