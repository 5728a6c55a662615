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

/** A resolver over objects by name (local refs only): what `tlr render -f file…` builds from its files. */
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
