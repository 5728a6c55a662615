/**
 * What a producer's seal step puts in its container's termination message, and whether it fits.
 *
 * Tekton's entrypoint, after each step, writes every result file it finds in /tekton/results into the container's
 * termination message (pkg/entrypoint/entrypointer.go readResultsFromDisk): the seal step's message holds the
 * reference of every result the task stores by reference, as JSON (`[{"key":"StartedAt","value":"…","type":3},
 * {"key":"<name>","value":"<reference>","type":1},…]`, pkg/result RunResult), and Tekton fails the step when it is
 * over 4096 bytes (pkg/termination/write.go MaxContainerTerminationMessageLength). So the rewrite computes it: the
 * reference's length is known but for its size digits (at most those of maxResultSize) and the run's uid (36).
 * With `enable-termination-message-compression` Tekton compresses the message (flate, base64): estimated here the
 * same way, since the bytes of Go's flate and zlib's differ slightly. With `results-from: sidecar-logs` there is no
 * such limit.
 */
import { createHash } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import type { FeatureFlags } from './feature-flags.js';
import { formatReference } from './reference.js';

/** Tekton's limit on one container's termination message. */
export const TERMINATION_MESSAGE_BYTES = 4096;
/** A Kubernetes uid, the run directory's name at run time. */
const UID_LENGTH = 36;
/** `StartedAt`'s value, Go's "2006-01-02T15:04:05.000Z07:00" with a zone offset (the longest form). */
const STARTED_AT = '2026-12-02T08:00:00.000+00:00';

export interface TerminationEstimate {
  /** Bytes of the message (exact uncompressed; estimated compressed). */
  readonly bytes: number;
  readonly compressed: boolean;
  /** Bytes of one reference at most, for messages. */
  readonly referenceBytes: number;
}

/**
 * The seal step's termination message for `results` of `producer` (references as long as they can be), or undefined
 * when Tekton does not carry results in termination messages.
 */
export function sealMessageBytes(producer: string, results: readonly string[], maxResultSize: number, flags: FeatureFlags): TerminationEstimate | undefined {
  if (flags.resultsFrom === 'sidecar-logs') return undefined;
  const size = Number(`9${'9'.repeat(String(maxResultSize).length - 1)}`);
  const entries = [{ key: 'StartedAt', value: STARTED_AT, type: 3 }];
  let referenceBytes = 0;
  for (const name of results) {
    // A digest stand-in as random as a real one (compression sees hex of the same entropy).
    const sha256 = createHash('sha256').update(`${producer}/${name}`).digest('hex');
    const value = formatReference({ sha256, size, path: `${'0'.repeat(UID_LENGTH)}/${producer}/${name}` });
    referenceBytes = Math.max(referenceBytes, value.length);
    entries.push({ key: name, value, type: 1 });
  }
  const json = Buffer.from(JSON.stringify(entries));
  if (!flags.terminationMessageCompression) return { bytes: json.length, compressed: false, referenceBytes };
  const compressed = 'tknz:'.length + Math.ceil((deflateRawSync(json, { level: 9 }).length * 4) / 3);
  return { bytes: Math.min(compressed, json.length), compressed: true, referenceBytes };
}
