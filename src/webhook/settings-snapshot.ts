/**
 * The webhook settings a decision may read, copied so they can cross to an admission worker thread (which has no
 * ConfigMap informers): the config of each namespace the decision may ask for, and the feature flags. A ConfigMap that
 * does not parse travels as its TlrError's message and is thrown again in the worker, exactly as the live settings
 * would throw it.
 */
import type { Config } from '../core/config.js';
import type { FeatureFlags } from '../core/feature-flags.js';
import { TlrError } from '../errors.js';
import type { WebhookSettings } from './settings.js';

type Read<T> = { readonly value: T } | { readonly error: string; readonly tlr: boolean; readonly stack?: string };

export interface SettingsSnapshot {
  readonly configs: ReadonlyArray<readonly [string, Read<Config>]>;
  readonly featureFlags: Read<FeatureFlags>;
}

function read<T>(get: () => T): Read<T> {
  try {
    return { value: get() };
  } catch (error) {
    const stack = error instanceof Error ? error.stack : undefined;
    return { error: error instanceof Error ? error.message : String(error), tlr: error instanceof TlrError, ...(stack !== undefined ? { stack } : {}) };
  }
}

/** The settings for objects in any of `namespaces`. */
export function snapshotSettings(settings: WebhookSettings, namespaces: readonly string[]): SettingsSnapshot {
  return {
    configs: [...new Set(namespaces)].map((ns) => [ns, read(() => settings.config(ns))] as const),
    featureFlags: read(() => settings.featureFlags()),
  };
}

/** Settings answering from a snapshot (no `storedObject`: lookups are done before, by the server). */
export function settingsFromSnapshot(snapshot: SettingsSnapshot): WebhookSettings {
  const configs = new Map(snapshot.configs);
  const unwrap = <T>(entry: Read<T> | undefined, what: string): T => {
    if (entry === undefined) throw new Error(`the webhook did not prepare the ${what}`);
    if ('value' in entry) return entry.value;
    if (entry.tlr) throw new TlrError('E_CONFIG', entry.error);
    const error = new Error(entry.error);
    if (entry.stack !== undefined) error.stack = entry.stack; // the settings' own failure, as it happened
    throw error;
  };
  return {
    config: (namespace) => unwrap(configs.get(namespace), `configuration of namespace "${namespace}"`),
    featureFlags: () => unwrap(snapshot.featureFlags, 'feature flags'),
  };
}

/** The namespaces a decision about `request` may read the config of: the request's and the object's own. */
export function namespacesOf(request: { namespace?: string; object?: unknown }): string[] {
  const meta: unknown = (request.object as { metadata?: unknown } | null | undefined)?.metadata;
  const own: unknown = typeof meta === 'object' && meta !== null ? (meta as { namespace?: unknown }).namespace : undefined;
  return [request.namespace ?? 'default', ...(typeof own === 'string' ? [own] : []), 'default'];
}
