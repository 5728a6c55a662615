/**
 * sha256 on a second thread while this one reads and writes: substitute copies a value (read, heredoc guard, write)
 * and hashes it, and on its own thread the hash alone takes as long as the copy. A worker (inline code, so the image
 * needs no second entry file) hashes slots of a SharedArrayBuffer ring as the reader fills them; a slot is reused only
 * after the worker acknowledged it. Values smaller than PARALLEL_MIN_BYTES are hashed in line: starting a thread
 * (about 20 ms) costs more than it saves.
 */
import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

export const PARALLEL_MIN_BYTES = 16 * 1024 * 1024;

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hash = createHash('sha256');
const memory = Buffer.from(workerData.memory);
parentPort.on('message', (m) => {
  if (m.slot === undefined) { parentPort.postMessage({ digest: hash.digest('hex') }); return; }
  hash.update(memory.subarray(m.slot * workerData.slotSize, m.slot * workerData.slotSize + m.length));
  parentPort.postMessage({ slot: m.slot });
});
`;

/** Hashes chunks that live in `slots` of shared memory; `update` resolves once the slot may be reused. */
export interface ChunkHasher {
  /** The shared buffers chunks must be read into (one per slot). */
  readonly slots: readonly Buffer[];
  update(slot: number, length: number): Promise<void>;
  digest(): Promise<string>;
  close(): Promise<void>;
}

/** In line, for small values: the same interface, no thread. */
class InlineHasher implements ChunkHasher {
  readonly slots: Buffer[];
  private readonly hash: Hash = createHash('sha256');
  constructor(count: number, slotSize: number) {
    this.slots = Array.from({ length: count }, () => Buffer.allocUnsafeSlow(slotSize));
  }
  update(slot: number, length: number): Promise<void> {
    this.hash.update((this.slots[slot] as Buffer).subarray(0, length));
    return Promise.resolve();
  }
  digest(): Promise<string> {
    return Promise.resolve(this.hash.digest('hex'));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

class WorkerHasher implements ChunkHasher {
  readonly slots: Buffer[];
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  private digestWaiter: { resolve: (hex: string) => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor(count: number, slotSize: number) {
    const memory = new SharedArrayBuffer(count * slotSize);
    this.slots = Array.from({ length: count }, (_, i) => Buffer.from(memory, i * slotSize, slotSize));
    this.worker = new Worker(WORKER, { eval: true, workerData: { memory, slotSize } });
    this.worker.on('message', (m: { slot?: number; digest?: string }) => {
      if (m.digest !== undefined) {
        this.digestWaiter?.resolve(m.digest);
        this.digestWaiter = undefined;
      } else if (m.slot !== undefined) {
        this.waiting.get(m.slot)?.resolve();
        this.waiting.delete(m.slot);
      }
    });
    this.worker.on('error', (error: Error) => this.fail(error));
    this.worker.on('exit', (code) => this.fail(new Error(`the hashing thread exited (code ${code})`)));
  }

  update(slot: number, length: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => {
      this.waiting.set(slot, { resolve, reject });
      this.worker.postMessage({ slot, length });
    });
  }

  digest(): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<string>((resolve, reject) => {
      this.digestWaiter = { resolve, reject };
      this.worker.postMessage({});
    });
  }

  async close(): Promise<void> {
    this.failure ??= new Error('the hashing thread was closed');
    this.waiting.clear();
    this.digestWaiter = undefined;
    await this.worker.terminate();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const w of this.waiting.values()) w.reject(error);
    this.waiting.clear();
    this.digestWaiter?.reject(error);
    this.digestWaiter = undefined;
  }
}

/** A hasher for a value of `bytes` bytes: on a second thread when it is large enough to gain from one. */
export function chunkHasher(bytes: number, count: number, slotSize: number): ChunkHasher {
  return bytes >= PARALLEL_MIN_BYTES ? new WorkerHasher(count, slotSize) : new InlineHasher(count, slotSize);
}
