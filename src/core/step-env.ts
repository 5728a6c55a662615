/** The consumer's steps' env, checked before the rewrite gives the task a stepTemplate with our env names. */
import { OUR_ENV } from '../api/names.js';
import type { EmbeddedTask, EnvVar } from '../api/tekton.js';
import type { Diagnostics } from './diagnostics.js';

/**
 * The stepTemplate added above makes Tekton merge it into every step (a strategic merge keyed by env name), which
 * Tekton's webhook refuses when a step lists one name twice — harmless without a stepTemplate, so catalog Tasks do it
 * (nexus-lifecycle-scan, terraform-cli). A repeat identical to the first is dropped, with a warning (the container
 * gets the same environment); a repeat with another value is refused here, naming both, rather than by Tekton's
 * "error merging step template and steps".
 */
export function mergeableStepEnv(spec: EmbeddedTask, path: string, diags: Diagnostics, label: string): void {
  (spec.steps ?? []).forEach((step, i) => {
    if (step.env === undefined) return;
    const first = new Map<string, { index: number; text: string }>();
    const kept: EnvVar[] = [];
    step.env.forEach((e, j) => {
      const text = JSON.stringify(e);
      const seen = first.get(e.name);
      const at = `${path}.steps[${i}].env[${j}]`;
      if (seen === undefined) {
        first.set(e.name, { index: j, text });
        kept.push(e);
      } else if (seen.text === text) {
        diags.warn(at, `${label}, step "${step.name ?? i}": env ${e.name} is listed twice (env[${seen.index}] and env[${j}]), identically; the rewrite keeps env[${seen.index}], since Tekton refuses a repeated name once the task has a stepTemplate (which the rewrite adds)`);
      } else {
        diags.error(at, `${label}, step "${step.name ?? i}": env ${e.name} is listed twice with different values (env[${seen.index}] and env[${j}]); expected each name once, since Tekton refuses a repeated name once the task has a stepTemplate (which the rewrite adds): keep the one the step should see`);
      }
    });
    if (kept.length !== step.env.length) step.env = kept;
  });
}

/**
 * A step (or sidecar) setting one of our env names would override the stepTemplate's for that container: with an
 * empty TLR_REFS its values would go unverified. Refused, naming the field.
 */
export function refuseOurEnv(spec: EmbeddedTask, path: string, diags: Diagnostics, label: string): void {
  for (const list of ['steps', 'sidecars'] as const) {
    for (const [i, container] of (spec[list] ?? []).entries()) {
      for (const [j, e] of ((container as { env?: EnvVar[] }).env ?? []).entries()) {
        if (!OUR_ENV.has(e?.name)) continue;
        diags.error(
          `${path}.${list}[${i}].env[${j}].name`,
          `${label}: env name "${e.name}" is reserved for Tekton Large Results (it tells the init container and tlr-exec ` +
            'which references to verify); expected another name, found it set by the task',
        );
      }
    }
  }
}
