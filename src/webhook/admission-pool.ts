/**
 * A fixed pool of admission worker threads (docs/design.md, "Admission work off the event loop"). The server's event
 * loop only reads bodies, does lookups and writes answers; every decision that rewrites runs here, one per thread at a
 * time, in arrival order. A task aborted by its deadline is dropped from the queue, or its thread is terminated
 * (V8 stops it wherever it is) and replaced, so no object can keep a thread, let alone the server, busy past its
 * deadline. A thread that runs out of its heap (`heapMb`) dies alone: its task fails, a new thread takes its place.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { AdmissionAnswer, AdmissionTask } from './admission-task.js';

export interface AdmissionPoolOptions {
  /** Threads (at least 1). */
  readonly size: number;
  /** V8 old-generation heap limit of each thread, in MiB. */
  readonly heapMb: number;
  readonly logger: Logger;
  /** The worker's script; default admission-worker.js (tests give one that misbehaves). */
  readonly workerUrl?: URL;
}

/** The task was aborted (its deadline passed) before it was answered. */
export class TaskAbortedError extends Error {
  override readonly name = 'TaskAbortedError';
}

interface Job {
  readonly id: number;
  readonly task: AdmissionTask;
  readonly signal: AbortSignal;
  readonly resolve: (answer: AdmissionAnswer) => void;
  readonly reject: (error: Error) => void;
  worker?: Worker;
  settled: boolean;
}

const WORKER_URL = new URL('./admission-worker.js', import.meta.url);
/**
 * Young generation of each thread, in MiB. V8 sizes it by the machine (up to 3 × 16-32 MiB semi-spaces per thread),
 * which a decision fills with short-lived strings: measured, three threads' young generations were most of the
 * process's 450 MiB peak under the worst-case benchmark; at 12 MiB the peak is about 220 MiB, at the same latency.
 */
const YOUNG_GENERATION_MB = 12;

export class AdmissionPool {
  private readonly idle: Worker[] = [];
  private readonly running = new Map<Worker, Job>();
  private readonly queue: Job[] = [];
  private nextId = 0;
  private closed = false;

  constructor(private readonly options: AdmissionPoolOptions) {
    for (let i = 0; i < Math.max(1, options.size); i++) this.idle.push(this.spawn());
  }

  /** Tasks waiting for a thread. */
  get queued(): number {
    return this.queue.length;
  }

  /** Decides `task` on a thread; rejects with TaskAbortedError when `signal` aborts first. */
  run(task: AdmissionTask, signal: AbortSignal): Promise<AdmissionAnswer> {
    if (this.closed) return Promise.reject(new Error('the admission pool is closed'));
    if (signal.aborted) return Promise.reject(new TaskAbortedError('aborted before it was queued'));
    return new Promise((resolve, reject) => {
      const job: Job = { id: this.nextId++, task, signal, resolve, reject, settled: false };
      signal.addEventListener('abort', () => this.abort(job), { once: true });
      this.queue.push(job);
      this.pump();
    });
  }

  /** Terminates every thread; tasks still queued or running are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) settle(job, new Error('the admission pool closed'));
    const workers = [...this.idle.splice(0), ...this.running.keys()];
    for (const job of this.running.values()) settle(job, new Error('the admission pool closed'));
    this.running.clear();
    await Promise.all(workers.map((w) => w.terminate()));
  }

  private spawn(): Worker {
    const resourceLimits = { maxOldGenerationSizeMb: this.options.heapMb, maxYoungGenerationSizeMb: YOUNG_GENERATION_MB };
    const worker = new Worker(this.options.workerUrl ?? WORKER_URL, { resourceLimits });
    worker.unref();
    worker.on('message', (message: { id: number; answer: AdmissionAnswer }) => {
      const job = this.running.get(worker);
      if (job?.id !== message.id) return;
      this.running.delete(worker);
      settle(job, undefined, message.answer);
      this.idle.push(worker);
      this.pump();
    });
    worker.on('error', (error: Error) => this.lost(worker, error));
    worker.on('exit', (code) => this.lost(worker, new Error(`the admission worker exited with code ${code}`)));
    return worker;
  }

  /** A thread died (error, out of memory, terminated): its task fails, a new thread replaces it. */
  private lost(worker: Worker, error: Error): void {
    const job = this.running.get(worker);
    const wasIdle = this.idle.indexOf(worker);
    if (wasIdle >= 0) this.idle.splice(wasIdle, 1);
    if (job === undefined && wasIdle < 0) return; // already replaced
    this.running.delete(worker);
    if (job) {
      this.options.logger.error({ err: error.message }, 'Lost admission worker');
      settle(job, error);
    }
    if (!this.closed) {
      this.idle.push(this.spawn());
      this.pump();
    }
  }

  private abort(job: Job): void {
    if (job.settled) return;
    const queued = this.queue.indexOf(job);
    if (queued >= 0) this.queue.splice(queued, 1);
    settle(job, new TaskAbortedError(queued >= 0 ? 'aborted while waiting for a worker' : 'aborted while deciding'));
    const worker = job.worker;
    if (worker && this.running.get(worker) === job) {
      this.running.delete(worker);
      void worker.terminate();
      if (!this.closed) this.idle.push(this.spawn());
      this.pump();
    }
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.shift() as Worker;
      const job = this.queue.shift() as Job;
      job.worker = worker;
      this.running.set(worker, job);
      // A private copy in its own ArrayBuffer (a Buffer may be a view into Node's shared pool), transferred, not cloned.
      const body = new Uint8Array(job.task.body.byteLength);
      body.set(job.task.body);
      worker.postMessage({ id: job.id, task: { ...job.task, body } }, [body.buffer]);
    }
  }
}

function settle(job: Job, error: Error | undefined, answer?: AdmissionAnswer): void {
  if (job.settled) return;
  job.settled = true;
  if (error) job.reject(error);
  else job.resolve(answer as AdmissionAnswer);
}
