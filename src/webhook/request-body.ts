import type { IncomingMessage } from 'node:http';

/** The request body exceeds the server's limit (HTTP 413). */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
}

/**
 * Reads a request body of at most `maxBytes`. Over the limit (by Content-Length, or by counting) it rejects at once;
 * the rest of the body is then read and discarded, so the client, still sending, can read the 413 the server
 * answers (the server closes the connection after it, and its request timer bounds the draining).
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    const tooLarge = (found: string): BodyTooLargeError =>
      new BodyTooLargeError(`expected a request body of at most ${maxBytes} bytes, found ${found}`);
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    const fail = (error: Error): void => {
      if (failed) return;
      failed = true;
      chunks.length = 0;
      reject(error);
    };
    if (Number.isFinite(declared) && declared > maxBytes) fail(tooLarge(`Content-Length ${declared}`));
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > maxBytes) fail(tooLarge(`more than ${maxBytes} bytes`));
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks, size));
    });
    req.on('error', fail);
    req.on('close', () => {
      if (!req.complete) fail(new Error('the client closed the connection before sending the whole body'));
    });
  });
}
