/**
 * Test support for the webhook server: self-signed pairs from the openssl CLI, an HTTPS client that opens a new TLS
 * connection per request, the served certificate's fingerprint, an in-memory pino logger, and polling. Not a test file.
 */
import type { ExecutionContext } from 'ava';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { promisify } from 'node:util';
import { pino, type Logger } from 'pino';

const run = promisify(execFile);

export interface Pair {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly fingerprint: string;
}

export async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tlr-webhook-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A self-signed EC pair for 127.0.0.1, written as `<dir>/<name>.crt` and `<dir>/<name>.key`. */
export async function makePair(dir: string, name: string): Promise<Pair> {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', `/CN=${name}`,
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  const cert = await readFile(certFile);
  return { certFile, keyFile, cert, key: await readFile(keyFile), fingerprint: new X509Certificate(cert).fingerprint256 };
}

export interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  readonly json: unknown;
}

export interface PostOptions {
  readonly method?: string;
  readonly headers?: Record<string, string | number>;
  /** Trusted CA; without it the server's certificate is not verified. */
  readonly ca?: Buffer;
  /** Called once the server answered 100 Continue (send `Expect: 100-continue`); the body is written after it. */
  readonly onContinue?: () => Promise<void>;
}

/** One request over a new TLS connection. `body` is written in one piece, or chunk by chunk (chunked encoding). */
export function send(port: number, path: string, body: string | Buffer | readonly Buffer[] | undefined, options: PostOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'POST',
        agent: false,
        headers: {
          'content-type': 'application/json',
          ...(typeof body === 'string' || Buffer.isBuffer(body) ? { 'content-length': Buffer.byteLength(body) } : {}),
          ...options.headers,
        },
        ...(options.ca ? { ca: options.ca } : { rejectUnauthorized: false }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    const write = (): void => {
      if (Array.isArray(body)) for (const chunk of body as Buffer[]) req.write(chunk);
      else if (body !== undefined) req.write(body);
      req.end();
    };
    if (options.onContinue) {
      req.on('continue', () => void options.onContinue?.().then(write, reject));
      req.flushHeaders();
    } else {
      write();
    }
  });
}

export function postJson(port: number, path: string, value: unknown, options: PostOptions = {}): Promise<Answer> {
  return send(port, path, JSON.stringify(value), options);
}

/** The SHA-256 fingerprint of the certificate the server presents on a new connection. */
export function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.on('error', reject);
  });
}

/** Polls `check` every 20 ms until it returns true (or throws after `timeoutMs`). */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export type LogLine = { level: number; msg: string } & Record<string, unknown>;

/** A pino logger writing parsed JSON lines into `lines`. */
export function memoryLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { logger, lines };
}
