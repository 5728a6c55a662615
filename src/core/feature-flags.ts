import { TlrError } from '../errors.js';

/** The few fields of Tekton's `feature-flags` ConfigMap that change what the rewrite may produce. */
export interface FeatureFlags {
  /** `coschedule`: workspaces (default) | pipelineruns | isolate-pipelinerun | disabled. */
  readonly coschedule: 'workspaces' | 'pipelineruns' | 'isolate-pipelinerun' | 'disabled';
  /** `enable-api-fields`: stable (default) | beta | alpha. stdoutConfig/stderrConfig need alpha. */
  readonly enableApiFields: 'stable' | 'beta' | 'alpha';
  /** `results-from`: termination-message (default) | sidecar-logs: where Tekton carries results out of a pod. */
  readonly resultsFrom: 'termination-message' | 'sidecar-logs';
  /** `enable-termination-message-compression` (default false; termination-message only). */
  readonly terminationMessageCompression: boolean;
}

const COSCHEDULE = ['workspaces', 'pipelineruns', 'isolate-pipelinerun', 'disabled'] as const;
const API_FIELDS = ['stable', 'beta', 'alpha'] as const;
const RESULTS_FROM = ['termination-message', 'sidecar-logs'] as const;
/** What Go's strconv.ParseBool takes, as Tekton reads its boolean flags. */
const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const GO_FALSE = ['0', 'f', 'F', 'FALSE', 'false', 'False'];

/** Parses Tekton's feature-flags data map (only the keys we need; Tekton validates the rest). */
export function parseFeatureFlags(data: Readonly<Record<string, string>> = {}): FeatureFlags {
  return {
    coschedule: pick(data, 'coschedule', COSCHEDULE, 'workspaces'),
    enableApiFields: pick(data, 'enable-api-fields', API_FIELDS, 'stable'),
    resultsFrom: pick(data, 'results-from', RESULTS_FROM, 'termination-message'),
    terminationMessageCompression: GO_TRUE.has(pick(data, 'enable-termination-message-compression', [...GO_TRUE, ...GO_FALSE], 'false')),
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
