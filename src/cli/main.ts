#!/usr/bin/env node
import { basename } from 'node:path';

// Installed as `tkn-tlr`, tkn runs it as its plugin `tkn tlr …` (the same commands).
const name = basename(process.argv[1] ?? '') === 'tkn-tlr' ? 'tkn tlr' : 'tlr';

/** The oldest Node.js the CLI runs on (package.json engines); older ones fail inside its HTTP client at load. */
const NODE_MAJOR = 24;
const major = Number(process.versions.node.split('.')[0]);
if (major < NODE_MAJOR) {
  process.stderr.write(`error: ${name} needs Node.js ${NODE_MAJOR} or newer; this is Node.js ${process.versions.node} (${process.execPath})\n`);
  process.exit(2);
}

// Loaded only now, so an old Node.js gets the line above, not a stack trace from a dependency.
const { readStdin } = await import('./inputs.js');
const { runCli } = await import('./program.js');
process.exitCode = await runCli(process.argv.slice(2), {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  stdin: readStdin,
  stdout: process.stdout,
  stderr: process.stderr,
}, name);
