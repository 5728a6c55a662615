import { ANNOTATION_REFERENCE_RESULTS, ANNOTATION_RESULT_WORKSPACE } from '../api/names.js';
import type { ObjectMeta, TaskResult } from '../api/tekton.js';
import { childPath } from './json-walk.js';
import type { Diagnostics } from './diagnostics.js';
import { MAX_REFERENCE_RESULTS_PER_TASK } from './limits.js';
import { quoteName } from './tekton-names.js';

/** Splits an annotation list (`a, b c`) into names. */
export function splitNames(value: string | undefined): string[] {
  return (typeof value === 'string' ? value : '').split(/[\s,]+/).filter(Boolean);
}

/** The result workspace an object's annotations name, if any. */
export function annotatedResultWorkspace(meta: Pick<ObjectMeta, 'annotations'> | undefined): string | undefined {
  const raw: unknown = meta?.annotations?.[ANNOTATION_RESULT_WORKSPACE];
  const value = typeof raw === 'string' ? raw.trim() : '';
  return value === '' ? undefined : value;
}

/**
 * The names of a task's reference results, from the annotation (canonical form) and the TEP fields, checked against
 * its declared results. `metaPath`/`resultsPath` are where they live, for messages.
 */
export function referenceResultNames(
  meta: Pick<ObjectMeta, 'annotations'> | undefined,
  results: readonly TaskResult[] | undefined,
  paths: { meta: string; results: string },
  diags: Diagnostics,
): string[] {
  const declared = results ?? [];
  const names = new Set<string>();
  const annotated = splitNames(meta?.annotations?.[ANNOTATION_REFERENCE_RESULTS]);
  const declaredNames = annotated.length > 0 ? new Set(declared.map((r) => r.name)) : undefined;
  for (const name of annotated) {
    if (!declaredNames?.has(name)) {
      const annotationPath = childPath(childPath(paths.meta, 'annotations'), ANNOTATION_REFERENCE_RESULTS);
      diags.error(annotationPath, `result ${quoteName(name)} is not declared by the task; expected one of its results (${listNames(declared)}), found ${quoteName(name)}`);
      continue;
    }
    names.add(name);
  }
  declared.forEach((result, i) => {
    const path = childPath(paths.results, i);
    if (isTepReference(result, path, diags)) names.add(result.name);
    if (!names.has(result.name)) return;
    checkReferenceable(result, path, diags);
  });
  if (names.size > MAX_REFERENCE_RESULTS_PER_TASK) {
    diags.error(paths.results, `expected at most ${MAX_REFERENCE_RESULTS_PER_TASK} results stored by reference in one task, found ${names.size}; keep the others classic results, or split the task`);
  }
  return [...names];
}

/** The declared result names for a message: the first few, and how many more. */
function listNames(declared: readonly TaskResult[]): string {
  if (declared.length === 0) return 'none';
  const shown = declared.slice(0, 10).map((r) => r.name).join(', ');
  return declared.length > 10 ? `${shown} and ${declared.length - 10} more` : shown;
}

function isTepReference(result: TaskResult, path: string, diags: Diagnostics): boolean {
  if (result.type === 'stringReference') return true;
  if (result.storage === undefined || result.storage === null) return false;
  if (result.storage === 'reference') return true;
  diags.error(childPath(path, 'storage'), `expected "reference" (or no storage field), found ${quoteName(result.storage)}`);
  return false;
}

function checkReferenceable(result: TaskResult, path: string, diags: Diagnostics): void {
  const type = result.type ?? 'string';
  if (type === 'object') checkProperties(result, path, diags);
  else if (type !== 'string' && type !== 'stringReference' && type !== 'array') {
    diags.error(
      childPath(path, 'type'),
      `result "${result.name}" is stored by reference; expected type "string", "array" or "object", found "${String(type)}"`,
    );
  }
  if (result.value !== undefined && result.value !== null) {
    diags.error(
      childPath(path, 'value'),
      `result "${result.name}" is stored by reference, so its value must be written to $(results.${result.name}.path); ` +
        `found a value taken from step results, which Tekton carries in termination messages`,
    );
  }
}

/**
 * An object result's properties, as Tekton requires them (a map of names to `{type: string}`) and as its seal step
 * gets them: names Tekton substitutes nothing into (no `$(`), since they travel in the seal step's args.
 */
function checkProperties(result: TaskResult, path: string, diags: Diagnostics): void {
  const properties: unknown = result.properties;
  const at = childPath(path, 'properties');
  if (typeof properties !== 'object' || properties === null || Array.isArray(properties)) {
    diags.error(at, `result "${result.name}" is an object result; expected its properties (a map of property names to {type: string}), found ${properties === undefined ? 'none' : JSON.stringify(properties)}`);
    return;
  }
  for (const [name, spec] of Object.entries(properties as Record<string, unknown>)) {
    const type = (spec as { type?: unknown } | null)?.type;
    if (type !== undefined && type !== 'string') {
      diags.error(childPath(childPath(at, name), 'type'), `result "${result.name}": Tekton object results hold strings only; expected type "string", found ${JSON.stringify(type)}`);
    }
    if (name.includes('$(')) {
      diags.error(childPath(at, name), `result "${result.name}": a property name of a result stored by reference may not contain "$(" (it travels in the seal step's arguments, where Tekton substitutes variables); found ${quoteName(name)}`);
    }
  }
}
