/**
 * Tekton Large Results installed on the test cluster exactly as docs/install.md tells an admin without cert-manager:
 * the shell blocks marked `<!-- test: install-own-certificate -->` there are run, in order, with bash, from a
 * directory holding the checkout as `tekton-large-results/`, with the cluster's kubectl first on PATH. So the
 * documented commands are what the end-to-end tests install with, and a doc that stops working fails the suite.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RELEASE_REPOSITORY } from '../../../images/recipes.js';
import type { NodeCluster } from './bring-up.js';

const PROJECT_DIR = fileURLToPath(new URL('../../../../', import.meta.url));
export const INSTALL_DOC = join(PROJECT_DIR, 'docs/install.md');
const MARKER = '<!-- test: install-own-certificate';

/** The marked shell blocks of a Markdown document, in order. */
export function markedShellBlocks(markdown: string, marker = MARKER): string[] {
  const blocks: string[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]?.startsWith(marker)) continue;
    if (lines[i + 1] !== '```sh') throw new Error(`${marker} on line ${i + 1} of the doc is not followed by a \`\`\`sh block`);
    const end = lines.indexOf('```', i + 2);
    if (end < 0) throw new Error(`the shell block after line ${i + 1} is not closed`);
    blocks.push(lines.slice(i + 2, end).join('\n'));
    i = end;
  }
  if (blocks.length === 0) throw new Error(`no block marked ${marker} in the doc`);
  return blocks;
}

export async function installTlrAsDocumented(cluster: NodeCluster, log: (line: string) => void): Promise<void> {
  const script = markedShellBlocks(await readFile(INSTALL_DOC, 'utf8')).join('\n');
  const work = await mkdtemp(join(tmpdir(), 'tlr-install-'));
  try {
    await symlink(PROJECT_DIR, join(work, 'tekton-large-results'));
    const env = {
      PATH: `${cluster.binaries.kubernetes}:/usr/local/bin:/usr/bin:/bin`, HOME: work, KUBECONFIG: cluster.kubeConfigPath,
      REGISTRY: RELEASE_REPOSITORY,
    };
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
      const child = spawn('/bin/bash', ['-euo', 'pipefail', '-c', script], { cwd: work, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
      child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
      child.on('error', reject);
      child.on('close', (exit) => resolve({ code: exit, output: out }));
    });
    if (code !== 0) throw new Error(`the install commands of docs/install.md failed (exit ${code}):\n${output.trim()}`);
    log(output.trim().split('\n').filter((l) => /created|configured|successfully rolled out/.test(l)).slice(-3).join('\n'));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
