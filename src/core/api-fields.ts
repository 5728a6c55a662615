import type { EmbeddedTask, ParamSpec, PipelineSpec, PipelineTask, Step, TaskSpec } from '../api/tekton.js';
import type { Diagnostics } from './diagnostics.js';
import type { FeatureFlags } from './feature-flags.js';
import { childPath } from './json-walk.js';
import { isWindowsScript } from './tekton-scripts.js';

/**
 * The fields Tekton v1.15.0 admits only under a feature flag, checked as its webhook checks them, so `tlr render`
 * says what the cluster refuses and an opted-in run is refused by us with the flag to set, not by Tekton after our
 * rewrite (which inlines Tasks, so a stored Task's fields are checked with the run's).
 *
 * Read from Tekton's `pkg/apis/pipeline/v1/*_validation.go` (`config.ValidateEnabledAPIFields` and the per-feature
 * flags). Left out: artifacts (`enable-artifacts`) and the concise resolver syntax, which the rewrite refuses or
 * leaves alone anyway.
 */

type Level = FeatureFlags['enableApiFields'];
const RANK: Record<Level, number> = { stable: 0, beta: 1, alpha: 2 };

/** Reports the gated fields the feature flags in use do not admit, each at its path with the flag it needs. */
class Gate {
  constructor(private readonly flags: FeatureFlags, private readonly diags: Diagnostics) {}

  /** `what` is Tekton's own name of the feature (its error says "<what> requires "enable-api-fields" feature gate…"). */
  api(path: string, what: string, needs: 'beta' | 'alpha'): void {
    const has = this.flags.enableApiFields;
    if (RANK[has] >= RANK[needs]) return;
    this.diags.error(
      path,
      `${what} needs Tekton's feature flag enable-api-fields: ${needs}${needs === 'beta' ? ' (or alpha)' : ''}, and the feature flags in use have "${has}", so Tekton refuses it at admission; the admin sets enable-api-fields in ConfigMap tekton-pipelines/feature-flags (tlr render and tlr validate read it from --feature-flags; Tekton's default is beta)`,
    );
  }

  feature(path: string, what: string, key: string, enabled: boolean): void {
    if (enabled) return;
    this.diags.error(path, `${what} needs Tekton's feature flag ${key}: "true", and the feature flags in use do not set it, so Tekton refuses it at admission; the admin sets it in ConfigMap tekton-pipelines/feature-flags (tlr render and tlr validate read it from --feature-flags)`);
  }
}

/** A task spec's gated fields: step and sidecar workspaces, stdout/stderr capture, Windows scripts, StepAction resolvers, param enums. */
export function checkTaskSpecFields(spec: TaskSpec | EmbeddedTask, path: string, flags: FeatureFlags, diags: Diagnostics): void {
  const gate = new Gate(flags, diags);
  (spec.steps ?? []).forEach((step, i) => checkStep(gate, step, childPath(childPath(path, 'steps'), i), 'step'));
  (spec.sidecars ?? []).forEach((sidecar, i) => checkStep(gate, sidecar, childPath(childPath(path, 'sidecars'), i), 'sidecar'));
  checkParamSpecs(gate, spec.params, childPath(path, 'params'), flags);
}

function checkStep(gate: Gate, step: Step, path: string, kind: 'step' | 'sidecar'): void {
  if (Array.isArray(step.workspaces) && step.workspaces.length > 0) gate.api(childPath(path, 'workspaces'), `${kind} workspaces`, 'beta');
  if (kind === 'step') {
    if (step.stdoutConfig !== undefined) gate.api(childPath(path, 'stdoutConfig'), 'step stdout stream support (stdoutConfig)', 'alpha');
    if (step.stderrConfig !== undefined) gate.api(childPath(path, 'stderrConfig'), 'step stderr stream support (stderrConfig)', 'alpha');
    checkRef(gate, step.ref, childPath(path, 'ref'));
  }
  if (isWindowsScript(step.script)) gate.api(childPath(path, 'script'), 'windows script support (a script starting with #!win)', 'alpha');
}

/** A taskRef, pipelineRef or StepAction ref naming a resolver, or giving it params (Tekton's validateRef). */
function checkRef(gate: Gate, ref: unknown, path: string): void {
  if (typeof ref !== 'object' || ref === null) return;
  const { resolver, params } = ref as { resolver?: unknown; params?: unknown };
  if (params !== undefined && params !== null) gate.api(childPath(path, 'params'), 'resolver params', 'beta');
  if (typeof resolver === 'string' && resolver !== '') gate.api(childPath(path, 'resolver'), 'resolver', 'beta');
}

function checkParamSpecs(gate: Gate, params: readonly ParamSpec[] | undefined, path: string, flags: FeatureFlags): void {
  (params ?? []).forEach((p, i) => {
    if (p.enum !== undefined) gate.feature(childPath(childPath(path, i), 'enum'), `param "${p.name}": enum`, 'enable-param-enum', flags.enableParamEnum);
  });
}

/** A pipeline spec's gated fields (its tasks' own; their task specs are checked by checkTaskSpecFields). */
export function checkPipelineSpecFields(spec: PipelineSpec, path: string, flags: FeatureFlags, diags: Diagnostics): void {
  const gate = new Gate(flags, diags);
  checkParamSpecs(gate, spec.params, childPath(path, 'params'), flags);
  for (const list of ['tasks', 'finally'] as const) {
    (spec[list] ?? []).forEach((pt, i) => checkPipelineTask(gate, pt, childPath(childPath(path, list), i), flags));
  }
}

function checkPipelineTask(gate: Gate, pt: PipelineTask, path: string, flags: FeatureFlags): void {
  if (pt.pipelineRef !== undefined) gate.api(childPath(path, 'pipelineRef'), 'pipelineRef (pipelines in pipelines)', 'alpha');
  if (pt.pipelineSpec !== undefined) gate.api(childPath(path, 'pipelineSpec'), 'pipelineSpec (pipelines in pipelines)', 'alpha');
  if (pt.onError !== undefined && pt.onError !== '') gate.api(childPath(path, 'onError'), 'onError of a pipeline task', 'beta');
  if (pt.matrix !== undefined) gate.api(childPath(path, 'matrix'), 'matrix', 'beta');
  checkRef(gate, pt.taskRef, childPath(path, 'taskRef'));
  (pt.when ?? []).forEach((w, i) => {
    if (typeof w.cel === 'string' && w.cel !== '') gate.feature(childPath(childPath(childPath(path, 'when'), i), 'cel'), 'a CEL when expression', 'enable-cel-in-whenexpression', flags.enableCelInWhenExpression);
  });
}

/** A PipelineRun's or TaskRun's own gated fields (the specs they embed are checked on their own). */
export function checkRunFields(kind: 'PipelineRun' | 'TaskRun', spec: Record<string, unknown>, flags: FeatureFlags, diags: Diagnostics): void {
  const gate = new Gate(flags, diags);
  checkRef(gate, kind === 'PipelineRun' ? spec.pipelineRef : spec.taskRef, childPath('spec', kind === 'PipelineRun' ? 'pipelineRef' : 'taskRef'));
  const overrides = (target: unknown, at: string): void => {
    if (typeof target !== 'object' || target === null) return;
    for (const field of ['stepSpecs', 'sidecarSpecs', 'computeResources'] as const) {
      if ((target as Record<string, unknown>)[field] !== undefined) gate.api(childPath(at, field), field, 'beta');
    }
  };
  if (kind === 'TaskRun') {
    if (spec.debug !== undefined) gate.api('spec.debug', 'debug', 'alpha');
    overrides(spec, 'spec');
    return;
  }
  const taskRunSpecs = Array.isArray(spec.taskRunSpecs) ? spec.taskRunSpecs : [];
  taskRunSpecs.forEach((s, i) => overrides(s, childPath(childPath('spec', 'taskRunSpecs'), i)));
}

/**
 * `disable-inline-spec` lists the kinds whose embedded specs Tekton refuses (pipelinerun: spec.pipelineSpec,
 * pipeline: a pipeline task's taskSpec, taskrun: spec.taskSpec). The rewrite writes an embedded spec wherever it
 * inlines a stored Pipeline or Task, so on such a cluster the run cannot be rewritten: said here, before Tekton
 * refuses what the user never wrote. `asWarning`: a stored Pipeline linted on its own, which the cluster stores as
 * written; the runs of it are what it refuses.
 */
export function checkInlineSpecs(
  disabled: ReadonlySet<string>,
  found: { kind: 'pipelinerun' | 'pipeline' | 'taskrun'; path: string; inlined: boolean }[],
  diags: Diagnostics,
  asWarning = false,
): void {
  for (const { kind, path, inlined } of found) {
    if (!disabled.has(kind)) continue;
    const what = inlined
      ? `the rewrite inlines the stored ${kind === 'pipelinerun' ? 'Pipeline' : 'Task'} here (a run that stores results by reference carries every spec it runs)`
      : 'the run embeds this spec';
    const message = `${what}, but the feature flags in use have disable-inline-spec: "${[...disabled].join(',')}", so Tekton refuses an embedded spec in a ${kind}; storing results by reference needs it: the admin removes "${kind}" from disable-inline-spec in ConfigMap tekton-pipelines/feature-flags`;
    if (asWarning) diags.warn(path, message);
    else diags.error(path, message);
  }
}
