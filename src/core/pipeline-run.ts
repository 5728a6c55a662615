import {
  ANNOTATION_ORIGINAL_REFS,
  ANNOTATION_RESULT_VOLUME,
  ANNOTATION_RESULT_WORKSPACE,
  ANNOTATION_REWRITTEN,
  ANNOTATION_PIPELINE_RESULT_ELEMENTS,
  REWRITE_VERSION,
  TASK_WORKSPACE,
} from '../api/names.js';
import { describeObject, type ObjectMeta, type Pipeline, type PipelineRun, type PipelineSpec } from '../api/tekton.js';
import { checkInlineSpecs, checkRunFields } from './api-fields.js';
import { checkResultWorkspaceName, convertObject } from './convert.js';
import { Diagnostics } from './diagnostics.js';
import { childPath, clone } from './json-walk.js';
import { layoutFor, PIPELINE_RUN_DIR, resultFilePath, type Layout } from './layout.js';
import { annotatedResultWorkspace } from './opt-in.js';
import type { RewriteOptions, RewriteResult } from './options.js';
import {
  analysePipelineSpec,
  checkSpecFields,
  checkSpecNames,
  declareResultWorkspace,
  embeddedTaskSpecs,
  rewritePipelineSpec,
  type PipelineAnalysis,
  type PipelineSpecInput,
} from './pipeline-spec.js';
import { NO_RESOLVER, notSupplied } from './resolver.js';
import { withFsGroup } from './pod-template.js';
import { bindResultWorkspace, checkCoschedule, describeVolume, sharedResultWorkspace, warnShared, warnUnplacedReadWriteOnce, type ResultVolume } from './result-volume.js';
import { mentionsReference } from './consumer.js';
import type { FeatureFlags } from './feature-flags.js';
import { isDeepStrictEqual } from 'node:util';
import { checkGrowth, checkRewrittenSize, isRewritten, rewrittenSizeBound } from './rewritten.js';
import { MAX_OBJECT_BYTES } from './limits.js';
import { producerGrowth } from './producer.js';
import { checkObjectShape } from './shape/check-object.js';
import { refuseRunLevelUses } from './run-bindings.js';

/**
 * The rewrite of a PipelineRun: the heart of the project, shared by the CLI (`tlr render`), the admission webhook and
 * the controller. Pure: no I/O, no clock, never mutates its input. A run that did not opt in comes back as the very
 * same object; a rewritten run comes back unchanged (idempotent). Throws a RewriteError listing every refusal.
 */
export function rewritePipelineRun(input: PipelineRun, options: RewriteOptions): RewriteResult<PipelineRun> {
  if (isRewritten(input)) return { object: input, changed: false, diagnostics: [] };
  const diags = new Diagnostics(describeObject(input));
  const bytes = checkObjectShape(input, 'PipelineRun', diags);
  diags.throwIfErrors();
  const run = convertObject(input, diags);
  diags.throwIfErrors();

  const source = pipelineSource(run, options, diags);
  if (!source) return convertedOnly(input, run, diags);
  const specInput: PipelineSpecInput = { spec: source.spec, path: SPEC_PATH, resolver: options.resolver ?? NO_RESOLVER, diags, runParams: run.spec.params ?? [] };
  const analysis = analysePipelineSpec(specInput);
  diags.throwIfErrors();
  const workspace = chooseResultWorkspace(run, source, analysis, options.featureFlags, diags);
  if (workspace === undefined) return convertedOnly(input, run, diags);
  checkSpecNames(specInput, analysis);
  checkRunFields('PipelineRun', run.spec, options.featureFlags, diags);
  checkSpecFields(specInput, analysis, options.featureFlags);
  diags.throwIfErrors();
  const layout = layoutFor(options.config, PIPELINE_RUN_DIR, 'run');
  checkGrowth(bytes ?? 0, [...analysis.producers].reduce((sum, [name, results]) => sum + producerGrowth(layout, options.config, name, [...results]), 0), diags);

  const { inlined, inlinedBytes, bound, elements } = rewriteSpec(run, specInput, analysis, workspace, options);
  run.spec = { ...withoutRef(run.spec), pipelineSpec: source.spec, workspaces: bound.bindings };
  checkInlineSpecs(options.featureFlags.disableInlineSpec, [{ kind: 'pipelinerun', path: SPEC_PATH, inlined: source.ref !== undefined }, ...embeddedTaskSpecs(source.spec, SPEC_PATH, inlined)], diags);
  diags.throwIfErrors();
  applyFsGroup(run, options.config.fsGroup);
  run.metadata = rewrittenMetadata(run, source, { inlined, elements }, bound.volume);
  const parts = { inputBytes: (bytes ?? 0) + (source.bytes ?? 0) + inlinedBytes, ...referenceSizes(analysis, layout), tasks: analysis.entries.length };
  if (rewrittenSizeBound(parts) > MAX_OBJECT_BYTES) checkRewrittenSize(run, diags);
  return { object: run, changed: true, diagnostics: diags.items };
}

/** The longest volume path of a reference result of the run, and the length of all their names. */
function referenceSizes(analysis: PipelineAnalysis, layout: Layout): { longestPath: number; names: number } {
  let longestPath = 0;
  let names = 0;
  for (const [producer, results] of analysis.producers) {
    for (const result of results) {
      longestPath = Math.max(longestPath, resultFilePath(layout, producer, result).length);
      names += result.length + 3;
    }
  }
  return { longestPath, names };
}


const SPEC_PATH = 'spec.pipelineSpec';

/** The result of a run that is not rewritten: the input itself, or its converted copy when conversion changed it. */
function convertedOnly(input: PipelineRun, run: PipelineRun, diags: Diagnostics): RewriteResult<PipelineRun> {
  return isDeepStrictEqual(run, input)
    ? { object: input, changed: false, diagnostics: diags.items }
    : { object: run, changed: true, diagnostics: diags.items };
}

/** The workspace holding the run's results; `shared` when its tasks mount it under names of their own too. */
interface ResultWorkspace {
  readonly name: string;
  readonly shared: boolean;
}

/**
 * The run's result workspace: the one it or its Pipeline names; else, under coschedule: workspaces, the PVC-backed
 * workspace its producers and consumers already share; else a provisioned one. Undefined when the run has nothing to
 * store by reference. Reports Tasks it could not resolve.
 */
function chooseResultWorkspace(run: PipelineRun, source: PipelineSource, analysis: PipelineAnalysis, flags: FeatureFlags, diags: Diagnostics): ResultWorkspace | undefined {
  const named = annotatedResultWorkspace(run.metadata) ?? annotatedResultWorkspace(source.pipeline?.metadata);
  if (named === undefined && analysis.producers.size === 0) return undefined;

  for (const u of analysis.unresolved) {
    diags.error(
      `${u.path}.taskRef`,
      `pipeline task "${u.pipelineTask}": the run stores results by reference, so every Task it runs is needed to find producers and consumers; ` +
        notSupplied('Task', u.task),
    );
  }
  if (analysis.producers.size === 0) {
    // With Tasks unknown, whether any stores by reference is unknown too: the errors above say what is missing.
    if (analysis.unresolved.length > 0) diags.throwIfErrors();
    diags.warn('metadata.annotations', `the run names result workspace "${named}" but no task stores a result by reference; nothing to rewrite`);
    diags.throwIfErrors();
    return undefined;
  }
  if (named !== undefined) {
    checkResultWorkspaceName(named, source.spec, childPath('metadata.annotations', ANNOTATION_RESULT_WORKSPACE), diags);
    diags.throwIfErrors();
    return { name: named, shared: false };
  }
  const shared = sharedResultWorkspace(source.spec, run.spec.workspaces ?? [], likelyTouched(analysis), flags);
  if (shared !== undefined) {
    warnShared(shared, 'spec.workspaces', diags);
    return { name: shared.workspace, shared: true };
  }
  diags.warn('spec.pipelineSpec.workspaces', `tasks store results by reference but the pipeline names no result workspace; using a provisioned workspace "${TASK_WORKSPACE}"`);
  return { name: TASK_WORKSPACE, shared: false };
}

/** The pipeline tasks the rewrite will touch: the producers, and every task whose text names a reference result. */
function likelyTouched(analysis: PipelineAnalysis): Set<string> {
  return new Set(analysis.entries.filter((e) => e.results.length > 0 || mentionsReference(e.pt, analysis.producers)).map((e) => e.pt.name));
}

/** Rewrites the pipeline spec in place, declares and binds the result workspace; throws on any refusal. */
function rewriteSpec(
  run: PipelineRun,
  specInput: PipelineSpecInput,
  analysis: PipelineAnalysis,
  workspace: ResultWorkspace,
  options: RewriteOptions,
): { inlined: Record<string, unknown>; inlinedBytes: number; bound: ReturnType<typeof bindResultWorkspace>; elements: Record<string, string> } {
  const { spec, diags } = specInput;
  const layout = layoutFor(options.config, PIPELINE_RUN_DIR, 'run');
  const { touched, inlined, inlinedBytes, elements } = rewritePipelineSpec(specInput, analysis, workspace.name, layout, options.config, options.featureFlags, workspace.shared);
  declareResultWorkspace(spec, workspace.name);
  const bound = bindResultWorkspace(run.spec.workspaces ?? [], workspace.name, options.provisionedClaim, options.config, 'spec', diags, workspace.shared);
  checkCoschedule(spec, bound.bindings, workspace.name, touched, options.featureFlags, SPEC_PATH, diags);
  warnUnplacedReadWriteOnce(bound.bindings, workspace.name, options.featureFlags, 'spec.workspaces', diags);
  refuseRunLevelUses(run, [...(spec.tasks ?? []), ...(spec.finally ?? [])], analysis.producers, diags);
  diags.throwIfErrors();
  return { inlined, inlinedBytes, bound, elements };
}

/**
 * The admin's optional fsGroup on every task pod of the run (spec.taskRunTemplate.podTemplate), unless set. A
 * tekton.dev/v1beta1 run (`tlr render` of one; the webhook sees every run as v1) has it at spec.podTemplate.
 */
function applyFsGroup(run: PipelineRun, fsGroup: number | undefined): void {
  if (run.apiVersion === 'tekton.dev/v1beta1') {
    const podTemplate = withFsGroup(run.spec.podTemplate as Record<string, unknown> | undefined, fsGroup);
    if (podTemplate !== undefined) run.spec.podTemplate = podTemplate;
    return;
  }
  const template = run.spec.taskRunTemplate as { podTemplate?: Record<string, unknown> } | undefined;
  const podTemplate = withFsGroup(template?.podTemplate, fsGroup);
  if (podTemplate !== template?.podTemplate) run.spec.taskRunTemplate = { ...template, podTemplate };
}

/** The rewritten run's metadata: the Pipeline's labels and annotations under the run's, plus the rewrite's own. */
function rewrittenMetadata(
  run: PipelineRun,
  source: PipelineSource,
  made: { inlined: Record<string, unknown>; elements: Record<string, string> },
  volume: ResultVolume,
): ObjectMeta {
  const { inlined, elements } = made;
  const originalRefs = { ...(source.ref !== undefined ? { pipelineRef: source.ref } : {}), ...(Object.keys(inlined).length > 0 ? { taskRefs: inlined } : {}) };
  // The elements are the rewrite's word alone: one the run came with is dropped, not merged.
  const { [ANNOTATION_PIPELINE_RESULT_ELEMENTS]: _given, ...given } = { ...stripApplied(source.pipeline?.metadata?.annotations), ...run.metadata?.annotations };
  const metadata: ObjectMeta = {
    ...run.metadata,
    labels: { ...source.pipeline?.metadata?.labels, ...run.metadata?.labels },
    annotations: {
      ...given,
      [ANNOTATION_REWRITTEN]: REWRITE_VERSION,
      [ANNOTATION_RESULT_VOLUME]: describeVolume(volume),
      ...(Object.keys(originalRefs).length > 0 ? { [ANNOTATION_ORIGINAL_REFS]: JSON.stringify(originalRefs) } : {}),
      ...(Object.keys(elements).length > 0 ? { [ANNOTATION_PIPELINE_RESULT_ELEMENTS]: JSON.stringify(elements) } : {}),
    },
  };
  if (Object.keys(metadata.labels ?? {}).length === 0) delete metadata.labels;
  return metadata;
}

interface PipelineSource {
  spec: PipelineSpec;
  pipeline?: Pipeline;
  ref?: unknown;
  /** The resolved Pipeline's size, as measured when it was checked. */
  bytes?: number;
}

function pipelineSource(run: PipelineRun, options: RewriteOptions, diags: Diagnostics): PipelineSource | undefined {
  if (run.spec.pipelineSpec) return { spec: run.spec.pipelineSpec };
  const ref = run.spec.pipelineRef;
  if (!ref) return undefined;
  const found = options.resolver?.pipeline(ref);
  if (!found) {
    if (annotatedResultWorkspace(run.metadata) !== undefined) {
      diags.error(
        'spec.pipelineRef',
        `the run names a result workspace, so its Pipeline is needed to rewrite it; ` +
          (ref.name !== undefined ? notSupplied('Pipeline', ref.name) : `a Pipeline from resolver "${ref.resolver ?? ''}" cannot be read before the run exists; store it in the namespace, or embed it`),
      );
      diags.throwIfErrors();
    }
    diags.warn(
      'spec.pipelineRef',
      `${ref.name !== undefined ? notSupplied('Pipeline', ref.name) : `a Pipeline from resolver "${ref.resolver ?? ''}" is not read here`}; ` +
        'the run is left as it is. Whether it stores results by reference depends on that Pipeline and its Tasks',
    );
    return undefined;
  }
  const name: unknown = (found as { metadata?: { name?: unknown } }).metadata?.name;
  const bytes = checkObjectShape(found, 'Pipeline', diags, `spec.pipelineRef (Pipeline "${typeof name === 'string' ? name : ''}")`);
  diags.throwIfErrors();
  const pipeline = convertObject(found, diags);
  diags.throwIfErrors();
  return { spec: clone(pipeline.spec), pipeline, ref, ...(bytes !== undefined ? { bytes } : {}) };
}

function withoutRef(spec: PipelineRun['spec']): PipelineRun['spec'] {
  const { pipelineRef: _ref, ...rest } = spec;
  return rest;
}

function stripApplied(annotations: Record<string, string> | undefined): Record<string, string> {
  const { 'kubectl.kubernetes.io/last-applied-configuration': _a, ...rest } = annotations ?? {};
  return rest;
}
