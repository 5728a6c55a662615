/**
 * What the PipelineRun webhook reads from the cluster before its (pure) decision: the stored Pipeline a new run names
 * by a local `pipelineRef`, and the stored Tasks its pipeline names by local `taskRef`s, all in the run's namespace
 * (the request's, which the API server authorized the caller for). Tekton forbids changing a run's spec once it is
 * created, so an opted-in run is rewritten here, at creation, and the rewrite needs them; the same reads also tell
 * whether a stored Pipeline or Task opts the run in. Bounded: at most MAX_LOOKUPS objects, each GET within the
 * settings' timeout, all at once.
 */
import { isTektonKind, type KubeObject } from '../api/tekton.js';
import { pipelineRefOf, taskRefsOf } from '../core/admission-opt-in.js';
import type { AdmissionRequest } from './admission-review.js';
import type { WebhookSettings } from './settings.js';

/** More distinct stored Tasks than any pipeline names; a run naming more is refused if it opts in. */
export const MAX_LOOKUPS = 64;

export interface Lookups {
  /** The stored Pipelines and Tasks read (objects that do not exist are simply absent). */
  readonly objects?: readonly KubeObject[];
  /**
   * `Pipeline ns/name` / `Task ns/name` that could not be read (a timeout, a missing permission, too many): the
   * reason is logged by the settings, never put in the answer, so the caller learns nothing it could not GET.
   */
  readonly unreadable?: readonly string[];
}

export async function pipelineRunLookups(request: AdmissionRequest, settings: WebhookSettings): Promise<Lookups> {
  if (request.operation !== 'CREATE' || !isTektonKind(request.object, 'PipelineRun') || !settings.storedObject) return {};
  const run = request.object as { metadata?: { namespace?: unknown }; spec?: { pipelineSpec?: unknown } };
  const namespace = request.namespace ?? (typeof run.metadata?.namespace === 'string' ? run.metadata.namespace : 'default');
  const read = reader(settings, namespace);
  const objects: KubeObject[] = [];
  const pipelineRef = pipelineRefOf(run);
  let pipelineSpec: unknown = run.spec?.pipelineSpec;
  let base = 'spec.pipelineSpec';
  if (pipelineRef?.name !== undefined) {
    const pipeline = await read('Pipeline', pipelineRef.name);
    if (pipeline) objects.push(pipeline);
    pipelineSpec = pipeline?.spec;
    base = 'spec';
  }
  const names = [...new Set(taskRefsOf(pipelineSpec, base).flatMap((r) => (r.name !== undefined ? [r.name] : [])))];
  const tasks = await Promise.all(names.slice(0, MAX_LOOKUPS).map((name) => read('Task', name)));
  for (const task of tasks) if (task) objects.push(task);
  const unreadable = [...read.unreadable, ...names.slice(MAX_LOOKUPS).map((n) => `Task ${namespace}/${n} (more than ${MAX_LOOKUPS} stored Tasks)`)];
  return { objects, ...(unreadable.length > 0 ? { unreadable } : {}) };
}

/**
 * The stored Task a new standalone TaskRun names by a local `taskRef`, in its namespace: it may opt the TaskRun in
 * (`tlr.dev/reference-results`), and the rewrite inlines it, as `tlr render run.yaml task.yaml` does.
 */
export async function taskRunLookups(request: AdmissionRequest, settings: WebhookSettings): Promise<Lookups> {
  if (request.operation !== 'CREATE' || !isTektonKind(request.object, 'TaskRun') || !settings.storedObject) return {};
  const run = request.object as { metadata?: { namespace?: unknown }; spec?: { taskSpec?: unknown; taskRef?: unknown } };
  const name = storedTaskName(run.spec);
  if (name === undefined) return {};
  const namespace = request.namespace ?? (typeof run.metadata?.namespace === 'string' ? run.metadata.namespace : 'default');
  const read = reader(settings, namespace);
  const task = await read('Task', name);
  return { ...(task ? { objects: [task] } : {}), ...(read.unreadable.length > 0 ? { unreadable: read.unreadable } : {}) };
}

/** The name of the stored Task a TaskRun spec names by a local taskRef (no embedded taskSpec, no resolver). */
function storedTaskName(spec: { taskSpec?: unknown; taskRef?: unknown } | undefined): string | undefined {
  if (spec?.taskSpec !== undefined && spec.taskSpec !== null) return undefined;
  const ref = spec?.taskRef as { name?: unknown; kind?: unknown; resolver?: unknown } | null | undefined;
  if (typeof ref?.name !== 'string' || ref.name === '' || ref.resolver !== undefined) return undefined;
  return ref.kind === undefined || ref.kind === 'Task' ? ref.name : undefined;
}

type Reader = ((kind: 'Pipeline' | 'Task', name: string) => Promise<KubeObject | undefined>) & { readonly unreadable: string[] };

function reader(settings: WebhookSettings, namespace: string): Reader {
  const unreadable: string[] = [];
  const read = async (kind: 'Pipeline' | 'Task', name: string): Promise<KubeObject | undefined> => {
    try {
      const object = await settings.storedObject?.(kind, namespace, name);
      return object ? { ...object, apiVersion: object.apiVersion ?? 'tekton.dev/v1', kind } : undefined;
    } catch {
      unreadable.push(`${kind} ${namespace}/${name}`);
      return undefined;
    }
  };
  return Object.assign(read, { unreadable });
}
