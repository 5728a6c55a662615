/**
 * What a producer's seal step puts in its container's termination message, and whether it fits.
 *
 * Tekton's entrypoint, after each step, writes every result file it finds in /tekton/results into the container's
 * termination message (pkg/entrypoint/entrypointer.go readResultsFromDisk): the seal step's message holds the
 * reference of every result the task stores by reference, as JSON (`[{"key":"StartedAt","value":"…","type":3},
 * {"key":"<name>","value":"<reference>","type":1},…]`, pkg/result RunResult), and Tekton fails the step when it is
 * over 4096 bytes (pkg/termination/write.go MaxContainerTerminationMessageLength). The kubelet keeps less: 12288
 * bytes of termination messages per pod, split evenly among all its containers, init containers included, and it
 * cuts each message at its share (pkg/kubelet/status/status_manager.go normalizeStatus). Tekton cannot parse a cut
 * message and drops every result in it, and the TaskRun still succeeds (pkg/pod/status.go). So a pod of five
 * containers passes 2457 bytes per container, and the rewrite computes both the message and the pod's containers:
 * the reference's length is known but for its size digits (at most those of maxResultSize) and the run's uid (36);
 * the containers are the steps and sidecars, Tekton's init containers (prepare; place-scripts when a step or sidecar
 * has a script; working-dir-initializer when a step's workingDir is relative or under /workspace, pkg/pod/pod.go)
 * and our tlr-substitute init container in a consumer's pod.
 * With `enable-termination-message-compression` Tekton compresses the message (flate, base64): estimated here the
 * same way, since the bytes of Go's flate and zlib's differ slightly. With `results-from: sidecar-logs` there is no
 * such limit.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { LABEL_CONSUMER } from '../api/names.js';
import type { EmbeddedTask, Step } from '../api/tekton.js';
import type { FeatureFlags } from './feature-flags.js';
import { formatReference } from './reference.js';

/** Tekton's limit on one container's termination message. */
export const TERMINATION_MESSAGE_BYTES = 4096;
/** The kubelet's budget for the termination messages of all a pod's containers (MaxPodTerminationMessageLogLength). */
export const POD_TERMINATION_MESSAGE_BYTES = 12 * 1024;
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
export function sealMessageBytes(
  producer: string,
  results: readonly string[],
  maxResultSize: number,
  flags: FeatureFlags,
  copies: readonly string[] = [],
): TerminationEstimate | undefined {
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
  // A copy (src/core/copies.ts, named by its result name) is counted empty: its value takes what room is left, which
  // the seal step checks when it knows the values (its --copy-room).
  for (const name of copies) entries.push({ key: name, value: '', type: 1 });
  const json = Buffer.from(JSON.stringify(entries));
  if (!flags.terminationMessageCompression) return { bytes: json.length, compressed: false, referenceBytes };
  const compressed = 'tknz:'.length + Math.ceil((deflateRawSync(json, { level: 9 }).length * 4) / 3);
  return { bytes: Math.min(compressed, json.length), compressed: true, referenceBytes };
}

/** The containers of the pod Tekton makes for a task, by kind. */
export interface PodContainers {
  readonly steps: number;
  readonly sidecars: number;
  /** Tekton's (prepare, place-scripts, working-dir-initializer) and ours (tlr-substitute). */
  readonly init: number;
  readonly total: number;
}

/**
 * The containers of the pod Tekton makes for `spec` (its steps as they will run: a stepTemplate's workingDir applies to
 * every step). A workingDir Tekton substitutes (`$(…)`) counts as one under /workspace, the larger pod: the smaller
 * budget is the safe one. `substitute`: the pod gets our tlr-substitute init container (a consumer's pod).
 */
export function podContainers(spec: EmbeddedTask, substitute = spec.metadata?.labels?.[LABEL_CONSUMER] !== undefined): PodContainers {
  const steps = Array.isArray(spec.steps) ? spec.steps : [];
  const sidecars = Array.isArray(spec.sidecars) ? spec.sidecars : [];
  const hasScript = (s: Step | null | undefined): boolean => typeof s?.script === 'string' && s.script !== '';
  const templateDir = spec.stepTemplate?.['workingDir'];
  const initsDir = steps.some((s) => {
    const dir = typeof s?.workingDir === 'string' && s.workingDir !== '' ? s.workingDir : templateDir;
    if (typeof dir !== 'string' || dir === '') return false;
    return dir.includes('$(') || !dir.startsWith('/') || posix.normalize(dir).startsWith('/workspace/');
  });
  const init = 1 + (steps.some(hasScript) || sidecars.some(hasScript) ? 1 : 0) + (initsDir ? 1 : 0) + (substitute ? 1 : 0);
  return { steps: steps.length, sidecars: sidecars.length, init, total: steps.length + sidecars.length + init };
}

/** What the kubelet keeps of one container's termination message in a pod of `containers`, and Tekton takes. */
export function containerMessageBudget(containers: number): number {
  return Math.min(TERMINATION_MESSAGE_BYTES, Math.floor(POD_TERMINATION_MESSAGE_BYTES / Math.max(1, containers)));
}

/** `3 steps, 1 sidecar and 2 init containers`, for messages. */
export function describeContainers(pod: PodContainers): string {
  const count = (n: number, one: string): string => `${n} ${one}${n === 1 ? '' : 's'}`;
  const parts = [count(pod.steps, 'step'), ...(pod.sidecars > 0 ? [count(pod.sidecars, 'sidecar')] : []), count(pod.init, 'init container')];
  return `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
}
