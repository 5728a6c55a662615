import {
  ANNOTATION_REFERENCE_RESULTS,
  ANNOTATION_ORIGINAL_REFS,
  ANNOTATION_RESULT_VOLUME,
  ANNOTATION_RESULT_WORKSPACE,
  ANNOTATION_REWRITTEN,
  REWRITE_VERSION,
  TASK_WORKSPACE,
} from '../api/names.js';
import { describeObject, type TaskRun, type TaskSpec } from '../api/tekton.js';
import { checkInlineSpecs, checkRunFields, checkTaskSpecFields } from './api-fields.js';
import { warnChainsHints } from './chains-hints.js';
import { convertObject } from './convert.js';
import { Diagnostics } from './diagnostics.js';
import { clone } from './json-walk.js';
import { layoutFor, TASK_RUN_DIR, TASK_RUN_PRODUCER } from './layout.js';
import { referenceResultNames } from './opt-in.js';
import type { RewriteOptions, RewriteResult } from './options.js';
import { checkTerminationBudget, rewriteProducer } from './producer.js';
import { isTektonTaskKind, notSupplied } from './resolver.js';
import { bindResultWorkspace, describeVolume } from './result-volume.js';
import { isDeepStrictEqual } from 'node:util';
import { withFsGroup } from './pod-template.js';
import { checkRewrittenSize, isRewritten } from './rewritten.js';
import { checkObjectShape } from './shape/check-object.js';
import { checkTaskSpecNames } from './tekton-names.js';

/**
 * The rewrite of a standalone TaskRun whose Task stores results by reference. The results land under
 * `<mount>/<taskRun uid>/task/`; the TaskRun's results hold the references (`tlr` resolves them). A TaskRun has no
 * consumers, so only the producer side applies.
 */
export function rewriteTaskRun(input: TaskRun, options: RewriteOptions): RewriteResult<TaskRun> {
  if (isRewritten(input)) return { object: input, changed: false, diagnostics: [] };
  const diags = new Diagnostics(describeObject(input));
  checkObjectShape(input, 'TaskRun', diags);
  diags.throwIfErrors();
  const run = convertObject(input, diags);
  diags.throwIfErrors();

  const source = taskSource(run, options, diags);
  diags.throwIfErrors();
  if (!source || source.names.length === 0) {
    return isDeepStrictEqual(run, input)
      ? { object: input, changed: false, diagnostics: diags.items }
      : { object: run, changed: true, diagnostics: diags.items };
  }

  checkTaskSpecNames(source.spec, source.path, new Set(source.names), diags);
  checkRunFields('TaskRun', run.spec, options.featureFlags, diags);
  checkTaskSpecFields(source.spec, source.path, options.featureFlags, diags);
  warnChainsHints(source.names, `${source.path}.results`, undefined, diags);
  checkInlineSpecs(options.featureFlags.disableInlineSpec, [{ kind: 'taskrun', path: 'spec.taskSpec', inlined: source.inlinedRef !== undefined }], diags);
  diags.throwIfErrors();
  const layout = layoutFor(options.config, TASK_RUN_DIR, 'volume');
  const embedded = { ...source.spec };
  const params = run.spec.params ? [...run.spec.params] : undefined;
  rewriteProducer({ taskSpec: embedded, params, results: source.names, producer: TASK_RUN_PRODUCER, path: 'spec.taskSpec', label: describeObject(input) }, layout, options.config, diags);
  checkTerminationBudget({ taskSpec: embedded, results: source.names, producer: TASK_RUN_PRODUCER, path: 'spec.taskSpec', label: describeObject(input), flags: options.featureFlags }, options.config, diags);
  const taskSpec = withoutMetadata(embedded);
  const bindings = reuseNamedClaim(run, diags);
  const bound = bindResultWorkspace(bindings, TASK_WORKSPACE, options.provisionedClaim, options.config, 'spec', diags);
  diags.throwIfErrors();

  run.spec = { ...withoutTaskRef(run.spec), taskSpec, workspaces: bound.bindings, ...(params ? { params } : {}) };
  const podTemplate = withFsGroup(run.spec.podTemplate as Record<string, unknown> | undefined, options.config.fsGroup);
  if (podTemplate !== undefined) run.spec.podTemplate = podTemplate;
  run.metadata = {
    ...run.metadata,
    annotations: {
      ...run.metadata?.annotations,
      [ANNOTATION_REWRITTEN]: REWRITE_VERSION,
      [ANNOTATION_RESULT_VOLUME]: describeVolume(bound.volume),
      ...(source.inlinedRef !== undefined ? { [ANNOTATION_ORIGINAL_REFS]: JSON.stringify({ taskRef: source.inlinedRef }) } : {}),
    },
  };
  checkRewrittenSize(run, diags);
  return { object: run, changed: true, diagnostics: diags.items };
}

interface TaskSource {
  spec: TaskSpec;
  /** The results the Task stores by reference. */
  names: string[];
  /** The taskRef the rewrite inlines, kept in the original-refs annotation. */
  inlinedRef?: unknown;
  /** How messages name the spec: `spec.taskSpec`, or `spec.taskRef (Task "x") spec`. */
  path: string;
}

/**
 * The run's Task spec (embedded, or a private copy of the referenced Task) and its reference results; undefined when
 * the run refers to no Tekton Task or the resolver does not have it (an error when the run names a result workspace).
 */
function taskSource(run: TaskRun, options: RewriteOptions, diags: Diagnostics): TaskSource | undefined {
  const embedded = run.spec.taskSpec;
  if (embedded) {
    return { spec: embedded, path: 'spec.taskSpec', names: referenceResultNames(run.metadata, embedded.results, { meta: 'metadata', results: 'spec.taskSpec.results' }, diags) };
  }
  const ref = run.spec.taskRef;
  if (!ref || !isTektonTaskKind(ref)) return undefined;
  const found = options.resolver?.task(ref, '');
  if (!found) {
    if (annotatedOptIn(run)) {
      diags.error('spec.taskRef', `the run opts in (its tlr.dev/ annotations), so its Task is needed to rewrite it; ${notSupplied('Task', ref.name)}`);
    }
    return undefined;
  }
  const name: unknown = (found as { metadata?: { name?: unknown } }).metadata?.name;
  const where = `spec.taskRef (Task "${typeof name === 'string' ? name : ''}")`;
  if (checkObjectShape(found, 'Task', diags, where) === undefined) return undefined;
  const task = convertObject(found, diags);
  const names = referenceResultNames(
    { annotations: { ...task.metadata?.annotations, ...run.metadata?.annotations } },
    task.spec.results,
    { meta: `${where} metadata`, results: `${where} spec.results` },
    diags,
  );
  return { spec: clone(task.spec), names, inlinedRef: ref, path: `${where} spec` };
}

/** The TaskRun opts in by its own annotations (a result workspace, or reference results of its Task). */
function annotatedOptIn(run: TaskRun): boolean {
  const annotations = run.metadata?.annotations;
  return annotations?.[ANNOTATION_RESULT_WORKSPACE] !== undefined || annotations?.[ANNOTATION_REFERENCE_RESULTS] !== undefined;
}

/** A TaskRun's taskSpec has no `metadata` (unlike a Pipeline's embedded task): drops the one the producer rewrite adds. */
function withoutMetadata(spec: TaskSpec): TaskSpec {
  const { metadata: _metadata, ...rest } = spec as TaskSpec & { metadata?: unknown };
  return rest;
}

function withoutTaskRef(spec: TaskRun['spec']): TaskRun['spec'] {
  const { taskRef: _ref, ...rest } = spec;
  return rest;
}

/** A TaskRun may name one of its PVC bindings as the result workspace: the results then go on that same claim. */
function reuseNamedClaim(run: TaskRun, diags: Diagnostics): NonNullable<TaskRun['spec']['workspaces']> {
  const bindings = run.spec.workspaces ?? [];
  const named = run.metadata?.annotations?.[ANNOTATION_RESULT_WORKSPACE];
  if (named === undefined) return bindings;
  const binding = bindings.find((b) => b.name === named);
  if (!binding?.persistentVolumeClaim) {
    diags.error(
      `metadata.annotations[${ANNOTATION_RESULT_WORKSPACE}]`,
      `expected the name of a workspace this TaskRun binds to a persistentVolumeClaim, found "${named}" ` +
        `(${binding ? 'bound to another volume type' : 'not bound by the TaskRun'}); leave the annotation out to get a provisioned volume`,
    );
    return bindings;
  }
  return [...bindings, { name: TASK_WORKSPACE, persistentVolumeClaim: { claimName: binding.persistentVolumeClaim.claimName } }];
}
