import type { EmbeddedTask, PipelineTask, Task } from '../api/tekton.js';
import { clone } from './json-walk.js';

/** Annotations Tekton does not propagate from a Task to its TaskRuns, nor do we when inlining. */
const DROPPED_ANNOTATIONS = ['kubectl.kubernetes.io/last-applied-configuration'];

/**
 * Replaces a pipeline task's `taskRef` by the referenced Task's spec, embedded, keeping the Task's labels and
 * annotations (which Tekton would have propagated to the TaskRun) in the embedded `metadata`.
 */
export function inlineTask(pt: PipelineTask, task: Task): PipelineTask & { taskSpec: EmbeddedTask } {
  const labels = task.metadata?.labels;
  const annotations = Object.fromEntries(
    Object.entries(task.metadata?.annotations ?? {}).filter(([k]) => !DROPPED_ANNOTATIONS.includes(k)),
  );
  const metadata = {
    ...(labels && Object.keys(labels).length > 0 ? { labels: { ...labels } } : {}),
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
  const { taskRef: _ref, ...rest } = pt;
  const taskSpec: EmbeddedTask = {
    ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
    ...clone(task.spec),
  };
  return { ...rest, taskSpec };
}
