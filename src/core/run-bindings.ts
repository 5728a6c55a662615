/**
 * Fields of a PipelineRun itself that Tekton fills from task results or a task's params after the run is created,
 * where no process of ours runs and no copy is asked for: a reference there would arrive as the reference, not the
 * value, so the rewrite refuses it.
 *
 * - `spec.workspaces`: Tekton puts task results into the run's workspace bindings (subPath, claim, Secret and
 *   ConfigMap names…) before it creates each TaskRun (pkg/reconciler/pipelinerun/resources/apply.go
 *   ApplyResultsToWorkspaceBindings);
 * - pod templates (`spec.taskRunTemplate.podTemplate`, `spec.taskRunSpecs[].podTemplate`, v1beta1's `spec.podTemplate`
 *   and `taskPodTemplate`): Tekton puts each TaskRun's params into its pod template
 *   (pkg/reconciler/taskrun/taskrun.go ApplyPodTemplateReplacements), so a param carrying a reference there would
 *   put the reference into an env value, an image pull Secret's name, a node selector.
 */
import type { PipelineRun, PipelineTask } from '../api/tekton.js';
import { isReference, type Producers } from './consumer.js';
import type { Diagnostics } from './diagnostics.js';
import { childPath, forEachString } from './json-walk.js';
import { findParamExpressions, findTaskResultExpressions } from './variables.js';

interface RunSpec {
  readonly workspaces?: unknown;
  readonly podTemplate?: unknown;
  readonly taskRunTemplate?: { readonly podTemplate?: unknown };
  readonly taskRunSpecs?: ReadonlyArray<{ readonly pipelineTaskName?: string; readonly podTemplate?: unknown; readonly taskPodTemplate?: unknown }>;
}

/** Refuses every reference result in the run's workspace bindings and every carrying param in its pod templates. */
export function refuseRunLevelUses(run: PipelineRun, tasks: readonly PipelineTask[], producers: Producers, diags: Diagnostics): void {
  const spec = run.spec as RunSpec;
  forEachString(spec.workspaces, 'spec.workspaces', (text, at) => {
    for (const e of findTaskResultExpressions(text)) {
      if (!isReference(e, producers)) continue;
      diags.error(
        at(),
        `${e.text} in the run's workspace binding names result "${e.result}" of task "${e.task}", which is stored by reference: ` +
          'Tekton puts task results into the run\'s workspace bindings itself, before it creates the TaskRun, so the binding would ' +
          'get the reference, not the value; expected a result stored as usual (without storage: reference) there',
      );
    }
  });
  const carrying = carryingParams(tasks, producers);
  const templates: Array<[string, unknown, ReadonlySet<string>]> = [
    ['spec.taskRunTemplate.podTemplate', spec.taskRunTemplate?.podTemplate, allOf(carrying)],
    ['spec.podTemplate', spec.podTemplate, allOf(carrying)],
  ];
  (spec.taskRunSpecs ?? []).forEach((s, i) => {
    const params = carrying.get(s.pipelineTaskName ?? '') ?? new Set<string>();
    const path = childPath(childPath('spec', 'taskRunSpecs'), i);
    templates.push([childPath(path, 'podTemplate'), s.podTemplate, params], [childPath(path, 'taskPodTemplate'), s.taskPodTemplate, params]);
  });
  for (const [path, template, params] of templates) {
    if (params.size === 0) continue;
    forEachString(template, path, (text, at) => {
      for (const p of findParamExpressions(text)) {
        if (!params.has(p.name)) continue;
        diags.error(
          at(),
          `${p.text} in a pod template names param "${p.name}", which carries a result stored by reference into a task of the run: ` +
            'Tekton puts a TaskRun\'s params into its pod template when it creates the pod, where no process of ours runs, so the ' +
            'pod would get the reference, not the value; expected the value in the task\'s steps instead',
        );
      }
    });
  }
}

/** Each pipeline task's params whose value names a reference result. */
function carryingParams(tasks: readonly PipelineTask[], producers: Producers): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const pt of tasks) {
    for (const param of pt.params ?? []) {
      let carries = false;
      forEachString(param.value, '', (text) => {
        carries ||= findTaskResultExpressions(text).some((e) => isReference(e, producers));
      });
      if (!carries) continue;
      const set = out.get(pt.name) ?? new Set<string>();
      set.add(param.name);
      out.set(pt.name, set);
    }
  }
  return out;
}

function allOf(carrying: ReadonlyMap<string, ReadonlySet<string>>): Set<string> {
  return new Set([...carrying.values()].flatMap((s) => [...s]));
}
