import { ListWatch, Watch, type KubernetesListObject, type KubernetesObject, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';

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
}

/** An informer that restarts itself after watch or list errors, with backoff, until stopped. */
export interface RunningInformer<T extends KubernetesObject> {
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): readonly T[];
  /** Resolves once the first list has been received and the watch started. */
  readonly synced: Promise<void>;
  stop(): Promise<void>;
}

export function startInformer<T extends KubernetesObject>(spec: InformerSpec<T>): RunningInformer<T> {
  const informer = new ListWatch<T>(spec.path, new Watch(spec.kubeConfig), spec.list, false, spec.labelSelector, spec.fieldSelector);
  let stopped = false;
  let failures = 0;
  let hasSynced = false;
  informer.on('add', (o) => spec.onChange(o, 'add'));
  informer.on('update', (o) => spec.onChange(o, 'update'));
  informer.on('delete', (o) => spec.onChange(o, 'delete'));
  informer.on('connect', () => {
    failures = 0;
  });
  informer.on('error', (err: unknown) => {
    if (stopped || !hasSynced) return; // before the first sync, the loop below retries
    failures += 1;
    const delay = Math.min(30_000, 250 * 2 ** Math.min(failures, 7));
    spec.logger.warn({ path: spec.path, err: String(err), retryInMs: delay }, 'watch failed; restarting');
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
          return;
        }
      } catch (err) {
        spec.logger.warn({ path: spec.path, err: String(err) }, 'initial list failed; retrying');
      }
      if (stopped) return;
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  return {
    get: (name, namespace) => informer.get(name, namespace),
    list: (namespace) => informer.list(namespace),
    synced,
    stop: async () => {
      stopped = true;
      await informer.stop();
    },
  };
}
