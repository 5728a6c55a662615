/**
 * Sealing, the last step of a producer task: for each reference result, check the value file on the result volume,
 * hash it, and write the small reference into /tekton/results/<name> (the real Tekton result).
 */
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { formatReference } from '../src/core/reference.js';
import { TlrError } from '../src/errors.js';
import { writeFileAtomic } from './atomic-write.js';
import { moveClassicValue } from './classic-value.js';
import { hashHandle, type Digest } from './hash-file.js';
import { logInfo, type Logger } from './log.js';
import { isNoSpace, podVolumeFull } from './no-space.js';
import {
  checkSegment,
  lstatBelowRoot,
  openChecked,
  requireInside,
  requireSingleRegularFile,
  splitProducerDir,
} from './safe-path.js';

export interface SealOptions {
  /** Mount path of the result volume, e.g. /tlr/results. */
  readonly root: string;
  /** `<runDir>/<producer>` below root. */
  readonly dir: string;
  /** Tekton's results directory, /tekton/results. */
  readonly resultsDir: string;
  /** Largest accepted value, in bytes (config key maxResultSize). */
  readonly maxSize: number;
  /** Where "Sealed result" lines go; stdout JSON lines by default. */
  readonly log?: Logger;
}

export type SealOutcome =
  | { readonly name: string; readonly status: 'sealed'; readonly reference: string; readonly bytes: number }
  | { readonly name: string; readonly status: 'missing'; readonly message: string }
  | { readonly name: string; readonly status: 'failed'; readonly message: string; readonly error: unknown };

/** Seals every result; never throws for one result's problem (see each outcome). */
export async function sealResults(names: readonly string[], options: SealOptions): Promise<SealOutcome[]> {
  const outcomes: SealOutcome[] = [];
  for (const name of names) {
    try {
      outcomes.push(await sealResult(name, options));
    } catch (error) {
      const message = error instanceof TlrError ? error.message : `Result "${name}": ${(error as Error).message}`;
      outcomes.push({ name, status: 'failed', message, error });
    }
  }
  return outcomes;
}

/** Seals one result; throws a TlrError when it is refused. */
export async function sealResult(name: string, options: SealOptions): Promise<SealOutcome> {
  const log = options.log ?? logInfo;
  checkSegment(name, 'result name');
  const { runDir } = splitProducerDir(options.dir);
  const relPath = `${options.dir}/${name}`;
  const path = join(options.root, relPath);
  const subject = `Result "${name}"`;
  let stats = await lstatBelowRoot(options.root, relPath, subject);
  if (stats === undefined) {
    const classic = join(options.resultsDir, name);
    if (await moveClassicValue(classic, path, subject)) {
      log('Moved result value onto the result volume', { result: name, from: classic, to: path });
      stats = await lstatBelowRoot(options.root, relPath, subject);
    }
  }
  if (stats === undefined) {
    const message =
      `Result "${name}" was not produced: ${path} does not exist; its consumers will not start ` +
      '(Tekton treats a missing result the same way)';
    return { name, status: 'missing', message };
  }
  await requireSingleRegularFile(path, stats, subject);
  await requireInside(path, join(options.root, runDir), subject);
  requireWithinLimit(name, stats.size, options.maxSize);
  const { sha256, bytes } = await hashStable(path, stats, name, options.maxSize);
  const reference = formatReference({ sha256, size: bytes, path: relPath });
  const target = join(options.resultsDir, name);
  try {
    await writeFileAtomic(target, reference);
  } catch (error) {
    throw isNoSpace(error) ? podVolumeFull(target, error) : error;
  }
  log('Sealed result', { result: name, path: relPath, bytes, sha256 });
  return { name, status: 'sealed', reference, bytes };
}

function requireWithinLimit(name: string, size: number, maxSize: number): void {
  if (size > maxSize) {
    throw new TlrError(
      'E_RESULT_TOO_LARGE',
      `Result "${name}" is ${size} bytes, over the limit of ${maxSize} bytes (config key maxResultSize); ` +
        'write less or ask your admin to raise the limit',
    );
  }
}

/** Hashes the file through one descriptor and refuses it if it changed meanwhile (size or mtime). */
async function hashStable(path: string, checked: Stats, name: string, maxSize: number): Promise<Digest> {
  const subject = `Result "${name}"`;
  const handle = await openChecked(path, checked, subject);
  try {
    const before = await handle.stat();
    requireWithinLimit(name, before.size, maxSize);
    const digest = await hashHandle(handle);
    const after = await handle.stat();
    if (after.size !== before.size || digest.bytes !== before.size || after.mtimeMs !== before.mtimeMs) {
      throw new TlrError(
        'E_RESULT_UNSAFE',
        `${subject}: ${path} changed while it was being sealed: expected ${before.size} bytes throughout, found ` +
          `${digest.bytes} bytes read and ${after.size} bytes after; make sure nothing (a sidecar, a background ` +
          "process) still writes to it when the task's steps end",
      );
    }
    return digest;
  } finally {
    await handle.close();
  }
}
