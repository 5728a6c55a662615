import type { KubeObject, Pipeline, PipelineRun, TaskRun } from '../api/tekton.js';
import { convertObject } from './convert.js';
import { Diagnostics } from './diagnostics.js';
import { describeObject, isTektonApiVersion } from '../api/tekton.js';
import type { RewriteOptions, RewriteResult } from './options.js';
import { rewritePipeline } from './pipeline.js';
import { rewritePipelineRun } from './pipeline-run.js';
import { rewriteTaskRun } from './task-run.js';
import { isDeepStrictEqual } from 'node:util';
import { checkObjectShape } from './shape/check-object.js';
import { checkTektonApiVersion } from './object-keys.js';

/**
 * Rewrites any object the way the cluster would: PipelineRuns, TaskRuns and Pipelines through their rewrites; Tasks
 * are only converted (a Task is rewritten as part of the run that uses it); anything else passes through.
 */
export function rewriteObject(object: KubeObject, options: RewriteOptions): RewriteResult<KubeObject> {
  if (!isTektonApiVersion(object.apiVersion)) return notTekton(object);
  switch (object.kind) {
    case 'PipelineRun':
      return rewritePipelineRun(object as PipelineRun, options);
    case 'TaskRun':
      return rewriteTaskRun(object as TaskRun, options);
    case 'Pipeline':
      return rewritePipeline(object as Pipeline, options);
    default:
      return convertOnly(object);
  }
}

/** TEP form -> canonical form only (what `tlr convert` does for `kubectl apply`). */
export function convertOnly(object: KubeObject): RewriteResult<KubeObject> {
  if (!isTektonApiVersion(object.apiVersion)) return notTekton(object);
  const diags = new Diagnostics(describeObject(object));
  checkObjectShape(object, object.kind, diags);
  diags.throwIfErrors();
  const out = convertObject(object, diags);
  diags.throwIfErrors();
  const changed = !isDeepStrictEqual(out, object);
  return { object: changed ? out : object, changed, diagnostics: diags.items };
}

/** An object Tekton does not serve passes through, unless its apiVersion is a typo of Tekton's (refused). */
function notTekton(object: KubeObject): RewriteResult<KubeObject> {
  const diags = new Diagnostics(describeObject(object));
  checkTektonApiVersion(object, diags);
  diags.throwIfErrors();
  return { object, changed: false, diagnostics: [] };
}
