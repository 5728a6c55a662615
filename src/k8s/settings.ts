import type { KubeObject } from '../api/tekton.js';
import type { V1ConfigMap } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { parseConfig, type Config } from '../core/config.js';
import { parseFeatureFlags, type FeatureFlags } from '../core/feature-flags.js';
import { TlrError } from '../errors.js';
import { apiMessage, isNotFound, TEKTON, type Clients } from './api.js';
import { startInformer, type RunningInformer } from './informer.js';

export interface SettingsSourceOptions {
  readonly clients: Clients;
  /** Namespace and name of our ConfigMap (`tlr-system/tlr-config`). */
  readonly namespace: string;
  readonly configMap: string;
  /** Namespace of Tekton's `feature-flags` ConfigMap. */
  readonly tektonNamespace: string;
  readonly logger: Logger;
  /** Called after either ConfigMap changed. */
  readonly onChange?: () => void;
}

/**
 * The admin's configuration and Tekton's feature flags, read live from their ConfigMaps (each watched by name with a
 * field selector, so RBAC can stay restricted to the one object). `config(ns)` throws a TlrError naming the bad key
 * when the ConfigMap is invalid: callers turn that into an error on the run, never a silent default.
 */
export class SettingsSource {
  private readonly ours: RunningInformer<V1ConfigMap>;
  private readonly tekton: RunningInformer<V1ConfigMap>;
  private readonly cache = new Map<string, Config>();
  private flags: FeatureFlags | undefined;

  constructor(private readonly options: SettingsSourceOptions) {
    const changed = (): void => {
      this.cache.clear();
      this.flags = undefined;
      options.onChange?.();
    };
    const watch = (namespace: string, name: string): RunningInformer<V1ConfigMap> =>
      startInformer<V1ConfigMap>({
        kubeConfig: options.clients.kubeConfig,
        path: `/api/v1/namespaces/${namespace}/configmaps`,
        fieldSelector: `metadata.name=${name}`,
        list: () => options.clients.core.listNamespacedConfigMap({ namespace, fieldSelector: `metadata.name=${name}` }),
        logger: options.logger,
        onChange: changed,
      });
    this.ours = watch(options.namespace, options.configMap);
    this.tekton = watch(options.tektonNamespace, 'feature-flags');
  }

  get synced(): Promise<void> {
    return Promise.all([this.ours.synced, this.tekton.synced]).then(() => undefined);
  }

  /** Why the settings are not read yet (the ConfigMaps' list failures), or undefined once they are. */
  notReadyReason(): string | undefined {
    const reasons = [this.ours.notReadyReason(), this.tekton.notReadyReason()].filter((r): r is string => r !== undefined);
    return reasons.length > 0 ? reasons.join('; and ') : undefined;
  }

  config(namespace: string): Config {
    const hit = this.cache.get(namespace);
    if (hit) return hit;
    const { configMap, namespace: ns } = this.options;
    const config = named(`ConfigMap ${ns}/${configMap}`, () => parseConfig(this.ours.get(configMap, ns)?.data ?? {}, namespace));
    this.cache.set(namespace, config);
    return config;
  }

  featureFlags(): FeatureFlags {
    const ns = this.options.tektonNamespace;
    this.flags ??= named(`ConfigMap ${ns}/feature-flags`, () => parseFeatureFlags(this.tekton.get('feature-flags', ns)?.data ?? {}));
    return this.flags;
  }

  /**
   * A stored Pipeline or Task (GET by name, 2 s at most); undefined when there is no such object. Throws when it could
   * not be read (a timeout, a missing permission, the API server failing): the reason is logged here.
   */
  async storedObject(kind: 'Pipeline' | 'Task', namespace: string, name: string): Promise<KubeObject | undefined> {
    const plural = kind === 'Pipeline' ? 'pipelines' : 'tasks';
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error('no answer within 2 s')), 2000)));
    try {
      return (await Promise.race([this.options.clients.custom.getNamespacedCustomObject({ ...TEKTON, namespace, plural, name }), timeout])) as KubeObject;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      this.options.logger.warn({ [kind.toLowerCase()]: `${namespace}/${name}`, err: apiMessage(err) }, `Could not read the stored ${kind}`);
      throw new Error(apiMessage(err), { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    await Promise.all([this.ours.stop(), this.tekton.stop()]);
  }
}

/** Runs a parse, prefixing its TlrError with the ConfigMap it read (so the message names the object). */
function named<T>(what: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof TlrError) throw new TlrError(err.code, `${what}: ${err.message}`, { cause: err });
    throw err;
  }
}
