import {
  ANNOTATION_ORIGINAL_REFS,
  ANNOTATION_RESULT_VOLUME,
  ANNOTATION_RESULT_WORKSPACE,
  ANNOTATION_REWRITTEN,
  REWRITE_VERSION,
  TASK_WORKSPACE,
} from '../api/names.js';
import { describeObject, type TaskRun, type TaskSpec } from '../api/tekton.js';
import { convertObject } from './convert.js';
import { Diagnostics } from './diagnostics.js';
import { clone } from './json-walk.js';
import { layoutFor, TASK_RUN_DIR, TASK_RUN_PRODUCER } from './layout.js';
import { referenceResultNames } from './opt-in.js';
import type { RewriteOptions, RewriteResult } from './options.js';
import { rewriteProducer } from './producer.js';
import { isTektonTaskKind } from './resolver.js';
import { bindResultWorkspace, describeVolume } from './result-volume.js';
import { isDeepStrictEqual } from 'node:util';

/**
 * The rewrite of a standalone TaskRun whose Task stores results by reference. The results land under
 * `<mount>/<taskRun uid>/task/`; the TaskRun's results hold the references (`tlr` resolves them). A TaskRun has no
 * consumers, so only the producer side applies.
 */
export function rewriteTaskRun(input: TaskRun, options: RewriteOptions): RewriteResult<TaskRun> {
  const unchanged = (items: Diagnostics['items'] = []): RewriteResult<TaskRun> => ({ object: input, changed: false, diagnostics: items });
  if (input.metadata?.annotations?.[ANNOTATION_REWRITTEN] !== undefined) return unchanged();
  const diags = new Diagnostics(describeObject(input));
  const run = convertObject(input, diags);
  diags.throwIfErrors();
  const converted = (): RewriteResult<TaskRun> =>
    isDeepStrictEqual(run, input) ? unchanged(diags.items) : { object: run, changed: true, diagnostics: diags.items };

  let spec: TaskSpec | undefined = run.spec.taskSpec;
  let names: string[] = [];
  let inlinedRef: unknown;
  if (spec) {
    names = referenceResultNames(run.metadata, spec.results, { meta: 'metadata', results: 'spec.taskSpec.results' }, diags);
  } else if (run.spec.taskRef && isTektonTaskKind(run.spec.taskRef)) {
    const found = options.resolver?.task(run.spec.taskRef, '');
    if (!found) {
      if (run.metadata?.annotations?.[ANNOTATION_RESULT_WORKSPACE] !== undefined) {
        diags.error('spec.taskRef', `the run names a result workspace, so its Task is needed to rewrite it; expected the Task to be supplied, found none (tlr render: pass its file with -f)`);
      }
      diags.throwIfErrors();
      return converted();
    }
    const task = convertObject(found, diags);
    names = referenceResultNames(
      { annotations: { ...task.metadata?.annotations, ...run.metadata?.annotations } },
      task.spec.results,
      { meta: `spec.taskRef (Task "${task.metadata?.name ?? ''}") metadata`, results: `spec.taskRef (Task "${task.metadata?.name ?? ''}") spec.results` },
      diags,
    );
    spec = clone(task.spec);
    inlinedRef = run.spec.taskRef;
  }
  diags.throwIfErrors();
  if (!spec || names.length === 0) return converted();

  const layout = layoutFor(options.config, TASK_RUN_DIR);
  const embedded = { ...spec };
  rewriteProducer({ taskSpec: embedded, results: names, producer: TASK_RUN_PRODUCER, path: 'spec.taskSpec', label: describeObject(input) }, layout, options.config, diags);
  const { metadata: embeddedMeta, ...taskSpec } = embedded as typeof embedded & { metadata?: unknown };
  void embeddedMeta;
  const bindings = reuseNamedClaim(run, diags);
  const bound = bindResultWorkspace(bindings, TASK_WORKSPACE, options.provisionedClaim, options.config, 'spec', diags);
  diags.throwIfErrors();

  const { taskRef: _ref, ...rest } = run.spec;
  run.spec = { ...rest, taskSpec, workspaces: bound.bindings };
  run.metadata = {
    ...run.metadata,
    annotations: {
      ...run.metadata?.annotations,
      [ANNOTATION_REWRITTEN]: REWRITE_VERSION,
      [ANNOTATION_RESULT_VOLUME]: describeVolume(bound.volume),
      ...(inlinedRef !== undefined ? { [ANNOTATION_ORIGINAL_REFS]: JSON.stringify({ taskRef: inlinedRef }) } : {}),
    },
  };
  return { object: run, changed: true, diagnostics: diags.items };
}

/** A TaskRun may name one of its PVC bindings as the result workspace: the results then go on that same claim. */
function reuseNamedClaim(run: TaskRun, diags: Diagnostics): NonNullable<TaskRun['spec']['workspaces']> {
  const bindings = run.spec.workspaces ?? [];
  const named = run.metadata?.annotations?.[ANNOTATION_RESULT_WORKSPACE];
  if (named === undefined) return bindings;
  const binding = bindings.find((b) => b.name === named);
  if (!binding?.persistentVolumeClaim) {
    diags.error(
      `metadata.annotations["${ANNOTATION_RESULT_WORKSPACE}"]`,
      `expected the name of a workspace this TaskRun binds to a persistentVolumeClaim, found "${named}" ` +
        `(${binding ? 'bound to another volume type' : 'not bound by the TaskRun'}); leave the annotation out to get a provisioned volume`,
    );
    return bindings;
  }
  return [...bindings, { name: TASK_WORKSPACE, persistentVolumeClaim: { claimName: binding.persistentVolumeClaim.claimName } }];
}
