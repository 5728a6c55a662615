import type { Config } from './config.js';

/**
 * Where reference results live on the result volume: `<mountPath>/<runDir>/<producer>/<result>`.
 *
 * `runDir` is a Tekton context variable Tekton substitutes when it runs the task (the PipelineRun's or TaskRun's
 * uid), so two runs sharing one user-bound volume never see each other's files, and the path is known at rewrite
 * time: consumers can be given a file path (the by-path form) without any lookup.
 */
export const PIPELINE_RUN_DIR = '$(context.pipelineRun.uid)';
export const TASK_RUN_DIR = '$(context.taskRun.uid)';
/** The producer directory of a standalone TaskRun's results. */
export const TASK_RUN_PRODUCER = 'task';

export interface Layout {
  readonly mountPath: string;
  readonly runDir: string;
}

export function layoutFor(config: Config, runDir: string): Layout {
  return { mountPath: config.mountPath, runDir };
}

/** `<runDir>/<producer>`: relative to the volume root, as the init programs take it. */
export function producerDir(layout: Layout, producer: string): string {
  return `${layout.runDir}/${producer}`;
}

/** The absolute path of a reference result's file inside a step. */
export function resultFilePath(layout: Layout, producer: string, result: string): string {
  return `${layout.mountPath}/${producerDir(layout, producer)}/${result}`;
}
