/**
 * Typos in what says which object is which and whether it opts in: an apiVersion of Tekton's group that Tekton does
 * not serve (`tekton.dev/v2`), and annotation or label keys under our prefix that we do not define
 * (`tlr.dev/result-workspaces`), or keys one or two edits from ours (`tlr.dev/result_workspace`, `tlr.io/…`). Each
 * would otherwise make the object pass as "not ours" and run as plain Tekton; refused with the key found and the
 * keys that exist.
 */
import {
  ANNOTATION_ORIGINAL_REFS,
  ANNOTATION_PIPELINE_RESULT_ELEMENTS,
  ANNOTATION_REFERENCE_RESULTS,
  ANNOTATION_RESULT_VOLUME,
  ANNOTATION_RESULT_WORKSPACE,
  ANNOTATION_REWRITTEN,
  LABEL_CONSUMER,
  LABEL_OPTED_IN,
  LABEL_PRODUCER,
  PREFIX,
} from '../api/names.js';
import { TEKTON_API_VERSIONS, type KubeObject } from '../api/tekton.js';
import type { Diagnostics } from './diagnostics.js';
import { childPath } from './json-walk.js';
import { isNear, list } from './name-typos.js';

/** The kinds `tlr` rewrites or converts. */
const TEKTON_KINDS = new Set(['PipelineRun', 'TaskRun', 'Pipeline', 'Task']);

/** The apiVersion of an object claiming Tekton's group must be one Tekton serves. */
export function checkTektonApiVersion(object: KubeObject, diags: Diagnostics): void {
  const apiVersion: unknown = object.apiVersion;
  if (typeof apiVersion !== 'string' || (TEKTON_API_VERSIONS as readonly string[]).includes(apiVersion)) return;
  const group = apiVersion.split('/')[0] ?? '';
  if (!TEKTON_KINDS.has(object.kind) || !(group === 'tekton.dev' || isNear('tekton.dev', group))) return;
  diags.error(
    'apiVersion',
    `expected one of ${TEKTON_API_VERSIONS.map((v) => `"${v}"`).join(', ')} (the versions Tekton v1.15.0 serves), found "${apiVersion}"`,
  );
}

/** Annotation keys a user writes, and those the rewrite adds (a rewritten object carries them; not suggested). */
const ANNOTATIONS = [ANNOTATION_RESULT_WORKSPACE, ANNOTATION_REFERENCE_RESULTS];
const OUR_ANNOTATIONS = [ANNOTATION_REWRITTEN, ANNOTATION_ORIGINAL_REFS, ANNOTATION_RESULT_VOLUME, ANNOTATION_PIPELINE_RESULT_ELEMENTS];
const LABELS = [LABEL_CONSUMER, LABEL_PRODUCER, LABEL_OPTED_IN];

/** Checks the annotation and label keys of `meta` (at field path `path`). */
export function checkMetadataKeys(meta: unknown, path: string, diags: Diagnostics): void {
  if (typeof meta !== 'object' || meta === null) return;
  const { annotations, labels } = meta as { annotations?: unknown; labels?: unknown };
  checkKeys(annotations, childPath(path, 'annotations'), 'annotation', ANNOTATIONS, OUR_ANNOTATIONS, diags);
  checkKeys(labels, childPath(path, 'labels'), 'label', LABELS, [], diags);
}

function checkKeys(map: unknown, path: string, what: string, known: readonly string[], ours: readonly string[], diags: Diagnostics): void {
  if (typeof map !== 'object' || map === null || Array.isArray(map)) return;
  for (const key of Object.keys(map)) {
    if (known.includes(key) || ours.includes(key)) continue;
    const prefixed = key.startsWith(`${PREFIX}/`);
    if (!prefixed && !known.some((k) => isNear(k, key))) continue;
    diags.error(
      childPath(path, key),
      `${what} "${key}" is not one Tekton Large Results defines${prefixed ? '' : ' (it is close to one that is)'}, so it would be ` +
        `ignored; expected one of ${list(known, key)}`,
      'key',
    );
  }
}
