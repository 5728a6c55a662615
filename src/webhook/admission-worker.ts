/**
 * The admission worker thread's entry point: takes AdmissionTasks from the pool, answers each with `decide`. One
 * task at a time; the pool terminates the thread when a task passes its deadline.
 */
import { parentPort } from 'node:worker_threads';
import { decide, type AdmissionTask } from './admission-task.js';

const port = parentPort;
if (port === null) throw new Error('admission-worker.js runs as a worker thread of the webhook server');
port.on('message', (message: { id: number; task: AdmissionTask }) => {
  port.postMessage({ id: message.id, answer: decide(message.task) });
});
