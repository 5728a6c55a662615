/**
 * No single request can hold the webhook: decisions run on worker threads, so the event loop keeps answering
 * /healthz and requests that need no rewrite while a decision runs; a decision that passes the deadline is stopped
 * (its thread terminated) and its request still gets an AdmissionReview echoing its uid; a thread that dies (out of
 * heap) takes only its own request with it. Uses a worker fixture that never answers runs named `spin` and exhausts
 * its heap on runs named `hog`. The objects the rewrite used to choke on are answered through the real server too.
 */
import test, { type ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { MAX_REFERENCE_RESULTS_PER_TASK } from '../../src/core/limits.js';
import type { AdmissionReviewResponse } from '../../src/webhook/admission-review.js';
import { startWebhookServer, type WebhookServer } from '../../src/webhook/server.js';
import { makePair, memoryLogger, postJson, send, tempDir, type LogLine } from './https-support.js';

const SPINNING = new URL('./fixtures/spinning-worker.js', import.meta.url);

function run(name: string, optedIn = true): Record<string, unknown> {
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    metadata: { name, namespace: 'ci', ...(optedIn ? { annotations: { 'tlr.dev/result-workspace': 'results' } } : {}) },
    spec: {
      pipelineSpec: {
        workspaces: [{ name: 'results' }],
        tasks: [{ name: 'build', taskSpec: { ...(optedIn ? { metadata: { annotations: { 'tlr.dev/reference-results': 'out' } } } : {}), results: [{ name: 'out' }], steps: [{ image: 'bash', script: 'date > $(results.out.path)' }] } }],
      },
    },
  };
}

function review(object: unknown, uid = randomUUID()): { uid: string; body: Record<string, unknown> } {
  return { uid, body: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid, kind: { group: 'tekton.dev', version: 'v1', kind: 'PipelineRun' }, namespace: 'ci', operation: 'CREATE', object } } };
}

async function start(t: ExecutionContext, options: { workers: number; timeoutMs: number; spinning?: boolean }): Promise<{ server: WebhookServer; lines: LogLine[] }> {
  const dir = await tempDir(t);
  const pair = await makePair(dir, 'bounded');
  const { logger, lines } = memoryLogger();
  const server = await startWebhookServer({
    port: 0,
    host: '127.0.0.1',
    certFile: pair.certFile,
    keyFile: pair.keyFile,
    settings: { config: (ns) => parseConfig({}, ns), featureFlags: () => parseFeatureFlags({}) },
    logger: options.spinning ? logger : pino({ level: 'silent' }),
    handlerTimeoutMs: options.timeoutMs,
    admissionWorkers: options.workers,
    ...(options.spinning ? { admissionWorkerUrl: SPINNING } : {}),
  });
  t.teardown(() => server.close());
  return { server, lines };
}

const responseOf = (json: unknown): AdmissionReviewResponse['response'] => (json as AdmissionReviewResponse).response;

test('a decision that never ends holds only its thread: /healthz and other requests are answered; at the deadline it gets an AdmissionReview for its uid', async (t) => {
  const { server, lines } = await start(t, { workers: 1, timeoutMs: 3000, spinning: true });
  const spin = review(run('spin'));
  let spinAnswered = false;
  const spinning = postJson(server.port, '/mutate/pipelineruns', spin.body).then((a) => ((spinAnswered = true), a));

  const health = await send(server.port, '/healthz', undefined, { method: 'GET' });
  t.is(health.status, 200);
  const plain = review(run('plain', false));
  t.deepEqual(responseOf((await postJson(server.port, '/mutate/pipelineruns', plain.body)).json), { uid: plain.uid, allowed: true });
  t.false(spinAnswered, 'both answered while the only worker thread was still busy');

  const answer = await spinning;
  t.is(answer.status, 200);
  const response = responseOf(answer.json);
  t.is(response.uid, spin.uid);
  t.false(response.allowed);
  t.is(response.status?.code, 500);
  t.regex(response.status?.message ?? '', /did not decide within 3000 ms/);
  t.true(lines.some((l) => l.msg === 'Timed out admission request' && l.uid === spin.uid));

  // The stuck thread was terminated and replaced: the next opted-in run is decided.
  const next = review(run('next'));
  const decided = responseOf((await postJson(server.port, '/mutate/pipelineruns', next.body)).json);
  t.is(decided.uid, next.uid);
  t.true(decided.allowed);
  t.truthy(decided.patch);
});

test('a thread that runs out of heap fails only its own request, with an AdmissionReview; a new thread takes over', async (t) => {
  const { server, lines } = await start(t, { workers: 1, timeoutMs: 30_000, spinning: true });
  const hog = review(run('hog'));
  const response = responseOf((await postJson(server.port, '/mutate/pipelineruns', hog.body)).json);
  t.is(response.uid, hog.uid);
  t.is(response.status?.code, 500);
  t.regex(response.status?.message ?? '', /internal error, logged with request uid/);
  t.true(lines.some((l) => l.msg === 'Lost admission worker'));
  const next = review(run('next'));
  t.true(responseOf((await postJson(server.port, '/mutate/pipelineruns', next.body)).json).allowed);
});

test('the objects the rewrite choked on, through the server: answered with an AdmissionReview for their uid', async (t) => {
  const { server } = await start(t, { workers: 2, timeoutMs: 30_000 });
  // 5,000 results stored by reference and a 1 MiB script naming them all.
  const names = Array.from({ length: 5000 }, (_, i) => `r${i}`);
  const many = run('many') as { spec: { pipelineSpec: { tasks: Array<{ taskSpec: Record<string, unknown> }> } } };
  const taskSpec = many.spec.pipelineSpec.tasks[0]?.taskSpec ?? {};
  taskSpec.metadata = { annotations: { 'tlr.dev/reference-results': names.join(',') } };
  taskSpec.results = names.map((name) => ({ name }));
  taskSpec.steps = [{ image: 'bash', script: names.map((n) => `echo ${n} > $(results.${n}.path)`).join('\n').repeat(8) }];
  const big = review(many);
  const refused = responseOf((await postJson(server.port, '/mutate/pipelineruns', big.body)).json);
  t.is(refused.uid, big.uid);
  t.is(refused.status?.code, 422);
  t.regex(refused.status?.message ?? '', new RegExp(`spec\\.pipelineSpec\\.tasks\\[0\\]\\.taskSpec\\.results: expected at most ${MAX_REFERENCE_RESULTS_PER_TASK} results stored by reference in one task, found 5000`));

  // Nested 100,000 deep (JSON.stringify cannot even write it): parsed, judged, answered.
  const uid = randomUUID();
  const depth = 100_000;
  const deep = `${'{"a":'.repeat(depth)}"x"${'}'.repeat(depth)}`;
  for (const optedIn of [false, true]) {
    const object = JSON.stringify(run('deep', optedIn)).replace('"namespace":"ci"', `"namespace":"ci","x-deep":${deep}`);
    const body = `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"${uid}","kind":{"group":"tekton.dev","version":"v1","kind":"PipelineRun"},"namespace":"ci","operation":"CREATE","object":${object}}}`;
    const response = responseOf((await send(server.port, '/mutate/pipelineruns', body)).json);
    t.is(response.uid, uid);
    if (optedIn) t.regex(response.status?.message ?? '', /metadata\[x-deep\]\.a\.a.*: expected maps and lists nested at most 100 deep/);
    else t.deepEqual(response, { uid, allowed: true });
  }
});
