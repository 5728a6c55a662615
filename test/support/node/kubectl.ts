/**
 * Running the cluster's own kubectl (the one built with the other components) as a user would, against the API
 * server through the loopback forward.
 */
import { spawn } from 'node:child_process';

export interface KubectlResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export class KubectlError extends Error {
  override readonly name = 'KubectlError';
  constructor(message: string, readonly result: KubectlResult) {
    super(message);
  }
}

export interface KubectlOptions {
  /** Written to kubectl's standard input. */
  readonly input?: string;
  /** Default: throw a KubectlError on a non-zero exit. */
  readonly allowFailure?: boolean;
  readonly timeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

export type Kubectl = (args: readonly string[], options?: KubectlOptions) => Promise<KubectlResult>;

export function kubectlFor(binary: string, kubeconfig: string): Kubectl {
  return (args, options = {}) =>
    new Promise<KubectlResult>((resolve, reject) => {
      const child = spawn(binary, [`--kubeconfig=${kubeconfig}`, ...args], {
        stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH, HOME: process.env.HOME, ...options.env },
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (c: Buffer) => out.push(c));
      child.stderr.on('data', (c: Buffer) => err.push(c));
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
      child.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        const result = { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
        if (code !== 0 && !options.allowFailure) {
          reject(new KubectlError(`kubectl ${args.join(' ')} exited with ${code ?? 'a signal'}: ${result.stderr.trim() || result.stdout.trim()}`, result));
        } else {
          resolve(result);
        }
      });
      child.stdin.on('error', () => undefined); // the program may exit without reading it
      child.stdin.end(options.input ?? '');
    });
}
