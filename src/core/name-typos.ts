/**
 * Names that do not exist, in an opted-in pipeline: `$(tasks.<task>.results.<result>)` naming a pipeline task the
 * pipeline does not have or a result its task does not declare, and `$(results.<name>.path)` in a task that declares
 * no such result. Tekton refuses these too, some at admission and some only when the run gets there (a typo in the
 * last task fails the run an hour in); refused here with the name found and the names that exist. Literal
 * `/tekton/results/<file>` paths are left alone: a step may write other files there.
 */
import type { PipelineSpec, PipelineTask, TaskSpec } from '../api/tekton.js';
import type { Diagnostics } from './diagnostics.js';
import { childPath, forEachString } from './json-walk.js';
import { findTaskResultExpressions } from './variables.js';

/** What the check needs of each pipeline task: its name, where it is, and its task spec when known. */
export interface NamedTask {
  readonly pt: PipelineTask;
  readonly path: string;
  /** The task spec (embedded, or the resolved Task's); undefined when the Task is not known (a custom task, a child pipeline). */
  readonly spec?: TaskSpec;
  /** Where `spec` is, for messages. */
  readonly specPath?: string;
}

/**
 * The fields in which Tekton v1.15.0 puts task results, so the only ones where a name that does not exist is an
 * error. These are the pipeline task's own fields (`ApplyTaskResults`, pkg/reconciler/pipelinerun/resources/apply.go)
 * and its embedded spec's (`PropagateResults`, then `ApplyReplacements`, pkg/reconciler/taskrun/resources/apply.go).
 * Descriptions are left alone, and so is a child pipeline's spec, whose `$(tasks.…)` names its own tasks: the catalog's
 * rhacs-image-check describes a param with the example `$(params.IMAGE)@$(tasks.buildah.results.IMAGE_DIGEST)`.
 */
const RESOLVED_IN_PIPELINE_TASK = ['params', 'matrix', 'when', 'taskRef', 'displayName', 'workspaces'] as const;
const RESOLVED_IN_TASK_SPEC = ['steps', 'stepTemplate', 'sidecars', 'volumes'] as const;

const RESULT_VARIABLE = /\$\(results(?:\.([-A-Za-z0-9_.]+?)|\[(["'])([-A-Za-z0-9_.]+)\2\])\.path\)/g;

export function checkNames(spec: PipelineSpec, specPath: string, tasks: readonly NamedTask[], diags: Diagnostics): void {
  const byName = new Map(tasks.filter((t) => typeof t.pt.name === 'string').map((t) => [t.pt.name, t]));
  const declared = (t: NamedTask | undefined): string[] | undefined => (t?.spec === undefined ? undefined : namesOf(t.spec.results));
  const check = (value: unknown, path: string, who: string): void => {
    forEachString(value, path, (text, at) => {
      for (const e of findTaskResultExpressions(text)) {
        if (e.scope !== 'tasks') continue;
        const target = byName.get(e.task);
        if (target === undefined) {
          diags.error(at(), `${who}: ${e.text} names pipeline task "${e.task}", which this pipeline does not have; expected one of ${list([...byName.keys()], e.task)}`);
          continue;
        }
        const results = declared(target);
        if (results !== undefined && !results.includes(e.result)) {
          diags.error(at(), `${who}: ${e.text} names result "${e.result}", which the task of pipeline task "${e.task}" does not declare; expected one of ${list(results, e.result)}`);
        }
      }
    });
  };
  for (const t of tasks) {
    const who = `pipeline task "${t.pt.name}"`;
    for (const field of RESOLVED_IN_PIPELINE_TASK) check(t.pt[field], childPath(t.path, field), who);
    const taskSpec = t.pt.taskSpec;
    if (taskSpec) for (const field of RESOLVED_IN_TASK_SPEC) check(taskSpec[field], childPath(childPath(t.path, 'taskSpec'), field), who);
    if (t.spec !== undefined) checkResultPaths(t.spec, t.specPath ?? childPath(t.path, 'taskSpec'), who, diags);
  }
  checkParamNames(spec, specPath, tasks, diags);
  (Array.isArray(spec.results) ? spec.results : []).forEach((r, i) => check(r?.value, childPath(childPath(childPath(specPath, 'results'), i), 'value'), `pipeline result "${r.name}"`));
}

/** `$(params.<name>…)` and `$(params["<name>"]…)`: the name, then whatever selects in it (`.key`, `[*]`, `[0]`). */
const PARAM_VARIABLE = /\$\(params(?:\.([A-Za-z_][-A-Za-z0-9_.]*)|\[(["'])([^"'\]]+)\2\])/g;

/**
 * `$(params.<name>)` in a pipeline task's params, matrix and when expressions must name a param the pipeline
 * declares, as Tekton's validation requires of these fields (pipeline_validation.go
 * validatePipelineTaskParameterUsage); embedded task specs are left alone (Tekton propagates params into them). In
 * the dot form a name may itself hold dots (`$(params.a.b)` is param "a.b" or key "b" of object param "a"): any
 * declared prefix will do.
 */
function checkParamNames(spec: PipelineSpec, specPath: string, tasks: readonly NamedTask[], diags: Diagnostics): void {
  const declared = namesOf(spec.params);
  const known = (name: string, dotted: boolean): boolean => {
    if (!dotted) return declared.includes(name);
    const parts = name.split('.');
    return parts.some((_, i) => declared.includes(parts.slice(0, i + 1).join('.')));
  };
  for (const t of tasks) {
    for (const field of ['params', 'matrix', 'when'] as const) {
      forEachString(t.pt[field], childPath(t.path, field), (text, at) => {
        if (!text.includes('$(params')) return;
        for (const m of text.matchAll(PARAM_VARIABLE)) {
          const dotted = m[1] !== undefined;
          const name = m[1] ?? m[3] ?? '';
          if (known(name, dotted)) continue;
          const shown = dotted ? (name.split('.')[0] ?? name) : name;
          const end = text.indexOf(')', m.index);
          const expression = end < 0 ? m[0] : text.slice(m.index, end + 1);
          diags.error(at(), `pipeline task "${t.pt.name}": ${expression} names param "${shown}", which the pipeline does not declare; expected one of ${list(declared, shown)}`);
        }
      });
    }
  }
}

/** `$(results.<name>.path)` in a task's steps, stepTemplate and sidecars must name a result it declares. */
function checkResultPaths(spec: TaskSpec, path: string, who: string, diags: Diagnostics): void {
  const results = namesOf(spec.results);
  for (const field of ['steps', 'stepTemplate', 'sidecars'] as const) {
    forEachString(spec[field], childPath(path, field), (text, at) => {
      if (!text.includes('$(results')) return;
      for (const m of text.matchAll(RESULT_VARIABLE)) {
        const name = m[1] ?? m[3] ?? '';
        if (results.includes(name)) continue;
        diags.error(at(), `${who}: ${m[0]} names result "${name}", which the task does not declare; expected one of ${list(results, name)}`);
      }
    });
  }
}

/** The string names of a list of declarations (whatever else a malformed list holds is judged elsewhere). */
function namesOf(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((r: unknown) => {
    const name = (r as { name?: unknown } | null)?.name;
    return typeof name === 'string' ? [name] : [];
  });
}

/** The names that exist, the likeliest first (`"report" (did you mean it?)`), or `none`. */
export function list(names: readonly string[], found: string): string {
  if (names.length === 0) return 'none';
  const close = names.filter((n) => isNear(n, found));
  const shown = [...close, ...names.filter((n) => !close.includes(n))].slice(0, 10).map((n) => `"${n}"`);
  const more = names.length > 10 ? ` and ${names.length - 10} more` : '';
  const hint = close.length > 0 ? ` (did you mean "${close[0]}"?)` : '';
  return `${shown.join(', ')}${more}${hint}`;
}

/** Whether `found` is close enough to `name` to be its typo (1 edit for short names, 2 for longer ones). */
export function isNear(name: string, found: string): boolean {
  return name !== found && distance(name, found) <= (found.length < 6 ? 1 : 2);
}

/** Edit distance with adjacent transpositions (optimal string alignment): `reprot` is 1 from `report`. */
function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return 99;
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => d[i]?.[j] ?? 99;
  for (let i = 1; i <= a.length; i++) {
    const row = d[i] ?? [];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(at(i, j), at(i - 2, j - 2) + 1);
    }
  }
  return at(a.length, b.length);
}
