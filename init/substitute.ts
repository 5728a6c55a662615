/**
 * Substitution, in the consumer pod's init container: every reference token in Tekton's scripts is replaced by the
 * verified bytes of the result file it names (write a new file next to the script, then rename it into place, with
 * the script's mode), and every reference the consumer uses by path (`--refs`) is verified too.
 */
import { constants, createWriteStream, type Stats } from 'node:fs';
import { chmod, chown, lstat, open, readdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { TlrError } from '../src/errors.js';
import { tempPathFor } from './atomic-write.js';
import { CHUNK_SIZE, readChunks } from './hash-file.js';
import { logInfo, type Logger } from './log.js';
import { isNoSpace, podVolumeFull } from './no-space.js';
import { parseRefsText } from './refs-text.js';
import { describeKind } from './safe-path.js';
import { substituteStream, type ReferenceOpener } from './stream-substitute.js';
import { OPENING } from './token-matcher.js';
import { openVerifiedResult, verifyResult, type ResultVolume } from './verified-result.js';

/** Creates the writable for a new script at `path` (a file that does not exist yet). Injectable for tests. */
export type OutputFactory = (path: string) => Writable;

export interface SubstituteOptions extends ResultVolume {
  /** Tekton's scripts directory, /tekton/scripts. */
  readonly scriptsDir: string;
  /** References used by path (`--refs`, env TLR_REFS): verified even when no script names them. */
  readonly refs?: string;
  readonly log?: Logger;
  readonly createOutput?: OutputFactory;
}

export interface SubstituteReport {
  /** Scripts rewritten, with their number of substitutions. */
  readonly scripts: ReadonlyArray<{ readonly script: string; readonly substitutions: number }>;
  /** Reference paths verified (by substitution or on their own). */
  readonly verified: readonly string[];
}

const SCRIPT_CHUNK = 64 * 1024;

export function defaultOutput(path: string): Writable {
  return createWriteStream(path, { flags: 'wx', mode: 0o600, highWaterMark: CHUNK_SIZE });
}

/** Substitutes every script, then verifies the remaining `--refs`. Throws a TlrError on the first refusal. */
export async function substituteScripts(options: SubstituteOptions): Promise<SubstituteReport> {
  const log = options.log ?? logInfo;
  const refs = parseRefsText(options.refs ?? '');
  const verified = new Map<string, string>();
  const scripts: Array<{ script: string; substitutions: number }> = [];
  for (const name of (await readdir(options.scriptsDir)).sort()) {
    const script = join(options.scriptsDir, name);
    const stats = await lstat(script);
    if (!stats.isFile()) {
      throw new TlrError(
        'E_RESULT_UNSAFE',
        `Script ${script} is a ${describeKind(stats)}, expected a regular file (Tekton writes scripts as files); ` +
          'refusing to substitute through it',
      );
    }
    if (!(await containsOpening(script))) continue;
    const open: ReferenceOpener = (reference, token) =>
      openVerifiedResult(reference, options, (path, digest) => {
        verified.set(token, reference.path);
        const { bytes, sha256 } = digest;
        log('Substituted result', { script, path: reference.path, file: path, bytes, sha256 });
      });
    const substitutions = await substituteScript(script, stats, open, options.createOutput ?? defaultOutput);
    if (substitutions > 0) scripts.push({ script, substitutions });
  }
  for (const { reference, token } of refs) {
    if (verified.has(token)) continue;
    const digest = await verifyResult(reference, options);
    verified.set(token, reference.path);
    log('Verified result', { path: reference.path, file: digest.path, bytes: digest.bytes, sha256: digest.sha256 });
  }
  return { scripts, verified: [...new Set(verified.values())] };
}

/**
 * Rewrites one script through a temp file; the original stays intact unless everything succeeded. A script in
 * which nothing was substituted is left untouched. Returns the number of substitutions.
 */
export async function substituteScript(
  script: string,
  stats: Stats,
  openReference: ReferenceOpener,
  createOutput: OutputFactory = defaultOutput,
): Promise<number> {
  const temp = tempPathFor(script);
  const input = await open(script, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const output = createOutput(temp);
    const chunks = readChunks(input, { chunkSize: SCRIPT_CHUNK });
    const { substitutions } = await substituteStream(chunks, output, openReference, `Script ${script}`);
    if (substitutions === 0) {
      await unlink(temp);
      return 0;
    }
    await chmod(temp, stats.mode & 0o7777);
    await keepOwner(temp, stats);
    await rename(temp, script);
    return substitutions;
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw isNoSpace(error)
      ? podVolumeFull(script, error, 'a script with results substituted is as large as those results, so ')
      : error;
  } finally {
    await input.close();
  }
}

/** Gives the new script the original's owner when we run as another user (root); best effort. */
async function keepOwner(path: string, stats: Stats): Promise<void> {
  if (process.getuid?.() === stats.uid && process.getgid?.() === stats.gid) return;
  await chown(path, stats.uid, stats.gid).catch(() => undefined);
}

/** Whether the file contains `[[tlr:` anywhere (read in chunks, keeping a few bytes across boundaries). */
async function containsOpening(path: string): Promise<boolean> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    let tail = Buffer.alloc(0);
    for await (const chunk of readChunks(handle, { chunkSize: SCRIPT_CHUNK, ring: 2 })) {
      const data = tail.length === 0 ? chunk : Buffer.concat([tail, chunk]);
      if (data.indexOf(OPENING) !== -1) return true;
      tail = Buffer.from(data.subarray(Math.max(0, data.length - OPENING.length + 1)));
    }
    return false;
  } finally {
    await handle.close();
  }
}
