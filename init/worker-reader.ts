/**
 * Reading and hashing a large value on two threads while substitute writes it: substitute copies a value (read, heredoc
 * guard, write) and hashes it, and on one thread the hash alone takes as long as the copy. This thread reads each
 * chunk (libuv's pool does the copy from the page cache) and transfers it (no copy) to a worker (inline code, so the
 * image needs no second entry file) that only hashes it and transfers it back; this thread then writes it. One read is
 * in flight at a time and the worker hashes in the order it receives, so chunks come back in file order; a pool of
 * POOL buffers lets reads, hashing and writes overlap. The digest is over exactly the bytes handed out (each buffer is
 * hashed before it comes back, and nothing else holds it meanwhile), so a file that changes meanwhile is refused.
 *
 * Measured (1 GiB, warm page cache, 2-core VM, `npm run bench` with the previous build alternating, 5 rounds): median
 * 0.78 s this way with 16 buffers of 256 KiB, against 0.85 s when the worker read and hashed (the read's copy was on
 * the hashing thread, the bottleneck) and `openssl dgst -sha256` at 0.67 s (docs/testing.md). With 6 buffers this
 * way is slower (1.07 s): the read, the hash and the write then wait on each other. Buffers over shared memory were
 * 0.4 s/GiB slower.
 * Values smaller than WORKER_MIN_BYTES are read and hashed in line: starting a thread (about 20 ms) costs more.
 */
import type { FileHandle } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type { Digest } from './hash-file.js';

export const WORKER_MIN_BYTES = 16 * 1024 * 1024;

/** Buffers in the pipeline: 16 of CHUNK_SIZE (256 KiB) are 4 MiB, whatever the value's size. */
const POOL = 16;

const HASHER = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hash = createHash('sha256');
parentPort.on('message', (m) => {
  if (m === 'end') { parentPort.postMessage({ sha256: hash.digest('hex') }); return; }
  hash.update(new Uint8Array(m.chunk, 0, m.length));
  parentPort.postMessage(m, [m.chunk]);
});
`;

type Message = { chunk: ArrayBuffer; length: number } | { sha256: string };

export class WorkerReader {
  private readonly worker: Worker;
  private readonly queue: Message[] = [];
  private readonly free: ArrayBuffer[];
  private wake: (() => void) | undefined;
  private failure: Error | undefined;
  private result: Digest | undefined;
  private reading: Promise<void> | undefined;
  private position = 0;
  private ended = false;

  constructor(
    private readonly handle: FileHandle,
    private readonly length: number,
    private readonly ring: number,
    private readonly chunkSize: number,
    pool = POOL,
  ) {
    // The consumer holds ring - 1 chunks; one more buffer must be free to read into, or nothing moves.
    if (ring < 2 || pool < ring) throw new Error(`WorkerReader: expected ring >= 2 and pool >= ring, found ring ${ring}, pool ${pool}`);
    this.worker = new Worker(HASHER, { eval: true });
    this.free = Array.from({ length: pool }, () => new ArrayBuffer(chunkSize));
    this.worker.on('message', (m: Message) => {
      this.queue.push(m);
      this.notify();
    });
    this.worker.on('error', (error: Error) => this.fail(error));
    this.worker.on('exit', (code) => this.fail(new Error(`the hashing thread exited (code ${code})`)));
  }

  /** The digest of every byte handed out; only after chunks() ended. */
  get digest(): Digest {
    if (this.result === undefined) throw new Error('WorkerReader: digest before the last chunk');
    return this.result;
  }

  /**
   * `length` bytes of the file from position 0 (fewer if it is shorter), each chunk handed out once the hasher has
   * hashed it. `ring`: the consumer is done with a chunk when it asks for the (ring - 1)-th chunk after it (readChunks'
   * rule): its buffer is then free to be read into again.
   */
  async *chunks(): AsyncGenerator<Buffer> {
    this.pump();
    const held: ArrayBuffer[] = [];
    for (;;) {
      if (held.length >= this.ring - 1) {
        this.free.push(held.shift() as ArrayBuffer);
        this.pump();
      }
      const m = await this.next();
      if ('sha256' in m) {
        this.result = { sha256: m.sha256, bytes: this.position };
        return;
      }
      held.push(m.chunk);
      yield Buffer.from(m.chunk, 0, m.length);
    }
  }

  /** Stops the worker, once the read in flight (if any) is done: the caller may then close the handle. */
  async close(): Promise<void> {
    this.failure ??= new Error('the hashing thread was closed');
    await this.reading;
    await this.worker.terminate();
  }

  /** Starts the next read when none is running and a buffer is free; each read chunk goes to the hasher, in order. */
  private pump(): void {
    if (this.reading !== undefined || this.ended || this.failure !== undefined || this.free.length === 0) return;
    const want = Math.min(this.chunkSize, this.length - this.position);
    if (want <= 0) {
      this.end();
      return;
    }
    const buffer = this.free.pop() as ArrayBuffer;
    this.reading = this.handle.read(new Uint8Array(buffer), 0, want, this.position).then(
      ({ bytesRead }) => {
        this.reading = undefined;
        if (this.failure !== undefined) return;
        try {
          if (bytesRead === 0) {
            this.free.push(buffer);
            this.end();
            return;
          }
          this.position += bytesRead;
          this.worker.postMessage({ chunk: buffer, length: bytesRead }, [buffer]);
          this.pump();
        } catch (error) {
          this.fail(error instanceof Error ? error : new Error(String(error)));
        }
      },
      (error: unknown) => {
        this.reading = undefined;
        this.fail(new Error(`reading the result file: ${error instanceof Error ? error.message : String(error)}`));
      },
    );
  }

  private end(): void {
    this.ended = true;
    this.worker.postMessage('end');
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
