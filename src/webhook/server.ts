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
import {
  decisionOf,
  internalError,
  MalformedReviewError,
  parseAdmissionReview,
  type AdmissionRequest,
  type AdmissionReviewResponse,
} from './admission-review.js';
import { createWebhookMetrics, type WebhookMetrics, type WebhookName } from './metrics.js';
import { admitPipelineRun, pipelineRunLookups, type Lookups } from './pipelinerun-admission.js';
import { admitTaskRun } from './taskrun-admission.js';
import { admitPod } from './pod-admission.js';
import { BodyTooLargeError, readBody } from './request-body.js';
import { watchServingCert, type ServingCert } from './serving-cert.js';
import type { WebhookSettings } from './settings.js';

export const DEFAULT_MAX_BODY_BYTES = 6 * 1024 * 1024;
/** Well inside the API server's longest webhook timeout (10 s). */
export const DEFAULT_HANDLER_TIMEOUT_MS = 4000;

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
}

export interface WebhookServer {
  readonly port: number;
  /** Stops accepting connections and resolves once in-flight requests are answered. */
  close(): Promise<void>;
  /** Re-reads the certificate files now (they are also watched and polled). */
  reloadCerts(): void;
}

type Admit = (request: AdmissionRequest, settings: WebhookSettings, lookups: Lookups) => AdmissionReviewResponse;
interface Route {
  readonly webhook: WebhookName;
  readonly admit: Admit;
  /** API reads the decision needs, done before it (the decision itself stays pure). */
  readonly lookups?: (request: AdmissionRequest, settings: WebhookSettings) => Promise<Lookups>;
}

const ROUTES: Readonly<Record<string, Route>> = {
  '/mutate/pipelineruns': { webhook: 'pipelineruns', admit: admitPipelineRun, lookups: pipelineRunLookups },
  '/mutate/pods': { webhook: 'pods', admit: admitPod },
  '/mutate/taskruns': { webhook: 'taskruns', admit: admitTaskRun },
};

interface Context {
  readonly options: WebhookServerOptions;
  readonly metrics: WebhookMetrics;
  readonly maxBodyBytes: number;
  readonly timeoutMs: number;
  closing: boolean;
  server?: Server;
}

/** Starts the server; resolves once it listens (rejects when the certificate files are unusable or the port taken). */
export async function startWebhookServer(options: WebhookServerOptions): Promise<WebhookServer> {
  const context: Context = {
    options,
    metrics: createWebhookMetrics(options.metrics),
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    timeoutMs: options.handlerTimeoutMs ?? DEFAULT_HANDLER_TIMEOUT_MS,
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
      if (!res.headersSent && !res.destroyed) sendStatus(context, res, 500, 'InternalError', `the webhook failed: ${(error as Error).message}`);
    });
  });
  context.server = server;
  try {
    await listen(server, options.port, options.host);
  } catch (error) {
    cert.close();
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
  context.options.logger.info({}, 'Stopped webhook server');
}

async function handle(context: Context, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'https://webhook').pathname;
  if (path === '/healthz' || path === '/readyz') {
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendStatus(context, res, 405, 'MethodNotAllowed', `expected GET ${path}, found ${req.method}`, 'GET');
    const ready = path === '/healthz' || !context.closing;
    return sendJson(context, res, ready ? 200 : 503, { status: ready ? 'ok' : 'closing' });
  }
  const route = ROUTES[path];
  if (!route) return sendStatus(context, res, 404, 'NotFound', `expected one of ${Object.keys(ROUTES).join(', ')}, /healthz, /readyz; found ${path}`);
  if (req.method !== 'POST') return sendStatus(context, res, 405, 'MethodNotAllowed', `expected POST ${path}, found ${req.method}`, 'POST');
  await admit(context, route, req, res);
}

async function admit(context: Context, route: Route, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now();
  const { logger } = context.options;
  const seconds = (): number => (performance.now() - started) / 1000;
  guardDeadline(context, route, req, res, seconds);
  try {
    const request = await readRequest(req, context.maxBodyBytes);
    const lookups = (await route.lookups?.(request, context.options.settings)) ?? {};
    const answer = answerReview(context, route, request, lookups);
    sendJson(context, res, 200, answer.review);
    const decision = decisionOf(answer.review.response);
    const durationMs = Math.round(seconds() * 100_000) / 100;
    const fields = { webhook: route.webhook, ...describeRequest(request), decision, code: answer.review.response.status?.code, durationMs };
    if (answer.failure !== undefined) logger.error({ ...fields, err: answer.failure }, 'Failed admission request');
    else logger.info(fields, 'Answered admission request');
    context.metrics.observe(route.webhook, decision, seconds());
  } catch (error) {
    if (res.headersSent || res.destroyed) return;
    const [code, reason] = error instanceof BodyTooLargeError ? [413, 'RequestEntityTooLarge'] : [400, 'BadRequest'];
    sendStatus(context, res, code, reason, (error as Error).message);
    logger.warn({ webhook: route.webhook, code, message: (error as Error).message }, 'Rejected admission request');
    context.metrics.observe(route.webhook, 'error', seconds());
  }
}

/**
 * Bounds the request: a body still arriving after the deadline gets 408 (or, when already answered, e.g. 413 while
 * the rest of an oversize body is being discarded, the connection is closed). Cleared once both sides are done.
 */
function guardDeadline(context: Context, route: Route, req: IncomingMessage, res: ServerResponse, seconds: () => number): void {
  const timer = setTimeout(() => {
    if (!res.headersSent) {
      sendStatus(context, res, 408, 'Timeout', `expected the whole request within ${context.timeoutMs} ms`, undefined, true);
      context.options.logger.warn({ webhook: route.webhook, code: 408, durationMs: Math.round(seconds() * 1000) }, 'Timed out admission request');
      context.metrics.observe(route.webhook, 'error', seconds());
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

async function readRequest(req: IncomingMessage, maxBytes: number): Promise<AdmissionRequest> {
  const body = await readBody(req, maxBytes);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new MalformedReviewError(`expected a JSON AdmissionReview, found malformed JSON: ${(error as Error).message}`);
  }
  return parseAdmissionReview(parsed).request;
}

/** Runs the webhook; an exception becomes a 500 AdmissionReview echoing the uid (and is logged with its stack). */
function answerReview(context: Context, route: Route, request: AdmissionRequest, lookups: Lookups): { review: AdmissionReviewResponse; failure?: Error } {
  try {
    return { review: route.admit(request, context.options.settings, lookups) };
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    return { review: internalError(request.uid, `Tekton Large Results webhook failed: ${failure.message}`), failure };
  }
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
  const text = JSON.stringify(body);
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
