/**
 * The HTTPS admission server: POST /mutate/pipelineruns, /mutate/taskruns and /mutate/pods (AdmissionReview v1 in and out), GET
 * /healthz and /readyz. Every answer is JSON. An admission request always gets an AdmissionReview echoing its uid,
 * internal failures included (500 in `response.status`, HTTP 200); a body that is not an AdmissionReview gets HTTP
 * 400, one over the limit 413, one that does not arrive in time 408, each with a metav1.Status body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { AdmissionPool } from './admission-pool.js';
import { decisionOf, internalError, MalformedReviewError, parseAdmissionReview, type AdmissionRequest, type Decision } from './admission-review.js';
import { internalFailureMessage, type AdmissionAnswer } from './admission-task.js';
import { createWebhookMetrics, type WebhookMetrics } from './metrics.js';
import { BodyTooLargeError, readBody } from './request-body.js';
import { ROUTES, type Route } from './routes.js';
import { watchServingCert, type ServingCert } from './serving-cert.js';
import type { WebhookSettings } from './settings.js';
import { namespacesOf, snapshotSettings } from './settings-snapshot.js';

export const DEFAULT_MAX_BODY_BYTES = 6 * 1024 * 1024;
/** Well inside the API server's longest webhook timeout (10 s). */
export const DEFAULT_HANDLER_TIMEOUT_MS = 4000;
/** Admission worker threads (`tlr webhook --admission-workers`). */
export const DEFAULT_ADMISSION_WORKERS = 2;
/** V8 heap limit of each admission worker thread, in MiB: about 30 times the largest object, in its largest form. */
export const WORKER_HEAP_MB = 96;

export interface WebhookServerOptions {
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly host?: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly settings: WebhookSettings;
  readonly logger: Logger;
  readonly maxBodyBytes?: number;
  /** Time allowed from the request's arrival to the answer; a body still arriving then gets 408. */
  readonly handlerTimeoutMs?: number;
  readonly metrics?: Registry;
  /** Fallback poll of the certificate files; default 10 s. */
  readonly certPollIntervalMs?: number;
  /** Admission worker threads; default DEFAULT_ADMISSION_WORKERS. */
  readonly admissionWorkers?: number;
  /** The admission worker's script (tests only: one that misbehaves on purpose). */
  readonly admissionWorkerUrl?: URL;
}

export interface WebhookServer {
  readonly port: number;
  /** Stops accepting connections and resolves once in-flight requests are answered. */
  close(): Promise<void>;
  /** Re-reads the certificate files now (they are also watched and polled). */
  reloadCerts(): void;
}

interface Context {
  readonly options: WebhookServerOptions;
  readonly metrics: WebhookMetrics;
  readonly maxBodyBytes: number;
  readonly timeoutMs: number;
  readonly pool: AdmissionPool;
  closing: boolean;
  server?: Server;
}

/** Starts the server; resolves once it listens (rejects when the certificate files are unusable or the port taken). */
/** How long an idle connection is kept: longer than the API server keeps its side (90 s). */
export const KEEP_ALIVE_MS = 120_000;

export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const context: Context = {
    options,
    metrics: createWebhookMetrics(options.metrics),
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    timeoutMs: options.handlerTimeoutMs ?? DEFAULT_HANDLER_TIMEOUT_MS,
    pool: new AdmissionPool({
      size: options.admissionWorkers ?? DEFAULT_ADMISSION_WORKERS,
      heapMb: WORKER_HEAP_MB,
      logger: options.logger,
      ...(options.admissionWorkerUrl ? { workerUrl: options.admissionWorkerUrl } : {}),
    }),
    closing: false,
  };
  const cert: ServingCert = watchServingCert({
    certFile: options.certFile,
    keyFile: options.keyFile,
    logger: options.logger,
    ...(options.certPollIntervalMs !== undefined ? { pollIntervalMs: options.certPollIntervalMs } : {}),
    apply: (pair) => context.server?.setSecureContext({ cert: pair.cert, key: pair.key }),
  });
  const { cert: certPem, key } = cert.current();
  const server = createServer({ cert: certPem, key, minVersion: 'TLSv1.2' }, (req, res) => {
    handle(context, req, res).catch((error: unknown) => {
      options.logger.error({ err: error, url: req.url }, 'Failed request');
      if (!res.headersSent && !res.destroyed) sendStatus(context, res, 500, 'InternalError', 'the webhook failed on this request (logged)');
    });
  });
  // The API server keeps idle connections to a webhook for 90 s (client-go's transport defaults, IdleConnTimeout) and
  // reuses them; Node closes an idle one after 5 s by default, so a review sent just as Node closes one failed the
  // pod's creation ("failed calling webhook …: write: broken pipe", seen on the test cluster under load). Held longer
  // than the client holds them, the client always closes first.
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  context.server = server;
  try {
    await listen(server, options.port, options.host);
  } catch (error) {
    cert.close();
    await context.pool.close();
    throw error;
  }
  server.on('error', (error) => options.logger.error({ err: error }, 'Failed serving'));
  const port = (server.address() as AddressInfo).port;
  options.logger.info({ port, host: options.host, fingerprint: cert.current().fingerprint }, 'Started webhook server');
  return {
    port,
    reloadCerts: () => void cert.reload(),
    close: () => closeServer(context, server, cert),
  };
}

function listen(server: Server, port: number, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function closeServer(context: Context, server: Server, cert: ServingCert): Promise<void> {
  if (context.closing) return;
  context.closing = true;
  cert.close();
  const force = setTimeout(() => server.closeAllConnections(), context.timeoutMs + 1000);
  force.unref();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  clearTimeout(force);
  await context.pool.close();
  context.options.logger.info({}, 'Stopped webhook server');
}

async function handle(context: Context, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'https://webhook').pathname;
  if (path === '/healthz' || path === '/readyz') {
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendStatus(context, res, 405, 'MethodNotAllowed', `expected GET ${path}, found ${req.method}`, 'GET');
    const ready = path === '/healthz' || !context.closing;
    return sendJson(context, res, ready ? 200 : 503, { status: ready ? 'ok' : 'closing' });
  }
  const route = Object.hasOwn(ROUTES, path) ? ROUTES[path] : undefined;
  if (!route) return sendStatus(context, res, 404, 'NotFound', `expected one of ${Object.keys(ROUTES).join(', ')}, /healthz, /readyz; found ${path}`);
  if (req.method !== 'POST') return sendStatus(context, res, 405, 'MethodNotAllowed', `expected POST ${path}, found ${req.method}`, 'POST');
  await admit(context, route, req, res);
}

/** One admission request, from its arrival to its answer (within `timeoutMs`, whatever happens). */
interface Exchange {
  readonly context: Context;
  readonly route: Route;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly started: number;
  readonly abort: AbortController;
  /** Once the body is parsed: the request (so even a timeout answers with an AdmissionReview echoing its uid). */
  request?: AdmissionRequest;
}

async function admit(context: Context, route: Route, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const exchange: Exchange = { context, route, req, res, started: performance.now(), abort: new AbortController() };
  guardDeadline(exchange);
  let body: Buffer;
  try {
    body = await readBody(req, context.maxBodyBytes);
    exchange.request = parseRequest(body);
  } catch (error) {
    if (res.headersSent || res.destroyed) return;
    const [code, reason] = error instanceof BodyTooLargeError ? [413, 'RequestEntityTooLarge'] : [400, 'BadRequest'];
    sendStatus(context, res, code, reason, (error as Error).message);
    context.options.logger.warn({ webhook: route.webhook, code, message: (error as Error).message }, 'Rejected admission request');
    context.metrics.observe(route.webhook, 'error', seconds(exchange));
    return;
  }
  const answer = await decideRequest(exchange, exchange.request, body);
  if (answer === undefined || res.headersSent || res.destroyed) return; // answered by the deadline
  sendText(context, res, 200, answer.text);
  finish(exchange, answer.decision, answer.code, answer.failure);
}

/**
 * Lookups and the cheap answer on this thread; the decision itself on an admission worker. Undefined when the
 * deadline passed first (the deadline has answered).
 */
async function decideRequest(exchange: Exchange, request: AdmissionRequest, body: Buffer): Promise<AdmissionAnswer | undefined> {
  const { context, route } = exchange;
  const settings = context.options.settings;
  try {
    const lookups = (await route.lookups?.(request, settings)) ?? {};
    const quick = route.quick(request, lookups);
    if (quick) return { text: JSON.stringify(quick), decision: decisionOf(quick.response), ...(quick.response.status ? { code: quick.response.status.code } : {}) };
    if (exchange.abort.signal.aborted) return undefined;
    const task = { webhook: route.webhook, body, settings: snapshotSettings(settings, namespacesOf(request)), lookups };
    return await context.pool.run(task, exchange.abort.signal);
  } catch (error) {
    if (exchange.abort.signal.aborted) return undefined;
    const failure = error instanceof Error ? error : new Error(String(error));
    const review = internalError(request.uid, internalFailureMessage(request.uid));
    return { text: JSON.stringify(review), decision: 'error', code: 500, failure: { message: failure.message, ...(failure.stack ? { stack: failure.stack } : {}) } };
  }
}

function seconds(exchange: Exchange): number {
  return (performance.now() - exchange.started) / 1000;
}

/** Logs and counts an answered request. */
function finish(exchange: Exchange, decision: Decision, code: number | undefined, failure?: AdmissionAnswer['failure']): void {
  const { context, route, request } = exchange;
  const durationMs = Math.round(seconds(exchange) * 100_000) / 100;
  const fields = { webhook: route.webhook, ...(request ? describeRequest(request) : {}), decision, code, durationMs };
  if (failure !== undefined) context.options.logger.error({ ...fields, err: failure }, 'Failed admission request');
  else context.options.logger.info(fields, 'Answered admission request');
  context.metrics.observe(route.webhook, decision, seconds(exchange));
}

/**
 * Bounds the request: at the deadline, a request whose body was read gets an AdmissionReview refusing it (500,
 * echoing its uid) and its decision is aborted (its worker thread terminated); a body still arriving gets 408 (or,
 * when already answered, e.g. 413 while the rest of an oversize body is being discarded, the connection is closed).
 * Cleared once both sides are done.
 */
function guardDeadline(exchange: Exchange): void {
  const { context, route, req, res } = exchange;
  const timer = setTimeout(() => {
    exchange.abort.abort();
    if (!res.headersSent) {
      const { request } = exchange;
      if (request) {
        const review = internalError(request.uid, `Tekton Large Results webhook did not decide within ${context.timeoutMs} ms (the webhook is overloaded, or the object too costly to check); the object was not admitted. Try again`);
        sendText(context, res, 200, JSON.stringify(review), true);
        finish(exchange, 'error', 500);
      } else {
        sendStatus(context, res, 408, 'Timeout', `expected the whole request within ${context.timeoutMs} ms`, undefined, true);
        context.metrics.observe(route.webhook, 'error', seconds(exchange));
      }
      context.options.logger.warn({ webhook: route.webhook, uid: exchange.request?.uid, durationMs: Math.round(seconds(exchange) * 1000) }, 'Timed out admission request');
      res.once('finish', () => req.destroy());
    } else if (!req.complete) {
      req.destroy();
    }
  }, context.timeoutMs);
  timer.unref();
  const settle = (): void => {
    if ((req.complete || req.destroyed) && res.writableEnded) clearTimeout(timer);
  };
  req.once('end', settle);
  req.once('close', settle);
  res.once('finish', settle);
  res.once('close', settle);
}

function parseRequest(body: Buffer): AdmissionRequest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new MalformedReviewError(`expected a JSON AdmissionReview, found malformed JSON: ${(error as Error).message}`);
  }
  return parseAdmissionReview(parsed).request;
}

function describeRequest(request: AdmissionRequest): Record<string, unknown> {
  const meta = (request.object as { metadata?: { name?: string; generateName?: string; namespace?: string } } | undefined)?.metadata;
  const name = request.name ?? meta?.name ?? (meta?.generateName !== undefined ? `${meta.generateName}*` : undefined);
  const namespace = request.namespace ?? meta?.namespace;
  return {
    uid: request.uid,
    kind: request.kind.kind,
    operation: request.operation,
    object: namespace !== undefined ? `${namespace}/${name ?? ''}` : name,
    ...(request.dryRun === true ? { dryRun: true } : {}),
  };
}

function sendJson(context: Context, res: ServerResponse, code: number, body: unknown, closeAfter = false): void {
  sendText(context, res, code, JSON.stringify(body), closeAfter);
}

function sendText(context: Context, res: ServerResponse, code: number, text: string, closeAfter = false): void {
  res.statusCode = code;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  if (closeAfter || context.closing) res.setHeader('Connection', 'close');
  res.end(text, () => {
    if (context.closing) context.server?.closeIdleConnections();
  });
}

/** A metav1.Status body for answers that cannot be AdmissionReviews. */
function sendStatus(context: Context, res: ServerResponse, code: number, reason: string, message: string, allow?: string, closeAfter = false): void {
  if (allow !== undefined) res.setHeader('Allow', allow);
  sendJson(context, res, code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message }, closeAfter);
}
