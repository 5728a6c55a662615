import type { Config } from './config.js';

/**
 * Where reference results live on the result volume: `<runDir>/<producer>/<result>` below its root.
 *
 * `runDir` is a Tekton context variable Tekton substitutes when it runs the task (the PipelineRun's or TaskRun's
 * uid), so two runs sharing one user-bound volume never see each other's files, and the path is known at rewrite
 * time: consumers can be given a file path (the by-path form) without any lookup.
 *
 * What a task mounts of it (its view) decides who can write what:
 * - `run` (the tasks of a PipelineRun): a consumer mounts its run's directory, read-only, at `mountPath`; a producer
 *   mounts its own directory, read-write, at `mountPath/<producer>` (workspace subPaths, which Tekton substitutes the
 *   run's uid into). No task can write another's directory, whatever its uid: the kubelet's mounts say so. The file
 *   of result `r` of task `p` is `mountPath/p/r` in every task.
 * - `volume` (a standalone TaskRun, whose workspace subPaths Tekton does not substitute context variables into): the
 *   volume root at `mountPath`, read-write; the file is `mountPath/<runDir>/task/r`.
 */
export const PIPELINE_RUN_DIR = '$(context.pipelineRun.uid)';
export const TASK_RUN_DIR = '$(context.taskRun.uid)';
/** The producer directory of a standalone TaskRun's results. */
export const TASK_RUN_PRODUCER = 'task';

/** What a task's steps see at `mountPath`: its run's directory, or the volume's root. */
export type View = 'run' | 'volume';

export interface Layout {
  readonly mountPath: string;
  readonly runDir: string;
  readonly view: View;
}

export function layoutFor(config: Config, runDir: string, view: View): Layout {
  return { mountPath: config.mountPath, runDir, view };
}

/** `<runDir>/<producer>`: relative to the volume root, as references name it. */
export function producerDir(layout: Layout, producer: string): string {
  return `${layout.runDir}/${producer}`;
}

/** The workspace subPath of a task's view of the volume (`run` only): the run's directory, or a producer's own. */
export function viewSubPath(layout: Layout, producer?: string): string {
  return producer === undefined ? layout.runDir : producerDir(layout, producer);
}

/** Where a producer's own directory is mounted in its steps. */
export function producerMountPath(layout: Layout, producer: string): string {
  return layout.view === 'run' ? `${layout.mountPath}/${producer}` : `${layout.mountPath}/${producerDir(layout, producer)}`;
}

/** The absolute path of a reference result's file inside a step. */
export function resultFilePath(layout: Layout, producer: string, result: string): string {
  return `${producerMountPath(layout, producer)}/${result}`;
}
