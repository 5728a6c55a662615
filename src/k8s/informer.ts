import { ListWatch, Watch, type KubernetesListObject, type KubernetesObject, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { apiMessage, isUnreachable, statusCode } from './api.js';

export interface InformerSpec<T extends KubernetesObject> {
  readonly kubeConfig: KubeConfig;
  /** The collection's path, e.g. `/apis/tekton.dev/v1/pipelineruns` or `/api/v1/namespaces/x/configmaps`. */
  readonly path: string;
  readonly list: () => Promise<KubernetesListObject<T>>;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly logger: Logger;
  /** Called for every add, update and delete (level-triggered consumers only need to know something changed). */
  readonly onChange: (object: T, event: 'add' | 'update' | 'delete') => void;
  /**
   * What the cache keeps of each object, applied to the list's items and to every watch event before anything sees
   * them (as Tekton's informer cache transforms): the fields its readers use, so memory follows the objects' count,
   * not their size.
   */
  readonly transform?: (object: T) => T;
}

/** A Watch whose events carry transformed objects (BOOKMARK and ERROR events pass as they are). */
class TransformingWatch<T> extends Watch {
  constructor(config: KubeConfig, private readonly transform: (object: T) => T) {
    super(config);
  }

  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    return super.watch(path, queryParams, (phase, object: unknown, watchObj) => {
      const kept = phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED' ? this.transform(object as T) : object;
      callback(phase, kept, watchObj);
    }, done);
  }
}

/** An informer that restarts itself after watch or list errors, with backoff, until stopped. */
export interface RunningInformer<T extends KubernetesObject> {
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): readonly T[];
  /** Resolves once the first list has been received and the watch started. */
  readonly synced: Promise<void>;
  /** Why it has not synced yet (the last failure, said as in the log), or undefined once synced. */
  notReadyReason(): string | undefined;
  stop(): Promise<void>;
}

export function startInformer<T extends KubernetesObject>(spec: InformerSpec<T>): RunningInformer<T> {
  const { transform } = spec;
  const watch = transform ? new TransformingWatch<T>(spec.kubeConfig, transform) : new Watch(spec.kubeConfig);
  const list = transform ? async (): Promise<KubernetesListObject<T>> => {
    const listed = await spec.list();
    return { ...listed, items: listed.items.map(transform) };
  } : spec.list;
  const informer = new ListWatch<T>(spec.path, watch, list, false, spec.labelSelector, spec.fieldSelector);
  let stopped = false;
  let failures = 0;
  let hasSynced = false;
  const failing = new FailureLog(spec);
  informer.on('add', (o) => spec.onChange(o, 'add'));
  informer.on('update', (o) => spec.onChange(o, 'update'));
  informer.on('delete', (o) => spec.onChange(o, 'delete'));
  informer.on('connect', () => {
    failures = 0;
  });
  informer.on('error', (err: unknown) => {
    if (stopped) return;
    // Before the first sync the list's failures arrive here (start() does not throw them): said once, retried below.
    if (!hasSynced) {
      failing.failed(err);
      return;
    }
    failures += 1;
    const delay = Math.min(30_000, 250 * 2 ** Math.min(failures, 7));
    spec.logger.warn({ path: spec.path, err: describeFailure(spec, err), retryInMs: delay }, 'watch failed; restarting');
    setTimeout(() => {
      if (!stopped) informer.start().catch(() => undefined);
    }, delay).unref();
  });
  const synced = (async (): Promise<void> => {
    for (;;) {
      try {
        await informer.start();
        if (informer.latestResourceVersion() !== '') {
          hasSynced = true;
          failing.recovered();
          return;
        }
      } catch (err) {
        failing.failed(err);
      }
      if (stopped) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  return {
    get: (name, namespace) => informer.get(name, namespace),
    list: (namespace) => informer.list(namespace),
    synced,
    notReadyReason: () => (hasSynced ? undefined : (failing.last ?? `list ${spec.path}: no answer yet`)),
    stop: async () => {
      stopped = true;
      await informer.stop();
    },
  };
}

/** Repeats of one failure are logged again at most this often (with how many there were). */
const REPEAT_LOG_MS = 60_000;

/**
 * The initial list's failures, each logged once (again only when it changes, or a minute later with the count), so
 * a forbidden or unreachable API server is said right away and does not flood the log while it lasts.
 */
class FailureLog {
  last: string | undefined;
  private loggedAt = 0;
  private repeats = 0;

  constructor(private readonly spec: Pick<InformerSpec<KubernetesObject>, 'path' | 'logger' | 'kubeConfig'>) {}

  failed(err: unknown): void {
    const message = describeFailure(this.spec, err);
    const now = Date.now();
    if (message === this.last && now - this.loggedAt < REPEAT_LOG_MS) {
      this.repeats += 1;
      return;
    }
    this.spec.logger.warn({ path: this.spec.path, err: message, ...(this.repeats > 0 ? { repeats: this.repeats } : {}) }, 'cannot list; retrying every second');
    this.last = message;
    this.loggedAt = now;
    this.repeats = 0;
  }

  recovered(): void {
    if (this.last !== undefined) this.spec.logger.info({ path: this.spec.path }, 'listed after earlier failures');
    this.last = undefined;
  }
}

/** `list <path>: <cause>; <what to check>`: the API call, the server's answer and what usually causes it. */
export function describeFailure(spec: Pick<InformerSpec<KubernetesObject>, 'path' | 'kubeConfig'>, err: unknown): string {
  const cause = apiMessage(err);
  const server = spec.kubeConfig.getCurrentCluster()?.server ?? 'the API server';
  const hint = ((): string => {
    if (isUnreachable(err)) return `check that ${server} is the API server's address and reachable from here (DNS, network policy)`;
    switch (statusCode(err)) {
      case 401:
        return `${server} does not accept this process's credentials: check the kubeconfig's token or client certificate (in a pod: its ServiceAccount token)`;
      case 403:
        return `this process's identity may not list and watch ${spec.path}: check its RBAC (for the Deployments in config/: their ServiceAccounts' roles in config/200-clusterrole.yaml and config/200-role.yaml, and the bindings)`;
      case 404:
        return `${server} does not serve ${spec.path}: check that the namespace exists and the API (Tekton's CRDs) is installed`;
      default:
        return 'retrying';
    }
  })();
  return `list ${spec.path} at ${server}: ${cause}; ${hint}`;
}
