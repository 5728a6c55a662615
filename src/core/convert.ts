import { ANNOTATION_REFERENCE_RESULTS, ANNOTATION_RESULT_WORKSPACE } from '../api/names.js';
import type {
  EmbeddedTask,
  KubeObject,
  ObjectMeta,
  PipelineSpec,
  PipelineTask,
  TaskSpec,
} from '../api/tekton.js';
import { isNear, list } from './name-typos.js';
import { checkMetadataKeys } from './object-keys.js';
import { childPath, clone } from './json-walk.js';
import type { Diagnostics } from './diagnostics.js';
import { referenceResultNames, splitNames } from './opt-in.js';

/**
 * TEP-0086 form -> canonical form. Tekton's structural schemas prune, and its webhook rejects, the TEP fields
 * (`resultWorkspace`, `storage: reference`, `type: stringReference`), so they become annotations before anything is
 * stored. Pure: returns a converted copy and reports problems to `diags`.
 */
export function convertObject<T extends KubeObject>(object: T, diags: Diagnostics): T {
  const out = clone(object);
  checkMetadataKeys(out.metadata, 'metadata', diags);
  const spec = out.spec;
  if (!spec) return out;
  switch (out.kind) {
    case 'Task':
      convertTaskSpec(spec, metadataOf(out), { meta: 'metadata', spec: 'spec' }, diags);
      break;
    case 'TaskRun':
      if (spec.taskSpec) {
        const paths = { meta: 'metadata', spec: 'spec.taskSpec' };
        convertTaskSpec(spec.taskSpec as TaskSpec, metadataOf(out), paths, diags);
      }
      break;
    case 'Pipeline':
      convertPipelineSpec(spec, metadataOf(out), 'spec', diags);
      break;
    case 'PipelineRun':
      if (spec.pipelineSpec) {
        convertPipelineSpec(spec.pipelineSpec as PipelineSpec, metadataOf(out), 'spec.pipelineSpec', diags);
      }
      break;
    default:
      break;
  }
  return out;
}

/** Converts a pipeline spec in place; the result workspace goes to `meta`'s annotations. */
export function convertPipelineSpec(spec: PipelineSpec, meta: ObjectMeta, path: string, diags: Diagnostics): void {
  if (spec.resultWorkspace !== undefined) {
    const field = childPath(path, 'resultWorkspace');
    const raw: unknown = spec.resultWorkspace;
    const name = typeof raw === 'string' ? raw : (raw as { name?: unknown } | null)?.name;
    if (typeof name !== 'string' || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) {
      diags.error(field, `expected {name: <workspace name>} naming a workspace of the pipeline, found ${JSON.stringify(raw)}`);
    } else {
      const existing = meta.annotations?.[ANNOTATION_RESULT_WORKSPACE];
      if (existing !== undefined && existing !== name) {
        diags.error(
          field,
          `names workspace "${name}" but annotation ${ANNOTATION_RESULT_WORKSPACE} names "${existing}"; keep one of them`,
        );
      }
      setAnnotation(meta, ANNOTATION_RESULT_WORKSPACE, name);
      checkResultWorkspaceName(name, spec, field, diags);
      if (!(spec.workspaces ?? []).some((w) => w.name === name)) {
        (spec.workspaces ??= []).push({ name, description: 'Holds results stored by reference (Tekton Large Results).' });
      }
    }
    delete spec.resultWorkspace;
  }
  (['tasks', 'finally'] as const).forEach((list) => {
    (spec[list] ?? []).forEach((pt: PipelineTask, i) => {
      if (!pt.taskSpec) return;
      const base = childPath(childPath(childPath(path, list), i), 'taskSpec');
      const taskSpec: EmbeddedTask = pt.taskSpec;
      const meta = taskSpec.metadata ?? {};
      checkMetadataKeys(taskSpec.metadata, childPath(base, 'metadata'), diags);
      convertTaskSpec(taskSpec, meta, { meta: childPath(base, 'metadata'), spec: base }, diags);
      if (taskSpec.metadata === undefined && meta.annotations !== undefined) taskSpec.metadata = meta;
    });
  });
}

/**
 * A result workspace the pipeline does not declare is declared by the rewrite, but one an edit or two from a
 * workspace it does declare is a typo (the pipeline would get a second, empty workspace): refused, naming both.
 */
export function checkResultWorkspaceName(name: string, spec: PipelineSpec, path: string, diags: Diagnostics): void {
  const declared = (Array.isArray(spec.workspaces) ? spec.workspaces : []).map((w) => w?.name).filter((n): n is string => typeof n === 'string');
  if (declared.includes(name) || !declared.some((d) => isNear(d, name))) return;
  diags.error(
    path,
    `names result workspace "${name}", which the pipeline does not declare, but it declares ${list(declared, name)}; expected ` +
      'the name of a declared workspace, or a name of its own (the rewrite declares it)',
  );
}

/** Converts a task spec in place: TEP result fields -> `tlr.dev/reference-results` on `meta`. */
export function convertTaskSpec(
  spec: TaskSpec,
  meta: Pick<ObjectMeta, 'annotations'>,
  paths: { meta: string; spec: string },
  diags: Diagnostics,
): void {
  const names = referenceResultNames(meta, spec.results, { meta: paths.meta, results: childPath(paths.spec, 'results') }, diags);
  let changed = false;
  for (const result of spec.results ?? []) {
    if (result.storage !== undefined) {
      delete result.storage;
      changed = true;
    }
    if (result.type === 'stringReference') {
      result.type = 'string';
      changed = true;
    }
  }
  const existing = new Set(splitNames(meta.annotations?.[ANNOTATION_REFERENCE_RESULTS]));
  if (changed || names.some((n) => !existing.has(n))) {
    setAnnotation(meta, ANNOTATION_REFERENCE_RESULTS, names.join(','));
  }
}

/** Objects without metadata are not Kubernetes objects; Tekton objects always have it, so this never adds a key. */
function metadataOf(object: KubeObject): ObjectMeta {
  return (object.metadata ??= {});
}

function setAnnotation(meta: Pick<ObjectMeta, 'annotations'>, key: string, value: string): void {
  meta.annotations = { ...(meta.annotations ?? {}), [key]: value };
}
