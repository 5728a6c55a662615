import type { V1ConfigMap } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { parseConfig, type Config } from '../core/config.js';
import { parseFeatureFlags, type FeatureFlags } from '../core/feature-flags.js';
import { TEKTON, type Clients } from './api.js';
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

  constructor(private readonly options: SettingsSourceOptions) {
    const changed = (): void => {
      this.cache.clear();
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

  config(namespace: string): Config {
    const hit = this.cache.get(namespace);
    if (hit) return hit;
    const data = this.ours.get(this.options.configMap, this.options.namespace)?.data ?? {};
    const config = parseConfig(data, namespace);
    this.cache.set(namespace, config);
    return config;
  }

  featureFlags(): FeatureFlags {
    return parseFeatureFlags(this.tekton.get('feature-flags', this.options.tektonNamespace)?.data ?? {});
  }

  /** The stored Pipeline's annotations (GET by name, 2 s at most), or undefined when it cannot be read. */
  async pipelineAnnotations(namespace: string, name: string): Promise<Record<string, string> | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 2000)));
    try {
      const get = this.options.clients.custom
        .getNamespacedCustomObject({ ...TEKTON, namespace, plural: 'pipelines', name })
        .then((p) => ((p as { metadata?: { annotations?: Record<string, string> } }).metadata?.annotations ?? {}) as Record<string, string> | undefined);
      return await Promise.race([get, timeout]);
    } catch (err) {
      this.options.logger.debug({ pipeline: `${namespace}/${name}`, err: String(err) }, 'could not read the stored Pipeline');
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    await Promise.all([this.ours.stop(), this.tekton.stop()]);
  }
}
