/**
 * The built `tlr` CLI run as a user runs it on this machine (a child process: its own stdout, stderr and exit code),
 * with `KUBECONFIG` set when given; `stdout` into a file for byte output (`-o -`).
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';

export interface TlrResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function tlr(args: readonly string[], kubeconfig?: string, stdoutFile?: string): Promise<TlrResult> {
  return new Promise((resolve) => {
    const env = kubeconfig === undefined ? process.env : { ...process.env, KUBECONFIG: kubeconfig };
    const child = spawn(process.execPath, ['dist/src/cli/main.js', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const out = stdoutFile === undefined ? undefined : createWriteStream(stdoutFile);
    if (out) child.stdout.pipe(out);
    else child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      if (out) out.end(() => resolve({ code, stdout, stderr }));
      else resolve({ code, stdout, stderr });
    });
  });
}
