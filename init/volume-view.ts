/**
 * Where a path on the result volume (`<runDir>/<producer>/<result>`, as references name it) is in this container.
 * The container sees at `--root` either the volume's root (view `volume`: a standalone TaskRun's tasks) or its run's
 * directory (view `run`: the tasks of a PipelineRun, which mount only their run's directory, or, for a producer, its
 * own directory at `<root>/<producer>`). See src/core/layout.ts.
 */
import { join } from 'node:path';
import { TlrError } from '../src/errors.js';

export type View = 'run' | 'volume';

export const VIEWS: readonly View[] = ['run', 'volume'];

export interface VolumeView {
  /** Where the container sees the volume (or its run's directory). */
  readonly root: string;
  /** The run's directory name on the volume (the run's uid). */
  readonly runDir: string;
  /** Default `volume`. */
  readonly view?: View;
}

export interface Located {
  /** The directory below which every component is checked (no symlinks): the root. */
  readonly base: string;
  /** `relPath` below `base`. */
  readonly rel: string;
  /** The absolute path in this container. */
  readonly path: string;
  /** The run's directory in this container. */
  readonly runDirPath: string;
}

/** Locates `relPath`, which must start with the run's directory (the caller checked it; rechecked here). */
export function locate(volume: VolumeView, relPath: string): Located {
  const [first, ...rest] = relPath.split('/');
  if (first !== volume.runDir || rest.length === 0) {
    throw new TlrError(
      'E_RESULT_UNSAFE',
      `${relPath} is outside this run's directory: expected a path starting with "${volume.runDir}/"`,
    );
  }
  if (volume.view !== 'run') {
    return { base: volume.root, rel: relPath, path: join(volume.root, relPath), runDirPath: join(volume.root, volume.runDir) };
  }
  const rel = rest.join('/');
  return { base: volume.root, rel, path: join(volume.root, rel), runDirPath: volume.root };
}

export function parseView(value: string): View {
  if ((VIEWS as readonly string[]).includes(value)) return value as View;
  throw new TlrError('E_INPUT', `--view must be one of ${VIEWS.join(', ')}, got "${value}"`);
}
