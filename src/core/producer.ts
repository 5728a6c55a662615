import {
  LABEL_PRODUCER,
  STEP_PREPARE,
  STEP_SEAL,
  TASK_WORKSPACE,
} from '../api/names.js';
import type { EmbeddedTask, Param, Step } from '../api/tekton.js';
import type { Config } from './config.js';
import type { Diagnostics } from './diagnostics.js';
import { childPath, forEachText, mapText } from './json-walk.js';
import { type Layout, producerDir, resultFilePath } from './layout.js';
import { forEachResultPath, replaceResultPaths } from './variables.js';

export interface ProducerInput {
  /** The embedded task spec to rewrite, already a private copy: it is edited in place. */
  readonly taskSpec: EmbeddedTask;
  /**
   * The values Tekton substitutes into this task's params (the pipeline task's or the TaskRun's `params`), a
   * private copy edited in place: a path named there reaches the steps as it is.
   */
  readonly params?: Param[];
  /** Reference results of this task (validated by opt-in). */
  readonly results: readonly string[];
  /** The producer's directory name under the run directory (the pipeline task name). */
  readonly producer: string;
  /** Field path of `taskSpec`, for messages. */
  readonly path: string;
  /** Label for messages: `pipeline task "build"` or `TaskRun default/x`. */
  readonly label: string;
}

/**
 * Rewrites a producing task: every way a step names a reference result's path now points at the result volume,
 * wherever Tekton substitutes it into the steps (the steps, the stepTemplate, the task's param defaults and the
 * param values it is given); a first step prepares the directory (so steps of any UID can write), a last step seals
 * each result (size + sha256 reference into /tekton/results/<name>). One pass over the task's text whatever the
 * number of results. Idempotent: a task that already has the seal step is left as is.
 */
export function rewriteProducer(input: ProducerInput, layout: Layout, config: Config, diags: Diagnostics): void {
  const spec = input.taskSpec;
  const steps = spec.steps ?? [];
  if (steps.some(isSealStep)) return;
  if (!checkReserved(input, diags)) return;

  const names = new Set(input.results);
  const path = (name: string): string => resultFilePath(layout, input.producer, name);
  const replace = (text: string): string => replaceResultPaths(text, names, path);
  reportUnwritten(input, diags);
  spec.steps = steps.map((step) => rewriteStep(step, replace));
  if (spec.stepTemplate) spec.stepTemplate = mapText(spec.stepTemplate, replace);
  if (spec.params) {
    spec.params = spec.params.map((p) => {
      const value = p.default === undefined ? undefined : mapText(p.default, replace);
      return value === p.default ? p : { ...p, default: value };
    });
  }
  input.params?.forEach((p, i, params) => {
    const value = mapText(p.value, replace);
    if (value !== p.value) params[i] = { ...p, value };
  });

  const dir = producerDir(layout, input.producer);
  spec.steps = [prepareStep(config, dir), ...spec.steps, sealStep(config, dir, input.results)];
  addWorkspace(spec, layout, false);
  spec.metadata = {
    ...spec.metadata,
    labels: { ...spec.metadata?.labels, [LABEL_PRODUCER]: 'true' },
  };
}

/** Our own seal step (by name and command), which marks a producer as already rewritten. */
export function isSealStep(step: Step): boolean {
  return step.name === STEP_SEAL && step.command?.[0] === 'tlr-init';
}

function rewriteStep(step: Step, replace: (text: string) => string): Step {
  const { name, image, ...rest } = step;
  const rewritten = mapText(rest, replace);
  if (rewritten === rest) return step;
  return { ...(name !== undefined ? { name } : {}), ...(image !== undefined ? { image } : {}), ...rewritten };
}

function checkReserved(input: ProducerInput, diags: Diagnostics): boolean {
  let ok = true;
  (input.taskSpec.steps ?? []).forEach((step, i) => {
    if (step.name === STEP_PREPARE || step.name === STEP_SEAL) {
      diags.error(
        childPath(childPath(childPath(input.path, 'steps'), i), 'name'),
        `${input.label}: step name "${step.name}" is reserved for Tekton Large Results; rename the step`,
      );
      ok = false;
    }
  });
  return ok;
}

function reportUnwritten(input: ProducerInput, diags: Diagnostics): void {
  const seen = new Set<string>();
  const collect = (text: string): void => forEachResultPath(text, (name) => seen.add(name));
  forEachText(input.taskSpec.steps ?? [], collect);
  forEachText(input.taskSpec.stepTemplate ?? {}, collect);
  forEachText((input.taskSpec.params ?? []).map((p) => p.default ?? ''), collect);
  forEachText((input.params ?? []).map((p) => p.value), collect);
  for (const name of input.results) {
    if (!seen.has(name)) {
      diags.warn(
        childPath(input.path, 'steps'),
        `${input.label}: no step names $(results.${name}.path); a step that finds the path another way writes to ` +
          `/tekton/results/${name}, which the seal step moves onto the volume (values that large break Tekton's ` +
          `4 KiB termination message first)`,
      );
    }
  }
}

/** Adds the `tlr-results` workspace declaration (or makes it writable when a producer also consumes). */
export function addWorkspace(spec: EmbeddedTask, layout: Layout, readOnly: boolean): void {
  const workspaces = spec.workspaces ?? [];
  const existing = workspaces.find((w) => w.name === TASK_WORKSPACE);
  if (existing) {
    if (!readOnly && existing.readOnly) delete existing.readOnly;
    return;
  }
  spec.workspaces = [
    ...workspaces,
    {
      name: TASK_WORKSPACE,
      description: 'Results stored by reference (added by Tekton Large Results).',
      mountPath: layout.mountPath,
      ...(readOnly ? { readOnly: true } : {}),
    },
  ];
}

const PREPARE_AS_ROOT = {
  runAsUser: 0, runAsGroup: 0, runAsNonRoot: false, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] },
};

function prepareStep(config: Config, dir: string): Step {
  return {
    name: STEP_PREPARE,
    image: config.initImage,
    command: ['tlr-init'],
    args: ['prepare', '--root', config.mountPath, '--dir', dir],
    // Config prepareRunAsRoot: root, but with nothing a root process could otherwise do beyond its own files (no
    // capabilities, no privilege escalation): enough to create directories in a root-owned volume root.
    ...(config.prepareRunAsRoot ? { securityContext: PREPARE_AS_ROOT } : {}),
  };
}

function sealStep(config: Config, dir: string, results: readonly string[]): Step {
  return {
    name: STEP_SEAL,
    image: config.initImage,
    command: ['tlr-init'],
    args: [
      'seal',
      '--root',
      config.mountPath,
      '--dir',
      dir,
      '--results-dir',
      '/tekton/results',
      '--max-size',
      String(config.maxResultSize),
      ...results,
    ],
  };
}

/**
 * What rewriting a producer adds to the run at the least, as JSON bytes (its prepare and seal steps and its workspace
 * declaration), so a run that cannot fit once rewritten is refused before the work.
 */
export function producerGrowth(layout: Layout, config: Config, producer: string, results: readonly string[]): number {
  const dir = producerDir(layout, producer);
  const workspace = { name: TASK_WORKSPACE, description: 'Results stored by reference (added by Tekton Large Results).', mountPath: layout.mountPath };
  return JSON.stringify([prepareStep(config, dir), sealStep(config, dir, results), workspace]).length;
}
