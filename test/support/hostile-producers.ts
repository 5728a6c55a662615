/**
 * Turns a rendered PipelineRun's producers hostile: every user step of a task that seals reference results is
 * replaced by one that writes a given value (read from a file) as each of those results, the way the original
 * wrote it (through `stdoutConfig.path`, or into the result's file on the volume). The consumers stay as written:
 * what they do with a hostile value is what the tests look at.
 */
import { STEP_PREPARE, STEP_SEAL } from '../../src/api/names.js';
import type { PipelineRun, PipelineTask, Step } from '../../src/api/tekton.js';

export interface HostileOptions {
  /** The result volume's root (the config's mountPath used for the rewrite). */
  readonly volume: string;
  /** The run's uid as the local run uses it (its run directory). */
  readonly uid: string;
  /** A file holding the value every reference result gets. */
  readonly valueFile: string;
}

/** A copy of `run` whose producers write the hostile value. */
export function withHostileProducers(run: PipelineRun, opts: HostileOptions): PipelineRun {
  const copy = structuredClone(run);
  const spec = copy.spec.pipelineSpec;
  for (const pt of [...(spec?.tasks ?? []), ...(spec?.finally ?? [])]) makeHostile(pt, opts);
  return copy;
}

/** Heredoc delimiters the consumers of a run use (`<<'X'`, `<<"X"`, `<<-X`, `<<X`), to craft values that close them. */
export function heredocDelimiters(run: PipelineRun): string[] {
  const spec = run.spec.pipelineSpec;
  const scripts = [...(spec?.tasks ?? []), ...(spec?.finally ?? [])].flatMap((pt) => (pt.taskSpec?.steps ?? []).map((s) => s.script ?? ''));
  return [...new Set(scripts.flatMap((s) => [...s.matchAll(/<<-?\s*['"]?([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1] ?? '')))];
}

function makeHostile(pt: PipelineTask, opts: HostileOptions): void {
  const steps = pt.taskSpec?.steps;
  const seal = steps?.find((s) => s.name === STEP_SEAL);
  if (!steps || !seal || !pt.taskSpec) return;
  const names = sealedNames(seal);
  const target = (name: string): string => `${opts.volume}/${pt.name}/${name}`; // as the task sees it (its own mount)
  pt.taskSpec.steps = steps.map((step) => {
    if (step.name === STEP_PREPARE || step.name === STEP_SEAL) return step;
    const writer: Step = { name: step.name, image: step.image };
    if (step.stdoutConfig?.path !== undefined) return { ...writer, stdoutConfig: step.stdoutConfig, script: `#!/bin/sh\ncat '${opts.valueFile}'\n` };
    return { ...writer, script: `#!/bin/sh\n${names.map((n) => `cp '${opts.valueFile}' '${target(n)}'`).join('\n')}\n` };
  });
}

/** The result names a seal step seals: its arguments after `--max-size <n>`. */
function sealedNames(seal: Step): string[] {
  const args = seal.args ?? [];
  return args.slice(args.indexOf('--max-size') + 2);
}
