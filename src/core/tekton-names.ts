/**
 * Names checked as Tekton v1.15.0 checks them (pkg/apis/pipeline/v1), so a name Tekton would refuse is refused by the
 * rewrite too, with Tekton's rule in the message, before it becomes a path on the result volume:
 *  - pipeline task names: DNS-1123 labels (`PipelineTask.ValidateName`), unique across `tasks` and `finally`
 *    (`PipelineTaskList.Validate`);
 *  - result names: `ResultNameFormat` = `^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$` (resultref.go,
 *    `TaskResult.Validate`); plus, for results stored by reference, at most MAX_RESULT_NAME_BYTES (a file name);
 *  - param names: `stringAndArrayVariableNameFormat` = `^[_a-zA-Z][_a-zA-Z0-9.-]*$`, and for object params
 *    `objectVariableNameFormat` = `^[_a-zA-Z][_a-zA-Z0-9-]*$` (task_validation.go, `ValidateNameFormat`), unique
 *    (`ParamSpecs.ValidateNoDuplicateNames`);
 *  - workspace declarations: non-empty and unique (`validatePipelineWorkspacesDeclarations`,
 *    `validateDeclaredWorkspaces`).
 */
import type { PipelineSpec, TaskSpec } from '../api/tekton.js';
import type { Diagnostics } from './diagnostics.js';
import { childPath } from './json-walk.js';
import { MAX_RESULT_NAME_BYTES } from './limits.js';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const RESULT_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const PARAM_NAME = /^[_a-zA-Z][_a-zA-Z0-9.-]*$/;
const OBJECT_PARAM_NAME = /^[_a-zA-Z][_a-zA-Z0-9-]*$/;

/** A name as a message shows it: quoted, and cut when long. */
export function quoteName(name: unknown): string {
  const text = typeof name === 'string' ? name : String(name);
  return text.length > 64 ? `${JSON.stringify(text.slice(0, 60))}... (${Buffer.byteLength(text)} bytes)` : JSON.stringify(text);
}

/** Pipeline task names, params and workspaces of a pipeline spec at `path`. */
export function checkPipelineSpecNames(spec: PipelineSpec, path: string, diags: Diagnostics): void {
  const seen = new Map<string, { list: string; index: number }>();
  for (const list of ['tasks', 'finally'] as const) {
    (spec[list] ?? []).forEach((pt, index) => {
      const name = pt.name;
      const at = (): string => childPath(childPath(childPath(path, list), index), 'name'); // spelled out for messages only
      if (typeof name !== 'string' || name.length > 63 || !DNS1123_LABEL.test(name)) {
        diags.error(at(), `expected a pipeline task name that is a DNS-1123 label (at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit), as Tekton requires; found ${name === undefined ? 'none' : quoteName(name)}`);
        return;
      }
      const first = seen.get(name);
      if (first === undefined) seen.set(name, { list, index });
      else diags.error(at(), `expected pipeline task names to be unique across tasks and finally, as Tekton requires; found "${name}" again (first at ${childPath(childPath(path, first.list), first.index)})`);
    });
  }
  checkParamNames(spec.params, childPath(path, 'params'), diags);
  checkWorkspaceNames(spec.workspaces, childPath(path, 'workspaces'), diags);
}

/**
 * Result, param and workspace names of a task spec at `path`; `references` are its results stored by reference,
 * whose names also name files.
 */
export function checkTaskSpecNames(spec: TaskSpec, path: string, references: ReadonlySet<string>, diags: Diagnostics): void {
  (spec.results ?? []).forEach((result, i) => {
    const at = (): string => childPath(childPath(childPath(path, 'results'), i), 'name');
    const name = result.name;
    if (typeof name !== 'string' || !RESULT_NAME.test(name)) {
      diags.error(at(), `expected a result name of letters, digits, '-', '_' and '.', starting and ending with a letter or digit (Tekton's ${RESULT_NAME.source}); found ${name === undefined ? 'none' : quoteName(name)}`);
    } else if (references.has(name) && Buffer.byteLength(name) > MAX_RESULT_NAME_BYTES) {
      diags.error(at(), `result ${quoteName(name)} is stored by reference, so its name is a file name: expected at most ${MAX_RESULT_NAME_BYTES} bytes, found ${Buffer.byteLength(name)}`);
    }
  });
  checkParamNames(spec.params, childPath(path, 'params'), diags);
  checkWorkspaceNames(spec.workspaces, childPath(path, 'workspaces'), diags);
}

function checkParamNames(params: ReadonlyArray<{ name: string; type?: string }> | undefined, path: string, diags: Diagnostics): void {
  const seen = new Set<string>();
  (params ?? []).forEach((param, i) => {
    const at = (): string => childPath(childPath(path, i), 'name');
    const name = param.name;
    const isObject = param.type === 'object';
    const format = isObject ? OBJECT_PARAM_NAME : PARAM_NAME;
    if (typeof name !== 'string' || !format.test(name)) {
      const rule = isObject ? "letters, digits, '_' and '-'" : "letters, digits, '_', '-' and '.'";
      diags.error(at(), `expected a param name of ${rule}, starting with a letter or '_' (Tekton's ${format.source}); found ${name === undefined ? 'none' : quoteName(name)}`);
      return;
    }
    if (seen.has(name)) diags.error(at(), `expected param names to be unique, as Tekton requires; found "${name}" again`);
    seen.add(name);
  });
}

function checkWorkspaceNames(workspaces: ReadonlyArray<{ name: string }> | undefined, path: string, diags: Diagnostics): void {
  const seen = new Set<string>();
  (workspaces ?? []).forEach((ws, i) => {
    const at = (): string => childPath(childPath(path, i), 'name');
    if (typeof ws.name !== 'string' || ws.name === '') {
      diags.error(at(), `expected a workspace name, as Tekton requires; found ${ws.name === undefined ? 'none' : quoteName(ws.name)}`);
      return;
    }
    if (seen.has(ws.name)) diags.error(at(), `expected workspace names to be unique, as Tekton requires; found ${quoteName(ws.name)} again`);
    seen.add(ws.name);
  });
}
