/**
 * Regenerates test/fixtures/quantity/quantities.json from k8s.io/apimachinery itself (the Go oracle in
 * test/core/quantity-oracle). Not a test (it needs Go): run on purpose, review the diff.
 *
 *   npm run build && node dist/test/core/quantity-expectations.js
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FIXTURE, quantityCandidates } from './quantity-corpus.js';

const dir = mkdtempSync(join(tmpdir(), 'quantity-oracle-'));
try {
  const binary = join(dir, 'quantity-oracle');
  execFileSync('go', ['build', '-o', binary, '.'], { cwd: resolve('test/core/quantity-oracle'), stdio: 'inherit', env: { ...process.env, GOFLAGS: '-mod=mod' } });
  const output = execFileSync(binary, [], { input: `${quantityCandidates().join('\n')}\n`, encoding: 'utf8' });
  writeFileSync(FIXTURE, output);
  console.log(`wrote ${FIXTURE}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
