/**
 * The HTTPS admission server, over real TLS connections on a free port with certificates made by the openssl CLI.
 */
import test, { type ExecutionContext } from 'ava';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { Agent, request } from 'node:https';
import { parse } from 'yaml';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import type { AdmissionReviewResponse } from '../../src/webhook/admission-review.js';
import { startWebhookServer, type WebhookServer, type WebhookServerOptions } from '../../src/webhook/server.js';
import type { WebhookSettings } from '../../src/webhook/settings.js';
import { applyPatch, patchOf } from './apply-patch.js';
import { makePair, memoryLogger, postJson, send, servedFingerprint, tempDir, until, type LogLine, type Pair } from './https-support.js';

const settings: WebhookSettings = { config: (ns) => parseConfig({}, ns), featureFlags: () => parseFeatureFlags({}) };

const RUN = parse(`
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {name: sbom-1, namespace: ci}
spec:
  pipelineSpec:
    resultWorkspace: {name: results}
    tasks:
      - name: build
        taskSpec:
          results: [{name: sbom, storage: reference}]
          steps: [{name: gen, image: syft, script: 'syft . > $(results.sbom.path)'}]
`) as unknown;
const POD = parse(readFileSync('test/webhook/fixtures/tekton-consumer-pod.yaml', 'utf8')) as unknown;

function review(object: unknown, kind: { group: string; version: string; kind: string }, uid = randomUUID()): Record<string, unknown> {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid, kind, namespace: 'ci', operation: 'CREATE', object } };
}
const PIPELINERUN = { group: 'tekton.dev', version: 'v1', kind: 'PipelineRun' };
const POD_KIND = { group: '', version: 'v1', kind: 'Pod' };

interface Running {
  readonly server: WebhookServer;
  readonly pair: Pair;
  readonly dir: string;
  readonly registry: Registry;
  readonly lines: LogLine[];
}

async function start(t: ExecutionContext, options: Partial<WebhookServerOptions> = {}, files?: { certFile: string; keyFile: string; pair: Pair; dir: string }): Promise<Running> {
  const dir = files?.dir ?? (await tempDir(t));
  const pair = files?.pair ?? (await makePair(dir, 'first'));
  const registry = new Registry();
  const { logger, lines } = memoryLogger();
  const server = await startWebhookServer({
    port: 0,
    host: '127.0.0.1',
    certFile: files?.certFile ?? pair.certFile,
    keyFile: files?.keyFile ?? pair.keyFile,
    settings,
    logger,
    metrics: registry,
    ...options,
  });
  t.teardown(() => server.close());
  return { server, pair, dir, registry, lines };
}

async function counter(registry: Registry, webhook: string, result: string): Promise<number> {
  const text = await registry.getSingleMetricAsString('tlr_webhook_requests_total');
  const line = text.split('\n').find((l) => l.startsWith(`tlr_webhook_requests_total{webhook="${webhook}",result="${result}"}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

test('a PipelineRun review is answered over verified TLS with a patch, counted and logged', async (t) => {
  const { server, pair, registry, lines } = await start(t);
  const body = review(RUN, PIPELINERUN);
  const uid = (body.request as { uid: string }).uid;
  const answer = await postJson(server.port, '/mutate/pipelineruns', body, { ca: pair.cert });
  t.is(answer.status, 200);
  t.is(answer.headers['content-type'], 'application/json');
  const result = answer.json as AdmissionReviewResponse;
  t.is(result.response.uid, uid);
  t.true(result.response.allowed);
  const stored = applyPatch(RUN, patchOf(result)) as { metadata: { annotations?: Record<string, string> }; spec: { status?: string } };
  t.is(stored.metadata.annotations?.['tlr.dev/rewritten'], 'v1', 'rewritten at admission');
  t.is(stored.spec.status, undefined, 'and not held');

  t.is(await counter(registry, 'pipelineruns', 'patched'), 1);
  const histogram = await registry.getSingleMetricAsString('tlr_webhook_duration_seconds');
  t.regex(histogram, /tlr_webhook_duration_seconds_count\{webhook="pipelineruns"\} 1/);
  const line = lines.find((l) => l.msg === 'Answered admission request');
  t.like(line, { level: 30, webhook: 'pipelineruns', uid, kind: 'PipelineRun', operation: 'CREATE', object: 'ci/sbom-1', decision: 'patched' });
  t.is(typeof line?.durationMs, 'number');
});

test('a consumer Pod review gets the init container; an unlabelled one passes', async (t) => {
  const { server, registry } = await start(t);
  const answer = await postJson(server.port, '/mutate/pods', review(POD, POD_KIND));
  const ops = patchOf(answer.json as AdmissionReviewResponse);
  t.deepEqual(ops.map((op) => `${op.op} ${op.path}`), ['add /spec/initContainers/-']);

  const unlabelled = structuredClone(POD) as { metadata: { labels: Record<string, string> } };
  delete unlabelled.metadata.labels['tlr.dev/consumer'];
  const plain = (await postJson(server.port, '/mutate/pods', review(unlabelled, POD_KIND))).json as AdmissionReviewResponse;
  t.deepEqual(Object.keys(plain.response).sort(), ['allowed', 'uid']);
  t.is(await counter(registry, 'pods', 'patched'), 1);
  t.is(await counter(registry, 'pods', 'allowed'), 1);
});

test('a failing handler answers an AdmissionReview with 500 and the uid (not its error), logged with its stack', async (t) => {
  const failing: WebhookSettings = {
    config: () => {
      throw new TypeError('boom');
    },
    featureFlags: () => parseFeatureFlags({}),
  };
  const { server, registry, lines } = await start(t, { settings: failing });
  const body = review(RUN, PIPELINERUN);
  const answer = await postJson(server.port, '/mutate/pipelineruns', body);
  t.is(answer.status, 200);
  t.is(answer.headers['content-type'], 'application/json');
  t.deepEqual((answer.json as AdmissionReviewResponse).response, {
    uid: (body.request as { uid: string }).uid,
    allowed: false,
    status: {
      code: 500,
      reason: 'InternalError',
      message: `Tekton Large Results webhook failed on this request (an internal error, logged with request uid ${(body.request as { uid: string }).uid}); the object was not admitted. Try again, or report it to the cluster's admin`,
    },
  });
  const line = lines.find((l) => l.msg === 'Failed admission request');
  t.like(line, { level: 50, decision: 'error', code: 500 });
  t.regex(String((line?.err as { stack?: string } | undefined)?.stack), /TypeError: boom\n\s+at /);
  t.is(await counter(registry, 'pipelineruns', 'error'), 1);
});

test('malformed bodies get 400 with a message', async (t) => {
  const { server, registry } = await start(t);
  const cases: Array<[string, string]> = [
    ['{"apiVersion": ', 'expected a JSON AdmissionReview, found malformed JSON: '],
    ['[1, 2]', 'expected a JSON object (an AdmissionReview), found [1,2]'],
    [JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: {} }), 'expected apiVersion "admission.k8s.io/v1" and kind "AdmissionReview", found apiVersion "admission.k8s.io/v1beta1" and kind "AdmissionReview"'],
    [JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { kind: PIPELINERUN, operation: 'CREATE' } }), 'expected "request.uid" to be a non-empty string, found nothing'],
  ];
  for (const [body, message] of cases) {
    const answer = await send(server.port, '/mutate/pipelineruns', body);
    t.is(answer.status, 400, body);
    t.is(answer.headers['content-type'], 'application/json');
    t.like(answer.json, { kind: 'Status', code: 400, reason: 'BadRequest' });
    t.true(String((answer.json as { message: string }).message).startsWith(message), String((answer.json as { message: string }).message));
  }
  t.is(await counter(registry, 'pipelineruns', 'error'), cases.length);
});

test('a body over the limit gets 413, by Content-Length or while streaming, and the server keeps serving', async (t) => {
  const { server } = await start(t, { maxBodyBytes: 64 * 1024 });
  const big = Buffer.alloc(256 * 1024, 0x20);
  const declared = await send(server.port, '/mutate/pods', big);
  t.is(declared.status, 413);
  t.is(declared.headers['content-type'], 'application/json');
  t.like(declared.json, { kind: 'Status', code: 413, reason: 'RequestEntityTooLarge', message: 'expected a request body of at most 65536 bytes, found Content-Length 262144' });

  const chunks = Array.from({ length: 16 }, () => Buffer.alloc(16 * 1024, 0x20));
  const streamed = await send(server.port, '/mutate/pods', chunks);
  t.is(streamed.status, 413);
  t.like(streamed.json, { message: 'expected a request body of at most 65536 bytes, found more than 65536 bytes' });

  const ok = await postJson(server.port, '/mutate/pods', review(POD, POD_KIND));
  t.is(ok.status, 200);
});

test('a body that does not arrive in time gets 408', async (t) => {
  const { server } = await start(t, { handlerTimeoutMs: 200 });
  const answer = await send(server.port, '/mutate/pods', undefined, {
    headers: { 'content-length': 100, expect: '100-continue' },
    onContinue: () => new Promise(() => undefined), // never sends the body
  });
  t.is(answer.status, 408);
  t.like(answer.json, { code: 408, reason: 'Timeout', message: 'expected the whole request within 200 ms' });
});

test('health, readiness, unknown paths and wrong methods answer JSON', async (t) => {
  const { server } = await start(t);
  for (const path of ['/healthz', '/readyz']) {
    const answer = await send(server.port, path, undefined, { method: 'GET' });
    t.is(answer.status, 200);
    t.is(answer.headers['content-type'], 'application/json');
    t.deepEqual(answer.json, { status: 'ok' });
  }
  const missing = await send(server.port, '/mutate/tasks', '{}');
  t.is(missing.status, 404);
  t.like(missing.json, { code: 404, reason: 'NotFound' });
  const get = await send(server.port, '/mutate/pods', undefined, { method: 'GET' });
  t.is(get.status, 405);
  t.is(get.headers.allow, 'POST');
  t.is(get.headers['content-type'], 'application/json');
});

test('certificate rotation: overwritten files are served on new connections; a mismatched pair is refused and the old kept', async (t) => {
  const running = await start(t);
  const { server, pair, dir, lines } = running;
  t.is(await servedFingerprint(server.port), pair.fingerprint);

  // A certificate that does not match the key: logged, the pair in use kept.
  const other = await makePair(dir, 'other');
  await writeFile(pair.certFile, other.cert);
  server.reloadCerts();
  t.truthy(lines.find((l) => l.msg === 'Kept previous serving certificate'));
  t.is(await servedFingerprint(server.port), pair.fingerprint);

  // The matching key arrives: picked up by the directory watch.
  await writeFile(pair.keyFile, other.key);
  await until('the new certificate to be served', async () => (await servedFingerprint(server.port)) === other.fingerprint);
  t.like(lines.find((l) => l.msg === 'Reloaded serving certificate'), { fingerprint: other.fingerprint, previous: pair.fingerprint });
  const answer = await postJson(server.port, '/mutate/pods', review(POD, POD_KIND), { ca: other.cert });
  t.is(answer.status, 200);
});

test('certificate rotation the way a Secret volume does it (..data symlink swap)', async (t) => {
  const dir = await tempDir(t);
  const first = await makePair(dir, 'first');
  const second = await makePair(dir, 'second');
  const volume = join(dir, 'secret');
  const writeVersion = async (name: string, pair: Pair): Promise<void> => {
    await mkdir(join(volume, name), { recursive: true });
    await writeFile(join(volume, name, 'tls.crt'), pair.cert);
    await writeFile(join(volume, name, 'tls.key'), pair.key);
  };
  await writeVersion('..2026_01_01_00_00_00.1', first);
  await symlink('..2026_01_01_00_00_00.1', join(volume, '..data'));
  await symlink('..data/tls.crt', join(volume, 'tls.crt'));
  await symlink('..data/tls.key', join(volume, 'tls.key'));

  const { server } = await start(t, {}, { certFile: join(volume, 'tls.crt'), keyFile: join(volume, 'tls.key'), pair: first, dir });
  t.is(await servedFingerprint(server.port), first.fingerprint);

  await writeVersion('..2026_02_01_00_00_00.2', second);
  await symlink('..2026_02_01_00_00_00.2', join(volume, '..data_tmp'));
  await rename(join(volume, '..data_tmp'), join(volume, '..data'));
  await until('the rotated certificate to be served', async () => (await servedFingerprint(server.port)) === second.fingerprint);
  t.pass();
});

test('the stat poll picks up a change the directory watch cannot see (a symlink target changed elsewhere)', async (t) => {
  const dir = await tempDir(t);
  const first = await makePair(dir, 'first');
  const second = await makePair(dir, 'second');
  // The files the server is given are symlinks into another directory; writing the targets makes no event in the
  // watched directory, so only the poll (50 ms here) can notice.
  const links = join(dir, 'links');
  await mkdir(links);
  await symlink(first.certFile, join(links, 'tls.crt'));
  await symlink(first.keyFile, join(links, 'tls.key'));
  const { server } = await start(t, { certPollIntervalMs: 50 }, { certFile: join(links, 'tls.crt'), keyFile: join(links, 'tls.key'), pair: first, dir });
  await writeFile(first.keyFile, second.key);
  await writeFile(first.certFile, second.cert);
  await until('the polled certificate to be served', async () => (await servedFingerprint(server.port)) === second.fingerprint);
  t.pass();
});

test('close stops accepting, answers the request in flight, then resolves', async (t) => {
  const { server } = await start(t);
  let closed: Promise<void> | undefined;
  let closedYet = false;
  const body = review(POD, POD_KIND);
  const text = JSON.stringify(body);
  const answer = await send(server.port, '/mutate/pods', text, {
    headers: { 'content-length': Buffer.byteLength(text), expect: '100-continue' },
    onContinue: async () => {
      // The server is handling the request: close now, then check new connections are refused before sending the body.
      closed = server.close().then(() => void (closedYet = true));
      await until('new connections to be refused', () => servedFingerprint(server.port).then(() => false, () => true));
      t.false(closedYet);
    },
  });
  t.is(answer.status, 200);
  t.is((answer.json as AdmissionReviewResponse).response.uid, (body.request as { uid: string }).uid);
  await closed;
  t.true(closedYet);
});

// The API server reuses idle webhook connections for up to 90 s; had the server closed them after Node's default 5 s,
// a review sent as it closed one would fail the pod's creation (seen on the test cluster: "write: broken pipe").
test('an idle keep-alive connection is kept past Node’s 5 s default, as the API server expects to reuse it', async (t) => {
  const { server, pair } = await start(t);
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: pair.cert });
  t.teardown(() => agent.destroy());
  const sockets: unknown[] = [];
  const get = (): Promise<number | undefined> =>
    new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.port, path: '/healthz', agent, servername: 'localhost' }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      });
      req.on('socket', (socket) => sockets.push(socket));
      req.on('error', reject);
      req.end();
    });
  t.is(await get(), 200);
  await new Promise((resolve) => setTimeout(resolve, 6_500));
  t.is(await get(), 200);
  t.is(sockets.length, 2);
  t.is(sockets[0], sockets[1], 'the second request went over the first connection');
});
