import { TlrError } from '../errors.js';

/** The few fields of Tekton's `feature-flags` ConfigMap that change what the rewrite may produce. */
export interface FeatureFlags {
  /** `coschedule`: workspaces (default) | pipelineruns | isolate-pipelinerun | disabled. */
  readonly coschedule: 'workspaces' | 'pipelineruns' | 'isolate-pipelinerun' | 'disabled';
  /** `enable-api-fields`: stable (default) | beta | alpha. stdoutConfig/stderrConfig need alpha. */
  readonly enableApiFields: 'stable' | 'beta' | 'alpha';
}

const COSCHEDULE = ['workspaces', 'pipelineruns', 'isolate-pipelinerun', 'disabled'] as const;
const API_FIELDS = ['stable', 'beta', 'alpha'] as const;

/** Parses Tekton's feature-flags data map (only the keys we need; Tekton validates the rest). */
export function parseFeatureFlags(data: Readonly<Record<string, string>> = {}): FeatureFlags {
  return {
    coschedule: pick(data, 'coschedule', COSCHEDULE, 'workspaces'),
    enableApiFields: pick(data, 'enable-api-fields', API_FIELDS, 'stable'),
  };
}

function pick<T extends string>(data: Readonly<Record<string, string>>, key: string, allowed: readonly T[], fallback: T): T {
  const value = data[key]?.trim();
  if (value === undefined || value === '') return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new TlrError(
    'E_CONFIG',
    `feature-flags key "${key}": expected one of ${allowed.join(', ')}, found "${value}"`,
  );
}
