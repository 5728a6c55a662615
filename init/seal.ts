/**
 * Sealing, the last step of a producer task: for each reference result, check the value file on the result volume,
 * hash it, and write the small reference into /tekton/results/<name> (the real Tekton result).
 */
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { formatReference, parseReference, REFERENCE_MAX_LENGTH, type Reference } from '../src/core/reference.js';
import { TlrError } from '../src/errors.js';
import { writeFileAtomic } from './atomic-write.js';
import { moveClassicValue, readSmall } from './classic-value.js';
import { hasByteAt, hashHandle, type Digest } from './hash-file.js';
import { logInfo, type Logger } from './log.js';
import { isNoSpace, podVolumeFull } from './no-space.js';
import { notProducedNotice, refusedNotice } from './seal-notice.js';
import {
  checkSegment,
  lstatBelowRoot,
  lstatOrUndefined,
  openChecked,
  requireInside,
  requireSingleRegularFile,
  splitProducerDir,
} from './safe-path.js';
import { locate, type View } from './volume-view.js';
import { CopyTaker, type CopyRoom } from './seal-copy.js';
import { copyName, type CopyKind } from '../src/core/copies.js';
import type { ResultShape } from '../src/core/structured.js';
import { StructuredReader } from '../src/core/structured-json.js';

export interface SealOptions {
  /** Mount path of the result volume, e.g. /tlr/results. */
  readonly root: string;
  /** `<runDir>/<producer>` on the volume. */
  readonly dir: string;
  /** What is mounted at root: the volume's root (default) or the run's directory (src/core/layout.ts). */
  readonly view?: View;
  /** Tekton's results directory, /tekton/results. */
  readonly resultsDir: string;
  /** Largest accepted value, in bytes (config key maxResultSize). */
  readonly maxSize: number;
  /** Where "Sealed result" lines go; stdout JSON lines by default. */
  readonly log?: Logger;
  /** Results declared `object` or `array` (`--shapes`): their JSON is checked against the declaration. */
  readonly shapes?: ReadonlyMap<string, ResultShape>;
  /**
   * Results also published verbatim as the classic result `tlr-copy-<name>` (`--copies`, src/core/copies.ts), each at
   * most `maxSize` bytes as Tekton encodes it (`--max-copy`, config key maxCopySize).
   */
  readonly copies?: {
    readonly names: ReadonlySet<string>;
    readonly escaped?: ReadonlySet<string>;
    readonly maxSize: number;
    /**
     * What the copies' values may take together, as Tekton encodes them (`--copy-room`: the seal step's termination
     * message beside the references, computed at admission); counted down as copies are taken. Unset: not checked.
     */
    readonly room?: CopyRoom;
  };
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

/**
 * Seals one result; throws a TlrError when it is refused. Whatever a step left in /tekton/results/<name> is a value
 * (never taken as a reference): moved onto the volume when the volume file is missing, refused when both exist.
 * A result that is not sealed (not produced, or refused) gets a notice in /tekton/results/<name> (seal-notice.ts):
 * Tekton would otherwise publish what an earlier step left there.
 */
export async function sealResult(name: string, options: SealOptions): Promise<SealOutcome> {
  checkSegment(name, 'result name');
  const classicPath = join(options.resultsDir, name);
  // A copy not written (its value refused, or not produced) holds the same notice: never what a step left there.
  const copyPaths = copyKindsOf(name, options).map((kind) => join(options.resultsDir, copyName(name, kind)));
  let outcome: SealOutcome;
  try {
    outcome = await sealChecked(name, options, classicPath, await lstatOrUndefined(classicPath));
  } catch (error) {
    const noted = await writeNotice(classicPath, refusedNotice(name));
    for (const copyPath of copyPaths) await writeNotice(copyPath, refusedNotice(name));
    if (!(error instanceof TlrError)) throw error;
    throw new TlrError(error.code, `${error.message}${noted}`, { cause: error });
  }
  if (outcome.status !== 'missing') return outcome;
  for (const copyPath of copyPaths) await writeNotice(copyPath, notProducedNotice(name));
  return { ...outcome, message: `${outcome.message}${await writeNotice(classicPath, notProducedNotice(name))}` };
}

/** Replaces /tekton/results/<name> by a notice; returns what to add to the message (how it went). */
async function writeNotice(classicPath: string, notice: string): Promise<string> {
  try {
    await writeFileAtomic(classicPath, notice);
    return `; ${classicPath} holds a notice instead of a reference`;
  } catch (error) {
    return `; ${classicPath} could not be replaced by a notice (${(error as Error).message}), so Tekton may publish what a step left there`;
  }
}

async function sealChecked(name: string, options: SealOptions, classicPath: string, classic: Stats | undefined): Promise<SealOutcome> {
  const log = options.log ?? logInfo;
  const { runDir } = splitProducerDir(options.dir);
  const relPath = `${options.dir}/${name}`;
  const { base, rel, path, runDirPath } = locate({ root: options.root, runDir, view: options.view }, relPath);
  const subject = `Result "${name}"`;
  let stats = await lstatBelowRoot(base, rel, subject);
  /** When both files exist: the reference the classic file holds (seal already ran on this very file), or a refusal. */
  let earlier: Reference | undefined;
  if (stats === undefined && classic !== undefined) {
    await moveClassicValue(classicPath, classic, path, subject, options.maxSize);
    log('Moved result value onto the result volume', { result: name, from: classicPath, to: path });
    stats = await lstatBelowRoot(base, rel, subject);
  } else if (stats !== undefined && classic !== undefined) {
    earlier = await earlierSeal(name, { path, relPath, stats }, { path: classicPath, stats: classic });
  }
  if (stats === undefined) {
    const message =
      `Result "${name}" was not produced: ${path} does not exist; its consumers will fail in their tlr-substitute ` +
      'init container, saying so';
    return { name, status: 'missing', message };
  }
  await requireSingleRegularFile(path, stats, subject);
  await requireInside(path, runDirPath, subject);
  requireWithinLimit(name, stats.size, options.maxSize);
  const checkEarlier = (sha256: string): void => {
    if (earlier !== undefined && earlier.sha256 !== sha256) throw writtenTwice(name, { path, stats }, { path: classicPath, stats: classic! });
  };
  return publish(name, options, { path, relPath, stats }, checkEarlier);
}

/** The copies of result `name` the seal step publishes (`--copies`, `--escaped-copies`). */
function copyKindsOf(name: string, options: SealOptions): CopyKind[] {
  const kinds: CopyKind[] = [];
  if (options.copies?.names.has(name) === true) kinds.push('plain');
  if (options.copies?.escaped?.has(name) === true) kinds.push('escaped');
  return kinds;
}

/** Hashes the checked value file (taking its copy as it goes, when one is asked for) and writes its reference. */
async function publish(name: string, options: SealOptions, file: Found & { relPath: string }, checkEarlier: (sha256: string) => void): Promise<SealOutcome> {
  const kinds = copyKindsOf(name, options);
  const copy = kinds.length > 0 && options.copies !== undefined ? new CopyTaker(name, options.copies.maxSize, file.stats.size) : undefined;
  const { sha256, bytes } = await hashStable(file.path, file.stats, name, options.maxSize, options.shapes?.get(name), copy);
  checkEarlier(sha256);
  // The copies are the very bytes hashed: checked before anything is written, written before the reference.
  const copies = kinds.map((kind) => ({ name: copyName(name, kind), bytes: copy?.value(kind, options.copies?.room) ?? Buffer.alloc(0) }));
  const reference = formatReference({ sha256, size: bytes, path: file.relPath });
  const target = join(options.resultsDir, name);
  try {
    for (const c of copies) await writeFileAtomic(join(options.resultsDir, c.name), c.bytes);
    await writeFileAtomic(target, reference);
  } catch (error) {
    throw isNoSpace(error) ? podVolumeFull(target, error) : error;
  }
  (options.log ?? logInfo)('Sealed result', { result: name, path: file.relPath, bytes, sha256, ...(copies.length > 0 ? { copies: copies.map((c) => c.name).join(',') } : {}) });
  return { name, status: 'sealed', reference, bytes };
}

interface Found {
  readonly path: string;
  readonly stats: Stats;
}

/**
 * Both the volume file and /tekton/results/<name> exist. Allowed only when the latter is the very reference seal
 * would write for the former (seal ran before); anything else means a value went to two places, and sealing either
 * would publish the wrong one.
 */
async function earlierSeal(name: string, volume: Found & { relPath: string }, classic: Found): Promise<Reference> {
  const text = await readSmall(classic.path, classic.stats, `Result "${name}"`, REFERENCE_MAX_LENGTH + 64);
  let reference: Reference | undefined;
  try {
    reference = text === undefined ? undefined : parseReference(text);
  } catch {
    reference = undefined; // a reference-shaped text with an unsafe path: not seal's
  }
  if (reference?.path !== volume.relPath || reference.size !== volume.stats.size) throw writtenTwice(name, volume, classic);
  return reference;
}

function writtenTwice(name: string, volume: Found, classic: Found): TlrError {
  return new TlrError(
    'E_RESULT_UNSAFE',
    `Result "${name}" was written twice: to ${volume.path} on the result volume (${volume.stats.size} bytes) and the ` +
      `classic way to ${classic.path} (${classic.stats.size} bytes); expected only the file on the volume. Refused, ` +
      'so that neither a stale file nor a value meant for the other place is published. Write the value only to ' +
      `$(results.${name}.path); a path passed on through a param, or written by hand, still names ${classic.path}`,
  );
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
async function hashStable(path: string, checked: Stats, name: string, maxSize: number, shape?: ResultShape, copy?: CopyTaker): Promise<Digest> {
  const subject = `Result "${name}"`;
  const handle = await openChecked(path, checked, subject);
  try {
    const before = await handle.stat();
    requireWithinLimit(name, before.size, maxSize);
    // A structured result is checked in the same pass, so what is checked is what is hashed.
    const reader = shape === undefined || shape.type === 'string'
      ? undefined
      : new StructuredReader({ type: shape.type, subject: `Result "${name}" (${path})`, properties: shape.properties ?? [], checkKeys: true });
    copy?.checkSize(before.size);
    const onChunk = reader === undefined && copy === undefined ? undefined : (chunk: Buffer): void => {
      reader?.push(chunk);
      copy?.push(chunk);
    };
    const digest = await hashHandle(handle, before.size, onChunk);
    const after = await handle.stat();
    const grew = await hasByteAt(handle, before.size);
    if (grew || after.size !== before.size || digest.bytes !== before.size || after.mtimeMs !== before.mtimeMs) {
      throw new TlrError(
        'E_RESULT_UNSAFE',
        `${subject}: ${path} changed while it was being sealed: expected ${before.size} bytes throughout, found ` +
          `${digest.bytes} bytes read and ${after.size} bytes after; make sure nothing (a sidecar, a background ` +
          "process) still writes to it when the task's steps end",
      );
    }
    reader?.end();
    return digest;
  } finally {
    await handle.close();
  }
}
