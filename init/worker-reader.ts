/**
 * Reading and hashing a large value on a second thread while this one writes it: substitute copies a value (read,
 * heredoc guard, write) and hashes it, and on one thread the hash alone takes as long as the copy. A worker (inline
 * code, so the image needs no second entry file) reads the file through the same descriptor into a pool of its own
 * buffers, hashes each, and transfers it here (no copy); this thread writes it and transfers it back once the consumer
 * is done with it. The digest is over exactly the bytes handed out (each buffer is hashed before it is transferred,
 * and nothing else holds it meanwhile), so a file that changes meanwhile is refused as before.
 *
 * Measured alternatives (1 GiB, this 2-core machine): buffers over shared memory, filled here and hashed there, are
 * 0.4 s/GiB slower (fs reads and writes through them); reading here and sending each buffer to the worker to hash
 * and back before writing it is 0.3 s slower (a round trip per chunk on the critical path).
 * Values smaller than WORKER_MIN_BYTES are read and hashed in line: starting a thread (about 20 ms) costs more.
 */
import { Worker } from 'node:worker_threads';
import type { Digest } from './hash-file.js';

export const WORKER_MIN_BYTES = 16 * 1024 * 1024;

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { readSync } = require('node:fs');
const { createHash } = require('node:crypto');
const { fd, length, chunkSize, pool } = workerData;
const hash = createHash('sha256');
const free = Array.from({ length: pool }, () => new ArrayBuffer(chunkSize));
let position = 0;
let ended = false;
function pump() {
  while (!ended && free.length > 0) {
    const want = Math.min(chunkSize, length - position);
    const buffer = free.pop();
    let n = 0;
    if (want > 0) {
      try {
        n = readSync(fd, new Uint8Array(buffer), 0, want, position);
      } catch (error) {
        ended = true;
        parentPort.postMessage({ error: String((error && error.message) || error) });
        return;
      }
    }
    if (n === 0) {
      ended = true;
      parentPort.postMessage({ sha256: hash.digest('hex'), bytes: position });
      return;
    }
    hash.update(new Uint8Array(buffer, 0, n));
    position += n;
    parentPort.postMessage({ chunk: buffer, length: n }, [buffer]);
  }
}
parentPort.on('message', (buffer) => { free.push(buffer); pump(); });
pump();
`;

type Message = { chunk: ArrayBuffer; length: number } | { sha256: string; bytes: number } | { error: string };

/**
 * Yields `length` bytes of the file open as `fd` from position 0 (fewer if it is shorter), hashed on the worker;
 * `digest` once chunks() ended. `ring`: the consumer is done with a chunk when it asks for the (ring - 1)-th chunk
 * after it (readChunks' rule): that chunk's buffer then goes back to the worker.
 */
export class WorkerReader {
  private readonly worker: Worker;
  private readonly queue: Message[] = [];
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  private result: Digest | undefined;

  constructor(fd: number, length: number, private readonly ring: number, chunkSize: number) {
    this.worker = new Worker(WORKER, { eval: true, workerData: { fd, length, chunkSize, pool: ring + 2 } });
    this.worker.on('message', (m: Message) => {
      this.queue.push(m);
      this.notify();
    });
    this.worker.on('error', (error: Error) => this.fail(error));
    this.worker.on('exit', (code) => this.fail(new Error(`the reading thread exited (code ${code})`)));
  }

  /** The digest of every byte handed out; only after chunks() ended. */
  get digest(): Digest {
    if (this.result === undefined) throw new Error('WorkerReader: digest before the last chunk');
    return this.result;
  }

  async *chunks(): AsyncGenerator<Buffer> {
    const held: ArrayBuffer[] = [];
    for (;;) {
      if (held.length >= this.ring - 1) this.release(held.shift() as ArrayBuffer);
      const m = await this.next();
      if ('error' in m) throw new Error(`reading the result file: ${m.error}`);
      if ('sha256' in m) {
        this.result = { sha256: m.sha256, bytes: m.bytes };
        return;
      }
      held.push(m.chunk);
      yield Buffer.from(m.chunk, 0, m.length);
    }
  }

  /** Stops the worker (it never touches the descriptor afterwards: the caller may close it). */
  async close(): Promise<void> {
    this.failure ??= new Error('the reading thread was closed');
    await this.worker.terminate();
  }

  private release(buffer: ArrayBuffer): void {
    if (this.failure === undefined) this.worker.postMessage(buffer, [buffer]);
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.notify();
  }

  private async next(): Promise<Message> {
    for (;;) {
      const m = this.queue.shift();
      if (m !== undefined) return m;
      if (this.failure !== undefined) throw this.failure;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}
