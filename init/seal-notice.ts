/**
 * What `tlr-seal` writes as a result's value when it did not seal that result (not produced, or refused). Tekton
 * publishes, for each result, what the *last* step's entrypoint found in /tekton/results/<name>, but keeps what an
 * earlier step found when a later one finds nothing: a step that writes a hand-made `[[tlr:…]]` there and a later
 * step that deletes it would still publish it. So seal always writes something: its reference, or this notice. A
 * notice is no reference: every consumer (and `tlr fetch`) refuses it with a message that points at the seal step.
 */
import { SEAL_NOTICE_PREFIX } from '../src/api/names.js';

export const NOTICE_PREFIX = SEAL_NOTICE_PREFIX;

export function notProducedNotice(name: string): string {
  return `${NOTICE_PREFIX}result "${name}" was not produced (see the log of the tlr-seal step of the producing task)`;
}

export function refusedNotice(name: string): string {
  return `${NOTICE_PREFIX}result "${name}" was refused (see the log of the tlr-seal step of the producing task)`;
}
