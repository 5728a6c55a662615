/**
 * Cleans up a test cluster when the process that owns it dies without doing so itself (SIGKILL, an OOM kill, a CI
 * timeout): started detached, outside the cluster's cgroup, with a pipe from the owner on its standard input. At
 * end of input it cleans up the cluster (./registry.ts), unless the owner wrote `stopped` first.
 *
 *   node watchdog.js <cluster record JSON file>
 */
import { readFile } from 'node:fs/promises';
import { cleanUp, type ClusterRecord } from './registry.js';

const [recordFile] = process.argv.slice(2);
if (!recordFile) {
  process.stderr.write('usage: watchdog <cluster record file>\n');
  process.exit(2);
}
let said = '';
process.stdin.on('data', (chunk: Buffer) => (said += chunk.toString('utf8')));
process.stdin.on('end', () => {
  if (said.includes('stopped')) process.exit(0);
  void (async () => {
    const text = await readFile(recordFile, 'utf8').catch(() => undefined);
    if (text === undefined) return; // cleaned up already
    process.stderr.write(`owner of ${recordFile} is gone: cleaning up\n`);
    await cleanUp(JSON.parse(text) as ClusterRecord);
    process.stderr.write('cleaned up\n');
  })().catch((error: unknown) => {
    process.stderr.write(`cleanup failed: ${String(error)}\n`);
    process.exitCode = 1;
  });
});
