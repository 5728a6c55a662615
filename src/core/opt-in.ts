import { ANNOTATION_REFERENCE_RESULTS, ANNOTATION_RESULT_WORKSPACE } from '../api/names.js';
import type { ObjectMeta, PipelineSpec, TaskResult } from '../api/tekton.js';
import { childPath } from './json-walk.js';
import type { Diagnostics } from './diagnostics.js';

/** Splits an annotation list (`a, b c`) into names. */
export function splitNames(value: string | undefined): string[] {
  return (value ?? '').split(/[\s,]+/).filter(Boolean);
}

/** The result workspace an object's annotations name, if any. */
export function annotatedResultWorkspace(meta: Pick<ObjectMeta, 'annotations'> | undefined): string | undefined {
  const value = meta?.annotations?.[ANNOTATION_RESULT_WORKSPACE]?.trim();
  return value === '' ? undefined : value;
}

/**
 * The names of a task's reference results, from the annotation (canonical form) and the TEP fields, checked against
 * its declared results. `metaPath`/`resultsPath` are where they live, for messages.
 */
export function referenceResultNames(
  meta: Pick<ObjectMeta, 'annotations'> | undefined,
  results: readonly TaskResult[] | undefined,
  paths: { meta: string; results: string },
  diags: Diagnostics,
): string[] {
  const declared = results ?? [];
  const names = new Set<string>();
  const annotationPath = childPath(childPath(paths.meta, 'annotations'), ANNOTATION_REFERENCE_RESULTS);
  for (const name of splitNames(meta?.annotations?.[ANNOTATION_REFERENCE_RESULTS])) {
    if (!declared.some((r) => r.name === name)) {
      const list = declared.map((r) => r.name).join(', ') || 'none';
      diags.error(
        annotationPath,
        `result "${name}" is not declared by the task; expected one of its results (${list}), found "${name}"`,
      );
      continue;
    }
    names.add(name);
  }
  declared.forEach((result, i) => {
    const path = childPath(paths.results, i);
    if (isTepReference(result, path, diags)) names.add(result.name);
    if (!names.has(result.name)) return;
    checkReferenceable(result, path, diags);
  });
  return [...names];
}

function isTepReference(result: TaskResult, path: string, diags: Diagnostics): boolean {
  if (result.type === 'stringReference') return true;
  if (result.storage === undefined) return false;
  if (result.storage === 'reference') return true;
  diags.error(childPath(path, 'storage'), `expected "reference" (or no storage field), found "${String(result.storage)}"`);
  return false;
}

function checkReferenceable(result: TaskResult, path: string, diags: Diagnostics): void {
  const type = result.type ?? 'string';
  if (type !== 'string' && type !== 'stringReference') {
    diags.error(
      childPath(path, 'type'),
      `result "${result.name}" is stored by reference, which is supported for string results only; found type "${type}". ` +
        `Write the ${type} as JSON text into a string result, or keep this result a classic one`,
    );
  }
  if (result.value !== undefined) {
    diags.error(
      childPath(path, 'value'),
      `result "${result.name}" is stored by reference, so its value must be written to $(results.${result.name}.path); ` +
        `found a value taken from step results, which Tekton carries in termination messages`,
    );
  }
}

/** What can be told about a run from the object alone (the webhook adds its stored Pipeline's annotation). */
export interface AdmissionOptIn {
  /** The run stores results by reference: hold it for the controller. */
  readonly optedIn: boolean;
  /** Its pipeline and every task are embedded, so the rewrite can be checked at admission with no lookups. */
  readonly selfContained: boolean;
}

/**
 * Whether a PipelineRun (already converted to the annotation form) opts in, judged from the object alone: the run's
 * own `tlr.dev/result-workspace` annotation, or an embedded taskSpec naming reference results. The webhook also
 * reads a local `pipelineRef`'s stored Pipeline; a run of a remote Pipeline opts in through the annotation on the
 * run (docs/design.md, "Opting in").
 */
export function admissionOptIn(run: {
  metadata?: Pick<ObjectMeta, 'annotations'>;
  spec?: { pipelineSpec?: PipelineSpec; pipelineRef?: unknown };
}): AdmissionOptIn {
  const spec = run.spec?.pipelineSpec;
  const tasks = [...(spec?.tasks ?? []), ...(spec?.finally ?? [])];
  const embeddedProducer = tasks.some((pt) => splitNames(pt.taskSpec?.metadata?.annotations?.[ANNOTATION_REFERENCE_RESULTS]).length > 0);
  const optedIn = annotatedResultWorkspace(run.metadata) !== undefined || embeddedProducer;
  const selfContained = spec !== undefined && tasks.every((pt) => pt.taskSpec !== undefined);
  return { optedIn, selfContained };
}
