/**
 * Result paths that reach a producer through pipeline-level params. Tekton substitutes the run's `spec.params` and the
 * pipeline's param defaults into the pipeline tasks' params (and, for embedded specs, straight into their steps), and
 * only then a task's `$(results.<name>.path)` and `/tekton/results/<name>`. A producer's path named up there cannot be
 * rewritten (one pipeline param may feed several tasks, each with its own result directory), and left alone the step
 * would write to /tekton/results/<name>, where the seal step never looks for a reference result: refused, with the
 * way out.
 */
import type { Param, ParamSpec, PipelineTask } from '../api/tekton.js';
import type { Diagnostics } from './diagnostics.js';
import { childPath, forEachText } from './json-walk.js';
import { quoteName } from './tekton-names.js';
import { findParamExpressions, forEachResultPath } from './variables.js';

/** Pipeline params whose value names some result path: param name -> where, and which result names. */
export type PipelineParamPaths = ReadonlyMap<string, ReadonlyArray<{ readonly path: string; readonly results: ReadonlySet<string> }>>;

/** The pipeline-level values that name a result path: the run's params (`runPath`) and the spec's defaults. */
export function pipelineParamPaths(runParams: readonly Param[] | undefined, runPath: string, declared: readonly ParamSpec[] | undefined, specPath: string): PipelineParamPaths {
  const found = new Map<string, Array<{ path: string; results: Set<string> }>>();
  const add = (name: string, value: unknown, path: string): void => {
    const results = new Set<string>();
    forEachText(value, (text) => forEachResultPath(text, (r) => results.add(r)));
    if (results.size > 0) found.set(name, [...(found.get(name) ?? []), { path, results }]);
  };
  (runParams ?? []).forEach((p, i) => add(p.name, p.value, childPath(childPath(runPath, i), 'value')));
  (declared ?? []).forEach((p, i) => add(p.name, p.default, childPath(childPath(specPath, i), 'default')));
  return found;
}

/** Refuses every pipeline param the producer `pt` uses whose value names one of `results`' paths. */
export function checkPipelineParamPaths(pt: PipelineTask, results: ReadonlySet<string>, paths: PipelineParamPaths, diags: Diagnostics): void {
  if (paths.size === 0) return;
  const used = new Set<string>();
  forEachText(pt, (text) => {
    for (const p of findParamExpressions(text)) used.add(p.name);
  });
  for (const name of used) {
    for (const source of paths.get(name) ?? []) {
      const named = [...source.results].filter((r) => results.has(r));
      if (named.length === 0) continue;
      diags.error(
        source.path,
        `pipeline param ${quoteName(name)} names the path of result "${named[0]}", which pipeline task "${pt.name}" stores by reference, ` +
          `and reaches that task through $(params.${name}); Tekton substitutes it there after the rewrite, so the step would write ` +
          `/tekton/results/${named[0]}, which the seal step does not read. Expected the path in the task's own params, param defaults ` +
          `or steps (there it is rewritten to the result volume); found it in a pipeline-level param`,
      );
    }
  }
}
