/**
 * Copies: a value stored by reference, used where no process of ours can put it in — a field Kubernetes reads when it
 * creates the pod (an image, a Secret's or ConfigMap's name or key, a volume, a mount path), a sidecar (which starts
 * with its own command), or a field Tekton's controller reads (a when expression, a workspace binding's subPath) — is
 * taken from a copy: the producer's seal step also publishes the value, verbatim, as the classic result
 * `tlr-copy-<result>` when it is small (config key maxCopySize; a larger one fails the producer, saying where it is
 * used), and the rewrite points those fields at it. Tekton substitutes a copy exactly as it would the value given
 * inline, so the consumer gets what stock Tekton would give it. Everywhere else the value still travels by reference.
 */
import { COPY_PREFIX, ESCAPED_COPY_PREFIX } from '../api/names.js';
import type { EmbeddedTask, Param, PipelineTask } from '../api/tekton.js';
import type { Diagnostics } from './diagnostics.js';
import { childPath } from './json-walk.js';
import { findTaskResultExpressions, type TaskResultExpression } from './variables.js';

/**
 * `plain`: the value verbatim; `escaped`: every `$` doubled, for the fields the kubelet expands `$(VAR)` in (a
 * sidecar's args, command and env values: a step's go through tlr-exec instead), so that it gives back the value.
 */
export type CopyKind = 'plain' | 'escaped';
export const COPY_KINDS: readonly CopyKind[] = ['plain', 'escaped'];

/** The name of a copy: `tlr-copy-<name>` (`tlr-ecopy-<name>` escaped), for a result and for a consumer's param alike. */
export function copyName(name: string, kind: CopyKind = 'plain'): string {
  return `${kind === 'plain' ? COPY_PREFIX : ESCAPED_COPY_PREFIX}${name}`;
}

/** Whether a name is one of a copy's (reserved). */
export function isCopyName(name: string): boolean {
  return name.startsWith(COPY_PREFIX) || name.startsWith(ESCAPED_COPY_PREFIX);
}

/** How a result is named after `results`: `.name`, or `["na.me"]` for a name with dots. */
export function resultAccess(result: string): string {
  return /^[A-Za-z0-9_-]+$/.test(result) ? `.${result}` : `["${result}"]`;
}

/** `$(tasks.<task>.results.tlr-copy-<result>)` (or `$(finally.…)`, as `e` is written). */
export function copyResultExpression(e: Pick<TaskResultExpression, 'scope' | 'task' | 'result'>, kind: CopyKind): string {
  return `$(${e.scope}.${e.task}.results${resultAccess(copyName(e.result, kind))})`;
}

/** `$(params.<name>)`, or `$(params["na.me"])` for a name with dots. */
export function paramExpression(name: string): string {
  return /^[A-Za-z0-9_-]+$/.test(name) ? `$(params.${name})` : `$(params["${name}"])`;
}

/** The results each producer must publish a copy of, by kind: `build -> {plain: {image}}`. */
export class CopyRequests {
  readonly byTask = new Map<string, Map<CopyKind, Set<string>>>();

  /** `maxSize`: config key maxCopySize. */
  constructor(readonly maxSize: number) {}

  /** How many times a copy was asked for (a consumer that asks for one is changed, even if it uses nothing else). */
  asked = 0;

  add(task: string, result: string, kind: CopyKind): void {
    this.asked += 1;
    let kinds = this.byTask.get(task);
    if (kinds === undefined) this.byTask.set(task, (kinds = new Map<CopyKind, Set<string>>()));
    let results = kinds.get(kind);
    if (results === undefined) kinds.set(kind, (results = new Set<string>()));
    results.add(result);
  }

  get size(): number {
    return this.byTask.size;
  }
}

export interface TwinInput {
  readonly pipelineTask: PipelineTask & { taskSpec: EmbeddedTask };
  readonly path: string;
  /** The pipeline task's params as written (before the rewrite put paths and tokens into them). */
  readonly original: readonly Param[];
  /** Whether a `$(tasks…)` expression names a reference result. */
  readonly isReference: (e: TaskResultExpression) => boolean;
  /** What a `.path` expression becomes (the file's path). */
  readonly pathOf: (e: TaskResultExpression) => string;
  readonly label: string;
}

/**
 * Gives each param in `names` (ones carrying a reference and used where only a copy will do) a twin `tlr-copy-<p>`:
 * declared in the task spec, and passed the param's text with each reference replaced by its copy. Records the copies
 * needed in `requests`. An element (`.key`, `[i]`) has no copy: refused, naming the param.
 */
export function addTwins(input: TwinInput, names: ReadonlyMap<string, ReadonlySet<CopyKind>>, requests: CopyRequests, diags: Diagnostics): void {
  if (names.size === 0) return;
  const pt = input.pipelineTask;
  const spec = pt.taskSpec;
  const twins = [...names].flatMap(([name, kinds]) => COPY_KINDS.filter((k) => kinds.has(k)).flatMap((kind) => {
    const twin = twinOf(name, kind, input, requests, diags);
    return twin !== undefined ? [twin] : [];
  }));
  if (twins.length === 0) return;
  pt.params = [...(pt.params ?? []), ...twins];
  spec.params = [
    ...(spec.params ?? []),
    ...twins.map((t) => ({
      name: t.name,
      type: 'string' as const,
      description: `Copy of a param for fields set before any step runs${t.name.startsWith(ESCAPED_COPY_PREFIX) ? ', every $ doubled for the kubelet' : ''} (added by Tekton Large Results).`,
    })),
  ];
}

function twinOf(name: string, kind: CopyKind, input: TwinInput, requests: CopyRequests, diags: Diagnostics): Param | undefined {
  const pt = input.pipelineTask;
  const index = input.original.findIndex((p) => p.name === name);
  const param = input.original[index];
  const at = childPath(childPath(childPath(input.path, 'params'), index), 'value');
  const twin = copyName(name, kind);
  if ((pt.taskSpec.params ?? []).some((p) => p.name === twin) || (pt.params ?? []).some((p) => p.name === twin)) {
    diags.error(childPath(input.path, 'params'), `${input.label}: param name "${twin}" is reserved for Tekton Large Results (copies of values stored by reference); rename the param`);
    return undefined;
  }
  if (typeof param?.value !== 'string') {
    diags.error(at, `${input.label}: param "${name}" carries a result stored by reference and is used where only a copy of the value will do (a field Kubernetes or Tekton reads before any step runs); expected a string param, found ${Array.isArray(param?.value) ? 'an array' : 'an object'}`);
    return undefined;
  }
  const value = twinValue(param.value, kind, input, at, requests, diags);
  return value !== undefined ? { name: twin, value } : undefined;
}

function twinValue(text: string, kind: CopyKind, input: TwinInput, at: string, requests: CopyRequests, diags: Diagnostics): string | undefined {
  let out = '';
  let last = 0;
  let ok = true;
  for (const e of findTaskResultExpressions(text)) {
    if (!input.isReference(e)) continue;
    let replacement: string;
    if (e.suffix === '') {
      requests.add(e.task, e.result, kind);
      replacement = copyResultExpression(e, kind);
    } else if (e.suffix === '.path') {
      // A path has no `$`, escaped or not.
      replacement = input.pathOf(e);
    } else {
      diags.error(
        at,
        `${input.label}: ${e.text} takes an element of result "${e.result}" of task "${e.task}", stored by reference, into a param used where ` +
          'only a copy of the value will do (a field Kubernetes or Tekton reads before any step runs); a copy is of a whole value: ' +
          `expected $(tasks.${e.task}.results${resultAccess(e.result)}) there, or the element used in a step's script, args, command or env`,
      );
      ok = false;
      continue;
    }
    out += text.slice(last, e.index) + replacement;
    last = e.index + e.text.length;
  }
  return ok ? out + text.slice(last) : undefined;
}
