/**
 * Test support for the rewrite's unit tests: an opted-in PipelineRun (`ci/r`, result workspace `results`) around the
 * pipeline tasks a test is about, and the default options. Not a test file.
 */
import type { PipelineRun } from '../../src/api/tekton.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';

export const DEFAULT_OPTIONS = { config: parseConfig({}), featureFlags: parseFeatureFlags({}) };

/** `tasks` (and any other pipeline spec fields in `more`) in an opted-in run. */
export function optedInRun(tasks: readonly unknown[], more: Record<string, unknown> = {}): PipelineRun {
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    metadata: { name: 'r', namespace: 'ci' },
    spec: { pipelineSpec: { resultWorkspace: { name: 'results' }, tasks, ...more } },
  } as unknown as PipelineRun;
}
