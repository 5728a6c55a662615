/**
 * Whether a run opts in, judged from the object alone, whatever its shape: what the webhooks decide before anything
 * else (a run that does not opt in is let through untouched, for Tekton's own validation to judge) and what the
 * controller's informer filter asks. Reads only the few fields that can opt a run in, never assuming their types: a
 * `tlr.dev/*` annotation or TEP field that is there but malformed counts as opting in, so the rewrite refuses it
 * with its field path instead of it being ignored.
 */
import { ANNOTATION_REFERENCE_RESULTS, ANNOTATION_RESULT_WORKSPACE } from '../api/names.js';
import { splitNames } from './opt-in.js';

/** What can be told about a PipelineRun from the object alone (the webhook adds its stored Pipeline's annotation). */
export interface AdmissionOptIn {
  /** The run stores results by reference: hold it for the controller. */
  readonly optedIn: boolean;
  /** Its pipeline and every task are embedded, so the rewrite can be checked at admission with no lookups. */
  readonly selfContained: boolean;
}

/**
 * A PipelineRun opts in by the run's own `tlr.dev/result-workspace` annotation, a `resultWorkspace` in its embedded
 * pipelineSpec, or an embedded taskSpec marking a result (annotation or TEP field). The webhook also reads a local
 * `pipelineRef`'s stored Pipeline; a run of a remote Pipeline opts in through the annotation on the run
 * (docs/design.md, "Opting in").
 */
export function admissionOptIn(run: unknown): AdmissionOptIn {
  const object = mapping(run);
  const spec = mapping(mapping(object?.spec)?.pipelineSpec);
  const tasks = [...list(spec?.tasks), ...list(spec?.finally)];
  const optedIn =
    annotationOptsIn(object?.metadata, ANNOTATION_RESULT_WORKSPACE) ||
    (spec?.resultWorkspace !== undefined && spec.resultWorkspace !== null) ||
    tasks.some((pt) => taskSpecOptsIn(mapping(pt)?.taskSpec, mapping(mapping(pt)?.taskSpec)?.metadata));
  const selfContained = spec !== undefined && tasks.every((pt) => mapping(mapping(pt)?.taskSpec) !== undefined);
  return { optedIn, selfContained };
}

/** A standalone TaskRun opts in by either annotation on the run, or its embedded taskSpec's TEP result fields. */
export function taskRunOptsIn(run: unknown): boolean {
  const object = mapping(run);
  return (
    annotationOptsIn(object?.metadata, ANNOTATION_RESULT_WORKSPACE) ||
    taskSpecOptsIn(mapping(object?.spec)?.taskSpec, object?.metadata)
  );
}

/** A task spec's `tlr.dev/reference-results` (on `meta`) or a result with `storage` or `type: stringReference`. */
function taskSpecOptsIn(taskSpec: unknown, meta: unknown): boolean {
  if (annotationOptsIn(meta, ANNOTATION_REFERENCE_RESULTS)) return true;
  return list(mapping(taskSpec)?.results).some((r) => {
    const result = mapping(r);
    return (result?.storage !== undefined && result.storage !== null) || result?.type === 'stringReference';
  });
}

/** The annotation is there and names something, or is there and is not a string (malformed: the rewrite says so). */
function annotationOptsIn(meta: unknown, key: string): boolean {
  const value = mapping(mapping(meta)?.annotations)?.[key];
  if (value === undefined || value === null) return false;
  if (typeof value !== 'string') return true;
  return splitNames(value).length > 0;
}

function mapping(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/**
 * Whether stored objects a run names opt it in: its Pipeline by `tlr.dev/result-workspace`, a Task by
 * `tlr.dev/reference-results` (stored objects carry only annotations: the API server prunes TEP fields).
 */
export function storedObjectsOptIn(objects: readonly unknown[]): boolean {
  return objects.some((o) => {
    const object = mapping(o);
    if (object?.kind === 'Pipeline') return annotationOptsIn(object.metadata, ANNOTATION_RESULT_WORKSPACE);
    if (object?.kind === 'Task') return annotationOptsIn(object.metadata, ANNOTATION_REFERENCE_RESULTS) || taskSpecOptsIn(object.spec, object.metadata);
    return false;
  });
}

/** A ref a run makes, read tolerantly: where it is, what it names. */
export interface RunRef {
  /** Field path, e.g. `spec.pipelineRef` or `spec.pipelineSpec.tasks[1].taskRef`. */
  readonly path: string;
  readonly kind: 'Pipeline' | 'Task';
  /** A stored object of the run's namespace, by name; undefined for a remote (resolver) ref. */
  readonly name?: string;
  /** `git`, `bundles`, `hub`, `http`, `cluster`… for a remote ref. */
  readonly resolver?: string;
}

/** The run's pipelineRef (if any), read tolerantly. */
export function pipelineRefOf(run: unknown): RunRef | undefined {
  const ref = mapping(mapping(mapping(run)?.spec)?.pipelineRef);
  return ref ? refOf(ref, 'Pipeline', 'spec.pipelineRef') : undefined;
}

/**
 * The taskRefs of a pipeline spec (`spec.pipelineSpec` of a run, or `spec` of a stored Pipeline at `base`): Tekton
 * Tasks only, not custom tasks; each with its field path.
 */
export function taskRefsOf(pipelineSpec: unknown, base: string): RunRef[] {
  const spec = mapping(pipelineSpec);
  const refs: RunRef[] = [];
  for (const field of ['tasks', 'finally'] as const) {
    for (const [i, pt] of list(spec?.[field]).entries()) {
      const ref = mapping(mapping(pt)?.taskRef);
      if (!ref) continue;
      const kind = ref.kind;
      const apiVersion = ref.apiVersion;
      const tektonTask = (kind === undefined || kind === 'Task') && (apiVersion === undefined || (typeof apiVersion === 'string' && apiVersion.startsWith('tekton.dev/')));
      if (tektonTask) refs.push(refOf(ref, 'Task', `${base}.${field}[${i}].taskRef`));
    }
  }
  return refs;
}

function refOf(ref: Record<string, unknown>, kind: RunRef['kind'], path: string): RunRef {
  const resolver = typeof ref.resolver === 'string' && ref.resolver !== '' ? ref.resolver : undefined;
  const name = resolver === undefined && typeof ref.name === 'string' && ref.name !== '' ? ref.name : undefined;
  return { path, kind, ...(name !== undefined ? { name } : {}), ...(resolver !== undefined ? { resolver } : {}) };
}
