import { TlrError } from '../errors.js';

/** The few fields of Tekton's `feature-flags` ConfigMap that change what the rewrite may produce. */
export interface FeatureFlags {
  /** `coschedule`: workspaces (default) | pipelineruns | isolate-pipelinerun | disabled. */
  readonly coschedule: 'workspaces' | 'pipelineruns' | 'isolate-pipelinerun' | 'disabled';
  /** `enable-api-fields`: stable | beta (Tekton's default) | alpha. stdoutConfig/stderrConfig need alpha (api-fields.ts). */
  readonly enableApiFields: 'stable' | 'beta' | 'alpha';
  /** `enable-param-enum` (default false): params' `enum`. */
  readonly enableParamEnum: boolean;
  /** `enable-cel-in-whenexpression` (default false): `when[].cel`. */
  readonly enableCelInWhenExpression: boolean;
  /**
   * `disable-inline-spec` (default none): the kinds (pipelinerun, pipeline, taskrun) whose embedded specs Tekton
   * refuses. Split on commas without trimming, as Tekton does (`pipeline, taskrun` disables `pipeline` and ` taskrun`).
   */
  readonly disableInlineSpec: ReadonlySet<string>;
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
    enableApiFields: pick(data, 'enable-api-fields', API_FIELDS, 'beta', (v) => v.toLowerCase()),
    enableParamEnum: bool(data, 'enable-param-enum'),
    enableCelInWhenExpression: bool(data, 'enable-cel-in-whenexpression'),
    disableInlineSpec: new Set((data['disable-inline-spec'] ?? '').split(',').filter((kind) => kind !== '')),
    resultsFrom: pick(data, 'results-from', RESULTS_FROM, 'termination-message'),
    terminationMessageCompression: bool(data, 'enable-termination-message-compression'),
  };
}

/** A boolean flag, false when absent, read as Go's strconv.ParseBool reads it. */
function bool(data: Readonly<Record<string, string>>, key: string): boolean {
  return GO_TRUE.has(pick(data, key, [...GO_TRUE, ...GO_FALSE], 'false'));
}

function pick<T extends string>(data: Readonly<Record<string, string>>, key: string, allowed: readonly T[], fallback: T, normalize = (v: string): string => v): T {
  const raw = data[key]?.trim();
  const value = raw === undefined ? undefined : normalize(raw);
  if (value === undefined || value === '') return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new TlrError(
    'E_CONFIG',
    `feature-flags key "${key}": expected one of ${allowed.join(', ')}, found "${value}"`,
  );
}
