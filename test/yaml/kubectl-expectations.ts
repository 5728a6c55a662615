/**
 * Regenerates test/fixtures/kubectl-yaml/{scalars,corpus}.json from the real kubectl YAML code (the Go oracle in
 * test/yaml/kubectl-oracle), and checks that kubectl reads back what tlr writes for every corpus document. Not a
 * test (it needs Go): run on purpose, review the diff.
 *
 *   npm run build && node dist/test/yaml/kubectl-expectations.js
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseYamlDocuments, stringifyYamlDocuments } from '../../src/yaml/documents.js';
import { canonicalHash, corpusFiles, FIXTURES, scalarCandidates, type OracleResult } from './kubectl-corpus.js';

const ORACLE_SRC = resolve('test/yaml/kubectl-oracle');

function buildOracle(dir: string): string {
  const binary = join(dir, 'kubectl-oracle');
  execFileSync('go', ['build', '-o', binary, '.'], { cwd: ORACLE_SRC, stdio: 'inherit', env: { ...process.env, GOFLAGS: '-mod=mod' } });
  return binary;
}

function runOracle(binary: string, args: string[], input?: string): string {
  return execFileSync(binary, args, { input, maxBuffer: 1 << 28, encoding: 'utf8' });
}

/** kubectl's JSON for a document, as a canonical hash, or its error. */
function expected(result: OracleResult): string | { error: string } {
  if (result.error !== undefined) return { error: result.error };
  return canonicalHash(JSON.parse(result.json ?? 'null'));
}

const dir = mkdtempSync(join(tmpdir(), 'kubectl-oracle-'));
try {
  const oracle = buildOracle(dir);

  const candidates = scalarCandidates();
  const texts = [...candidates.map((s) => `v: ${s}\n`), ...candidates.map((s) => `${s}: k\n`)];
  const results = JSON.parse(runOracle(oracle, ['-scalars'], JSON.stringify(texts))) as OracleResult[];
  // One scalar per line: [scalar, kubectl's JSON of `v: <scalar>`, of `<scalar>: k`] (a JSON string, or {error}).
  const row = (r: OracleResult | undefined): unknown => (r?.error !== undefined ? { error: r.error } : r?.json);
  const lines = candidates.map((s, i) => JSON.stringify([s, row(results[i]), row(results[i + candidates.length])]));
  writeFileSync(join(FIXTURES, 'scalars.json'), `[\n${lines.join(',\n')}\n]\n`);

  const corpus: Record<string, Array<string | { error: string }>> = {};
  const roundTrip: string[] = [];
  for (const { name, path } of corpusFiles()) {
    const [read] = runOracle(oracle, [path]).trim().split('\n').map((l) => JSON.parse(l) as { docs: OracleResult[] });
    corpus[name] = (read?.docs ?? []).map(expected);
    // What tlr writes for each document must read back, in kubectl, as the same document.
    const written = join(dir, 'written.yaml');
    writeFileSync(written, stringifyYamlDocuments(parseYamlDocuments(readFileSync(path, 'utf8'), name).map((d) => d.object)));
    const [back] = runOracle(oracle, [written]).trim().split('\n').map((l) => JSON.parse(l) as { docs: OracleResult[] });
    if (JSON.stringify((back?.docs ?? []).map(expected)) !== JSON.stringify(corpus[name])) roundTrip.push(name);
  }
  const entries = Object.entries(corpus).map(([name, docs]) => `${JSON.stringify(name)}: ${JSON.stringify(docs)}`);
  writeFileSync(join(FIXTURES, 'corpus.json'), `{\n${entries.join(',\n')}\n}\n`);
  console.log(`${candidates.length} scalars, ${Object.keys(corpus).length} corpus files written to ${FIXTURES}`);
  if (roundTrip.length > 0) {
    console.error(`kubectl reads back differently what tlr wrote for: ${roundTrip.join(', ')}`);
    process.exitCode = 1;
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
