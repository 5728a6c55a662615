import type { Diagnostics } from './diagnostics.js';

/**
 * Tekton Chains finds what a TaskRun built by the names of its results ("type hinting": `IMAGE_URL`/`IMAGE_DIGEST`,
 * `IMAGES`, `*_IMAGE_URL`, `*ARTIFACT_URI`/`*ARTIFACT_DIGEST`, `*ARTIFACT_INPUTS`/`*ARTIFACT_OUTPUTS`,
 * `CHAINS-GIT_URL`/`CHAINS-GIT_COMMIT`) and reads their values from the TaskRun's status. Stored by reference, the
 * status holds our reference instead, so Chains would sign or record nothing, or the reference: a warning.
 */
const HINT = /(?:^|_)IMAGE_(?:URL|DIGEST)$|^IMAGES$|ARTIFACT_(?:URI|DIGEST|INPUTS|OUTPUTS)$|^CHAINS-GIT_(?:URL|COMMIT)$/;

export function isChainsHint(result: string): boolean {
  return HINT.test(result);
}

/**
 * Warns once per reference result whose name Tekton Chains reads as a type hint. `where` names the pipeline task;
 * a TaskRun's own results need none (the diagnostic names the TaskRun).
 */
export function warnChainsHints(results: readonly string[], path: string, where: string | undefined, diags: Diagnostics): void {
  for (const result of results.filter(isChainsHint)) {
    diags.warn(
      path,
      `${where !== undefined ? `${where}: ` : ''}result "${result}" is stored by reference, but Tekton Chains reads results of that name from the TaskRun's status to find what was ` +
        'built (type hinting) and would find the reference there, not the value; such results are small: keep them classic (leave them out of storage: reference)',
    );
  }
}
