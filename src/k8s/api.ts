import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
} from '@kubernetes/client-node';

/** Where Tekton's objects live. */
export const TEKTON = { group: 'tekton.dev', version: 'v1' } as const;
export const RESOLUTION = { group: 'resolution.tekton.dev', version: 'v1beta1', plural: 'resolutionrequests' } as const;

/** The API clients a process needs, made once from one KubeConfig. */
export interface Clients {
  readonly kubeConfig: KubeConfig;
  readonly custom: CustomObjectsApi;
  readonly core: CoreV1Api;
  readonly coordination: CoordinationV1Api;
}

export function makeClients(kubeConfig: KubeConfig): Clients {
  pooledConnections(kubeConfig);
  return {
    kubeConfig,
    custom: kubeConfig.makeApiClient(CustomObjectsApi),
    core: kubeConfig.makeApiClient(CoreV1Api),
    coordination: kubeConfig.makeApiClient(CoordinationV1Api),
  };
}

/**
 * client-node 2.0 builds a new undici Agent, hence a new TLS connection, for every request it authenticates
 * (`KubeConfig.createDispatcher`, called per request; only its WebSocket agents are cached). Under load that is a
 * TLS handshake per API call and thousands of idle connections: measured on 1,000 runs, ~350 MiB RSS and half the
 * throughput. This keeps one dispatcher per cluster/user for the KubeConfig's lifetime, so connections are pooled
 * and kept alive. The credentials a dispatcher carries (CA, client certificate) come from the kubeconfig, which a
 * process loads once; bearer tokens travel in headers, so token rotation is unaffected. Idempotent.
 */
export function pooledConnections(kubeConfig: KubeConfig): KubeConfig {
  const target = kubeConfig as unknown as {
    createDispatcher(cluster: { name?: string; server?: string } | null, agentOptions: unknown): unknown;
    tlrPooled?: boolean;
  };
  if (target.tlrPooled === true || typeof target.createDispatcher !== 'function') return kubeConfig;
  const original = target.createDispatcher.bind(kubeConfig);
  const cache = new Map<string, unknown>();
  target.createDispatcher = (cluster, agentOptions) => {
    const key = `${cluster?.name ?? ''}\u0000${cluster?.server ?? ''}\u0000${kubeConfig.getCurrentUser()?.name ?? ''}`;
    if (!cache.has(key)) cache.set(key, original(cluster, agentOptions));
    return cache.get(key);
  };
  target.tlrPooled = true;
  return kubeConfig;
}

/** The HTTP status of an API error, or undefined for anything else (network errors, bugs). */
export function statusCode(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const code = (err as { code?: unknown; statusCode?: unknown } | null)?.statusCode ?? (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

export const isNotFound = (err: unknown): boolean => statusCode(err) === 404;
export const isConflict = (err: unknown): boolean => statusCode(err) === 409;
/**
 * The API server (its validation, or an admission webhook or policy) refused the object written, as written: 400 Bad
 * Request, 413 Request Entity Too Large, 422 Invalid. Writing the same object again gets the same answer.
 */
export const isRefusedObject = (err: unknown): boolean => [400, 413, 422].includes(statusCode(err) ?? 0);

/** The API server's message for an error (the Status body's `message`), else the error's own. */
export function apiMessage(err: unknown): string {
  if (err instanceof ApiException) {
    const body: unknown = err.body;
    const parsed = typeof body === 'string' ? safeJson(body) : body;
    const message = (parsed as { message?: unknown } | undefined)?.message;
    if (typeof message === 'string') return `${message} (HTTP ${err.code})`;
    return `HTTP ${err.code}`;
  }
  return err instanceof Error ? withCauses(err) : String(err);
}

/** `fetch failed` says nothing: the message with its causes (`connect ECONNREFUSED 127.0.0.1:6443`). */
function withCauses(err: Error): string {
  const parts = [err.message];
  for (let cause: unknown = err.cause, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    if (!parts.includes(cause.message)) parts.push(cause.message);
  }
  return parts.join(': ');
}

/** True when the request never reached the API server (refused, unknown host, timed out, TLS failure). */
export function isUnreachable(err: unknown): boolean {
  return !(err instanceof ApiException) && err instanceof Error && (err.message === 'fetch failed' || err.name === 'FetchError' || typeof (err as NodeJS.ErrnoException).code === 'string');
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
