import { ANNOTATION_REWRITTEN, REWRITE_VERSION, TASK_WORKSPACE } from '../api/names.js';
import { describeObject, type Pipeline } from '../api/tekton.js';
import { convertObject } from './convert.js';
import { Diagnostics } from './diagnostics.js';
import { layoutFor, PIPELINE_RUN_DIR } from './layout.js';
import { annotatedResultWorkspace } from './opt-in.js';
import type { RewriteOptions, RewriteResult } from './options.js';
import { checkInlineSpecs } from './api-fields.js';
import { analysePipelineSpec, checkSpecFields, checkSpecNames, declareResultWorkspace, embeddedTaskSpecs, rewritePipelineSpec } from './pipeline-spec.js';
import { checkRewrittenSize, isRewritten } from './rewritten.js';
import { checkObjectShape } from './shape/check-object.js';
import { NO_RESOLVER, notSupplied } from './resolver.js';
import { isDeepStrictEqual } from 'node:util';

/**
 * The rewrite of a stored Pipeline on its own (no run: no volume binding, no coschedule check, which need the
 * PipelineRun's workspace bindings). Useful to inspect what the controller will do; the controller itself always
 * works from the PipelineRun. `lintOnly` (tlr validate/render of a stored Pipeline): a Task not given is a warning
 * (the cluster reads it from the namespace when a run names the Pipeline), not a refusal.
 */
export function rewritePipeline(input: Pipeline, options: RewriteOptions, lintOnly = false): RewriteResult<Pipeline> {
  if (isRewritten(input)) return { object: input, changed: false, diagnostics: [] };
  const diags = new Diagnostics(describeObject(input));
  checkObjectShape(input, 'Pipeline', diags);
  diags.throwIfErrors();
  const pipeline = convertObject(input, diags);
  diags.throwIfErrors();
  const resolver = options.resolver ?? NO_RESOLVER;
  const specInput = { spec: pipeline.spec, path: 'spec', resolver, diags };
  const analysis = analysePipelineSpec(specInput);
  diags.throwIfErrors();
  const named = annotatedResultWorkspace(pipeline.metadata);
  if (analysis.producers.size === 0 || analysis.unresolved.length > 0) {
    for (const u of analysis.unresolved) {
      if (named === undefined && analysis.producers.size === 0) continue;
      if (lintOnly) {
        // Linting a stored Pipeline: the cluster reads its Tasks when a run names it; only what is here is checked.
        diags.warn(`${u.path}.taskRef`, `pipeline task "${u.pipelineTask}": Task "${u.task}" is not among the files given, so the pipeline's producers and consumers were not checked; give its file too`);
        continue;
      }
      diags.error(`${u.path}.taskRef`, `pipeline task "${u.pipelineTask}": the pipeline stores results by reference, so every Task it runs is needed; ${notSupplied('Task', u.task)}`);
    }
    // A linted Pipeline that stores nothing by reference is still checked for the names Tekton checks (a
    // `$(params.reprt)`, a `$(tasks.gne.results.x)`): the cluster would refuse it, or fail the run when it gets there.
    if (lintOnly) checkSpecNames(specInput, analysis);
    diags.throwIfErrors();
    return isDeepStrictEqual(pipeline, input) ? { object: input, changed: false, diagnostics: diags.items } : { object: pipeline, changed: true, diagnostics: diags.items };
  }
  const workspace = named ?? TASK_WORKSPACE;
  checkSpecNames(specInput, analysis);
  checkSpecFields(specInput, analysis, options.featureFlags);
  diags.throwIfErrors();
  const layout = layoutFor(options.config, PIPELINE_RUN_DIR, 'run');
  const { inlined } = rewritePipelineSpec(specInput, analysis, workspace, layout, options.config, options.featureFlags);
  checkInlineSpecs(options.featureFlags.disableInlineSpec, embeddedTaskSpecs(pipeline.spec, 'spec', inlined), diags, lintOnly);
  declareResultWorkspace(pipeline.spec, workspace);
  diags.throwIfErrors();
  pipeline.metadata = { ...pipeline.metadata, annotations: { ...pipeline.metadata?.annotations, [ANNOTATION_REWRITTEN]: REWRITE_VERSION } };
  checkRewrittenSize(pipeline, diags);
  return { object: pipeline, changed: true, diagnostics: diags.items };
}
