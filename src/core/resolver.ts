import type { Pipeline, PipelineRunSpec, Task, TaskRef } from '../api/tekton.js';

/**
 * How the rewrite gets the Pipelines and Tasks a run references. Pure and synchronous: the caller fetches first
 * (the controller: GET or ResolutionRequest; the CLI: files) and hands the rewrite a lookup over what it fetched.
 * Returning undefined means "not available"; the rewrite then decides whether it can go on without it.
 */
export interface Resolver {
  pipeline(ref: NonNullable<PipelineRunSpec['pipelineRef']>): Pipeline | undefined;
  /** `pipelineTask` is the name of the pipeline task (or '' for a TaskRun), for resolvers keyed by it. */
  task(ref: TaskRef, pipelineTask: string): Task | undefined;
}

export const NO_RESOLVER: Resolver = {
  pipeline: () => undefined,
  task: () => undefined,
};

/** A resolver over objects by name (local refs only): what `tlr render run.yaml task.yaml …` builds from its files. */
export function resolverFromObjects(objects: readonly unknown[]): Resolver {
  const pipelines = new Map<string, Pipeline>();
  const tasks = new Map<string, Task>();
  for (const o of objects as Array<{ kind?: string; metadata?: { name?: string } }>) {
    const name = o.metadata?.name;
    if (name === undefined) continue;
    if (o.kind === 'Pipeline') pipelines.set(name, o as Pipeline);
    if (o.kind === 'Task') tasks.set(name, o as Task);
  }
  return {
    pipeline: (ref) => (ref.resolver === undefined && ref.name !== undefined ? pipelines.get(ref.name) : undefined),
    task: (ref) =>
      ref.resolver === undefined && ref.name !== undefined && isTektonTaskKind(ref) ? tasks.get(ref.name) : undefined,
  };
}

/** A taskRef to a Tekton Task (not a custom task, not the removed ClusterTask). */
export function isTektonTaskKind(ref: TaskRef): boolean {
  return (ref.kind === undefined || ref.kind === 'Task') && (ref.apiVersion === undefined || ref.apiVersion.startsWith('tekton.dev/'));
}

/**
 * What to say when a Pipeline or Task a run names is not known, in words true both for the admission webhook (which
 * reads it from the run's namespace) and for `tlr render` / `tlr validate` (which take it from their files).
 */
export function notSupplied(kind: 'Pipeline' | 'Task', name: string | undefined): string {
  const file = kind === 'Task' ? 'task.yaml' : 'pipeline.yaml';
  return (
    `${kind} ${name ? `"${name}"` : '(no name)'} was not found: expected it in the run's namespace on the cluster (the ` +
    `admission webhook reads it there), or its file among tlr render's and tlr validate's (tlr render run.yaml ${file})`
  );
}
