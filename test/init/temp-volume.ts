/**
 * Test support for init/: a real temporary result volume, results and scripts directories, and a way to run the
 * built tlr-init binary. Not a test file itself (ava runs *.test.js only).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { ExecutionContext } from 'ava';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../init/log.js';
import { formatReference } from '../../src/core/reference.js';

export const CLI = fileURLToPath(new URL('../../init/main.js', import.meta.url));

export const RUN_DIR = 'run-1';
export const PRODUCER = 'producer';

export interface TempVolume {
  readonly base: string;
  /** The result volume root. */
  readonly root: string;
  /** root/run-1/producer */
  readonly producerDir: string;
  /** Stand-in for /tekton/results. */
  readonly resultsDir: string;
  /** Stand-in for /tekton/scripts. */
  readonly scriptsDir: string;
}

/** A fresh temp directory, removed when the test ends. */
export async function tempDir(t: ExecutionContext, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function makeVolume(t: ExecutionContext): Promise<TempVolume> {
  const base = await tempDir(t, 'tlr-init-');
  const root = join(base, 'volume');
  const producerDir = join(root, RUN_DIR, PRODUCER);
  const resultsDir = join(base, 'results');
  const scriptsDir = join(base, 'scripts');
  await Promise.all([mkdir(producerDir, { recursive: true }), mkdir(resultsDir), mkdir(scriptsDir)]);
  return { base, root, producerDir, resultsDir, scriptsDir };
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Writes a result file under the producer dir and returns its correct reference. */
export async function writeResult(volume: TempVolume, name: string, content: string | Buffer): Promise<string> {
  await writeFile(join(volume.producerDir, name), content);
  return referenceFor(`${RUN_DIR}/${PRODUCER}/${name}`, content);
}

export function referenceFor(path: string, content: string | Buffer): string {
  return formatReference({ sha256: sha256(content), size: Buffer.byteLength(content), path });
}

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built dist/init/main.js with the current Node. */
export async function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  return { code, stdout, stderr };
}

/** Collects the logger's lines for assertions. */
export type LogLine = { msg: string } & Record<string, unknown>;

export function collectLog(): { lines: LogLine[]; log: Logger } {
  const lines: LogLine[] = [];
  return { lines, log: (msg, fields) => lines.push({ msg, ...fields }) };
}
