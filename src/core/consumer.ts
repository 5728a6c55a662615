import { ENV_REF_LABELS, ENV_REFS, ENV_RUN_DIR, ENV_SELECTORS, ENV_VIEW, LABEL_CONSUMER, OUR_ENV, PARAM_REFS, SCRIPT_PREAMBLE_MARK } from '../api/names.js';
import type { EmbeddedTask, EnvVar, Param, PipelineTask } from '../api/tekton.js';
import type { Diagnostics } from './diagnostics.js';
import { childPath, forEachText, mapStrings } from './json-walk.js';
import { type Layout, resultFilePath } from './layout.js';
import { addTwins, copyResultExpression, paramExpression, resultAccess, copyName, isCopyName, type CopyKind, type CopyRequests } from './copies.js';
import { addWorkspace } from './producer.js';
import { mergeableStepEnv, refuseOurEnv } from './step-env.js';
import { scriptStart } from './tekton-scripts.js';
import { findParamExpressions, findTaskResultExpressions, replaceParamExpressions, type TaskResultExpression } from './variables.js';
import { describeShape, formatSelector, SELECT_OPENING, selectorMismatch, selectorOfSuffix, selectorToken, undeclaredKey, type ResultShape, type Selector } from './structured.js';

/** Reference results by producing pipeline task: `build -> {sbom, images}`. */
export type Producers = ReadonlyMap<string, ReadonlySet<string>>;
/** The declared shape of each reference result, by producing pipeline task (before the producers are rewritten). */
export type Shapes = ReadonlyMap<string, ReadonlyMap<string, ResultShape>>;

export interface UsedReference {
  readonly task: string;
  readonly result: string;
}

/** Where a reference expression was found, which decides what is allowed there. */
type Site = 'param' | 'forbidden' | 'taskSpec';

const SCRIPT_FIELD = /\.(steps|sidecars)\[\d+\]\.script$/;
/**
 * Where the exec helper puts values at step start (config valuesInArgsAndEnv): a step's or the stepTemplate's args,
 * command, env values and workingDir (which the helper enters once substituted).
 */
const EXEC_FIELD = /\.(?:steps\[\d+\]|stepTemplate)\.(?:args\[\d+\]|command\[\d+\]|env\[\d+\]\.value|workingDir)$/;
/**
 * Where the kubelet expands `$(VAR)` and `$$` (a container's args, command and env values) and no tlr-exec runs: a
 * sidecar's; and a step's `when` and stdoutConfig/stderrConfig paths, which Tekton passes to its entrypoint as the
 * container's args (`--when_expressions <json>`, `-stdout_path`: pkg/pod/entrypoint.go). A copy there is the escaped
 * one (src/core/copies.ts).
 */
const KUBELET_EXPANDS = /(?:\.sidecars\[\d+\]\.(?:args\[\d+\]|command\[\d+\]|env\[\d+\]\.value)|\.steps\[\d+\]\.(?:when\[\d+\]\..+|stdoutConfig\.path|stderrConfig\.path))$/;
/** A StepAction's params (a step's `ref`): they go to fields of the StepAction, which Tekton resolves in the cluster. */
const STEP_ACTION_PARAM = /\.steps\[\d+\]\.params\[\d+\]/;
/** MAX_ARG_STRLEN: Linux passes at most this many bytes per argument or environment string. */
export const MAX_ARG_STRLEN = 128 * 1024;
/** PATH_MAX less its NUL: the longest path Linux takes, so the longest workingDir. */
export const MAX_PATH = 4095;

/** True when anything in the pipeline task names a reference result (params, when, matrix, taskSpec, …). */
export function mentionsReference(pt: PipelineTask, producers: Producers): boolean {
  let found = false;
  forEachText(pt, (text) => {
    found ||= findTaskResultExpressions(text).some((e) => isReference(e, producers));
  });
  return found;
}

/** Whether an expression names a result some pipeline task stores by reference. */
export function isReference(e: TaskResultExpression, producers: Producers): boolean {
  return e.scope === 'tasks' && (producers.get(e.task)?.has(e.result) ?? false);
}

export interface ConsumerInput {
  /** The pipeline task, a private copy with an embedded taskSpec: edited in place. */
  readonly pipelineTask: PipelineTask & { taskSpec: EmbeddedTask };
  readonly path: string;
  readonly producers: Producers;
  /** What each reference result holds: `.key` and `[i]` pick an element of an object or array result. */
  readonly shapes?: Shapes;
  /** Reference values in args, command and env (config valuesInArgsAndEnv), and the largest result (maxResultSize). */
  readonly argsAndEnv?: { readonly enabled: boolean; readonly maxResultSize: number };
  /**
   * Copies (config maxCopySize over 0, src/core/copies.ts): where a value by reference cannot go, a copy does; the
   * copies needed are added to `requests`. Without it such uses are refused.
   */
  readonly copies?: CopyRequests;
}

/**
 * Rewrites a consuming pipeline task: `$(tasks.t.results.r.path)` becomes the file's path; a reference value may
 * only reach a step script (the init container substitutes it there), anything else is refused with a message
 * naming the task, step, field and result. Marks the task for the Pod webhook and hands it every reference it uses.
 * Returns the references used (empty: not a consumer, nothing changed, so it may be called on any task to find
 * out). Idempotent.
 */
export function rewriteConsumer(input: ConsumerInput, layout: Layout, diags: Diagnostics): UsedReference[] {
  const pt = input.pipelineTask;
  if ((pt.taskSpec.params ?? []).some((p) => p.name === PARAM_REFS)) return [];
  const scan = new Scan(input, layout, diags);
  const original = [...(pt.params ?? [])];

  const carrying = new Set<string>();
  const params = pt.params?.map((param, j) => {
    const value = scan.rewrite(param.value, childPath(childPath(childPath(input.path, 'params'), j), 'value'), 'param');
    if (scan.carried) carrying.add(param.name);
    scan.carried = false;
    return value === param.value ? param : { ...param, value };
  });
  if (params?.some((p, j) => p !== pt.params?.[j])) pt.params = params;
  scanPipelineTaskFields(pt, input.path, scan);

  warnDisplayName(pt, input, diags);
  const { metadata, ...body } = pt.taskSpec;
  const specPath = childPath(input.path, 'taskSpec');
  // Only the fields Tekton substitutes results into are looked at: elsewhere (descriptions, params, results) the text
  // is inert, and stays as written.
  const rewritten = rewriteSubstituted(body, (value, key) => scan.rewrite(value, childPath(specPath, key), 'taskSpec', carrying));
  // A task that turns out to use no reference is left exactly as it was (the caller skips it).
  if (rewritten !== body || scan.used.size > 0) pt.taskSpec = metadata !== undefined ? { metadata, ...rewritten } : rewritten;
  markValueFirstScripts(pt.taskSpec, specPath, scan.valueScripts);
  addTwinsOf(input, original, scan, layout, diags);
  if (/\.finally\[\d+\]$/.test(input.path)) guardCopies(pt);

  const used = [...scan.used.values()];
  if (used.length > 0) markConsumer(input, { used, selectors: scan.selectors }, layout, diags);
  return used;
}

/**
 * A finally task runs when its producers failed too, and Tekton then hands it the results the failed steps left: a
 * copy a step wrote under the copy's name before the seal step could publish it (or refuse it). So a finally task
 * taking a copy runs only when that copy's producer succeeded, which is when its seal step ran: one when expression
 * `$(tasks.<producer>.status) in [Succeeded]` per producer (without it, it would be skipped for the missing result, as
 * Tekton skips any finally task missing one, unless a step forged it).
 */
function guardCopies(pt: PipelineTask): void {
  const producers = new Set<string>();
  forEachText({ params: pt.params, when: pt.when, taskSpec: pt.taskSpec, workspaces: pt.workspaces }, (text) => {
    for (const e of findTaskResultExpressions(text)) if (e.scope === 'tasks' && isCopyName(e.result)) producers.add(e.task);
  });
  const when = [...(pt.when ?? [])];
  for (const task of producers) {
    const input = `$(tasks.${task}.status)`;
    if (when.some((w) => w.input === input && w.operator === 'in' && w.values?.length === 1 && w.values[0] === 'Succeeded')) continue;
    when.push({ input, operator: 'in', values: ['Succeeded'] });
  }
  if (when.length !== (pt.when ?? []).length) pt.when = when;
}

/**
 * The pipeline task's own fields Tekton substitutes results into: a when expression or a workspace binding's subPath
 * may take a copy (src/core/copies.ts); a matrix or a resolver's params may not, and stay as written.
 */
function scanPipelineTaskFields(pt: PipelineTask, path: string, scan: Scan): void {
  if (pt.when !== undefined) pt.when = scan.rewrite(pt.when, childPath(path, 'when'), 'forbidden');
  if (pt.matrix !== undefined) scan.rewrite(pt.matrix, childPath(path, 'matrix'), 'forbidden');
  if (pt.workspaces !== undefined) pt.workspaces = scan.rewrite(pt.workspaces, childPath(path, 'workspaces'), 'forbidden');
  if (pt.taskRef?.params) scan.rewrite(pt.taskRef.params, childPath(childPath(path, 'taskRef'), 'params'), 'forbidden');
}

/** The twins of the params the scan found used where only a copy will do (src/core/copies.ts). */
function addTwinsOf(input: ConsumerInput, original: readonly Param[], scan: Scan, layout: Layout, diags: Diagnostics): void {
  const twinInput = {
    pipelineTask: input.pipelineTask, path: input.path, original, label: scan.label(),
    isReference: (e: TaskResultExpression) => isReference(e, input.producers),
    pathOf: (e: TaskResultExpression) => resultFilePath(layout, e.task, e.result),
  };
  if (input.copies !== undefined) addTwins(twinInput, scan.twins, input.copies, diags);
}

/**
 * Gives SCRIPT_PREAMBLE_MARK (src/api/names.ts) to each step or sidecar script that holds a value by reference and begins, once
 * white space is trimmed as Tekton trims it, with an expression: whether that script starts with `#!` is known only
 * with the values in, so tlr-substitute, not Tekton, decides its preamble. A script with its own `#!` line, or
 * starting with other text, keeps Tekton's decision (the value cannot change it) and is left as written.
 */
function markValueFirstScripts(spec: EmbeddedTask, specPath: string, scripts: ReadonlySet<string>): void {
  if (scripts.size === 0) return;
  for (const field of ['steps', 'sidecars'] as const) {
    const containers = spec[field];
    if (containers === undefined) continue;
    const marked = containers.map((c, i) => {
      const script: unknown = c.script;
      if (typeof script !== 'string' || !scripts.has(`${specPath}.${field}[${i}].script`)) return c;
      // `$(…)` (a param, a whole value) or, for an element (`.key`, `[i]`), the selector token the rewrite put there.
      const start = scriptStart(script);
      return start.startsWith('$(') || start.startsWith(SELECT_OPENING) ? { ...c, script: SCRIPT_PREAMBLE_MARK + script } : c;
    });
    if (marked.some((c, i) => c !== containers[i])) spec[field] = marked;
  }
}

/**
 * Fields of an embedded task spec Tekton substitutes no result into (pkg/reconciler/taskrun/resources ApplyReplacements
 * touches steps, the stepTemplate, volumes, workspaces' mount paths and sidecars only): a `$(tasks…)` there is text.
 */
const INERT_TASK_FIELDS = new Set(['description', 'displayName', 'params', 'results']);

/** `spec` with `rewrite` applied to each field Tekton substitutes into (the same object when nothing changed). */
function rewriteSubstituted<T extends object>(spec: T, rewrite: (value: unknown, key: string) => unknown): T {
  const out = { ...spec } as Record<string, unknown>;
  let changed = false;
  for (const [key, value] of Object.entries(spec)) {
    if (INERT_TASK_FIELDS.has(key)) continue;
    out[key] = rewrite(value, key);
    changed ||= out[key] !== value;
  }
  return changed ? (out as T) : spec;
}

/**
 * Tekton substitutes results into a pipeline task's displayName (pkg/reconciler/pipelinerun/resources ApplyTaskResults):
 * one stored by reference would show its reference, not its value, wherever the name is shown.
 */
function warnDisplayName(pt: PipelineTask, input: ConsumerInput, diags: Diagnostics): void {
  const name: unknown = pt.displayName;
  if (typeof name !== 'string') return;
  for (const e of findTaskResultExpressions(name)) {
    if (!isReference(e, input.producers)) continue;
    diags.warn(
      childPath(input.path, 'displayName'),
      `pipeline task "${pt.name}": ${e.text} in displayName names result "${e.result}" of task "${e.task}", which is stored ` +
        `by reference: Tekton puts its reference [[tlr:v1:…]] there, not its value, so that is what the Dashboard and tkn show`,
    );
  }
}

class Scan {
  readonly used = new Map<string, UsedReference>();
  /** The elements used (`<task>/<result>.key`, `…[i]`), for TLR_SELECTORS. */
  readonly selectors = new Set<string>();
  /** The script fields a value by reference is substituted into. */
  readonly valueScripts = new Set<string>();
  private readonly sources = new Map<string, UsedReference>();
  private readonly warnedLarge = new Set<string>();
  /** Params carrying a reference that are used where only a copy will do (each gets a twin, src/core/copies.ts). */
  readonly twins = new Map<string, Set<CopyKind>>();
  carried = false;

  constructor(
    private readonly input: ConsumerInput,
    private readonly layout: Layout,
    private readonly diags: Diagnostics,
  ) {}

  /** `value` with every by-path reference replaced by its file path, in one pass over each string. */
  rewrite<T>(value: T, path: string, site: Site, carrying: ReadonlySet<string> = new Set()): T {
    return mapStrings(value, path, (written, lazyAt) => {
      if (!written.includes('$(')) return written; // every expression this looks for starts so
      let text = written;
      // The field path is spelled out only for strings that carry something this looks at.
      const carried = carrying.size > 0 ? findParamExpressions(text).filter((p) => carrying.has(p.name)) : [];
      if (carried.length > 0) {
        const at = lazyAt();
        const kind = this.takesCopy(at, site);
        if (kind !== undefined) text = this.twinsIn(text, carrying, at, kind);
        for (const p of carried) {
          if (kind === undefined || p.suffix !== '') this.valueAt(at, `$(params.${p.name})`, this.paramSource(p.name));
        }
      }
      let out = '';
      let last = 0;
      for (const e of findTaskResultExpressions(text)) {
        if (!isReference(e, this.input.producers)) continue;
        out += text.slice(last, e.index) + this.expression(e, lazyAt(), site);
        last = e.index + e.text.length;
      }
      return last === 0 ? text : out + text.slice(last);
    });
  }

  /**
   * Whether a value at `at` is taken from a copy: anywhere Tekton substitutes it but a step's script and the fields
   * tlr-exec fills (args, command, env, workingDir: by reference when it is on, refused when it is off), and a matrix
   * (which fans out over an array). Never when copies are off.
   */
  private takesCopy(at: string, site: Site): CopyKind | undefined {
    if (this.input.copies === undefined || site === 'param') return undefined;
    if (site === 'forbidden') return /\.when(\[|$)|\.workspaces\[\d+\]\.subPath$/.test(at) ? 'plain' : undefined;
    if (SCRIPT_FIELD.test(at) || EXEC_FIELD.test(at) || STEP_ACTION_PARAM.test(at)) return undefined;
    return KUBELET_EXPANDS.test(at) ? 'escaped' : 'plain';
  }

  /**
   * Says, once per result, that a field takes a copy, and its limit: the producer fails at its tlr-seal step, saying
   * so, when the value is larger (or not UTF-8).
   */
  private warnCopy(at: string, expression: string, ref: UsedReference): void {
    const key = `${ref.task}\u0000${ref.result}\u0000copy`;
    const max = this.input.copies?.maxSize ?? 0;
    if (this.warnedLarge.has(key) || (this.input.argsAndEnv?.maxResultSize ?? Infinity) <= max) return;
    this.warnedLarge.add(key);
    this.diags.warn(
      at,
      `${this.label()}${stepOf(this.input.pipelineTask.taskSpec, at)}: ${expression} in ${fieldOf(at)} is set before any step runs, so it takes a copy of ` +
        `result "${ref.result}" of task "${ref.task}", which is stored by reference: a copy is at most ${max} bytes of UTF-8 text ` +
        `(config key maxCopySize), and task "${ref.task}" fails at its tlr-seal step if the value is not`,
    );
  }

  /** `text` with each whole `$(params.<p>)` of a carrying param replaced by its twin's. */
  private twinsIn(text: string, carrying: ReadonlySet<string>, at: string, kind: CopyKind): string {
    return replaceParamExpressions(text, (p) => {
      if (!carrying.has(p.name) || p.suffix !== '') return undefined;
      let kinds = this.twins.get(p.name);
      if (kinds === undefined) this.twins.set(p.name, (kinds = new Set()));
      kinds.add(kind);
      this.warnCopy(at, p.text, this.paramSource(p.name));
      return paramExpression(copyName(p.name, kind));
    });
  }

  /** What one reference expression becomes (itself, unless it is a by-path reference), reporting misuse. */
  private expression(e: TaskResultExpression, at: string, site: Site): string {
    const source = { task: e.task, result: e.result };
    const kind = e.suffix === '' ? this.takesCopy(at, site) : undefined;
    if (kind !== undefined) {
      this.input.copies?.add(e.task, e.result, kind);
      this.warnCopy(at, e.text, source);
      return copyResultExpression(e, kind);
    }
    if (site === 'forbidden') {
      this.refuseForbidden(at, e);
      return e.text;
    }
    if (e.suffix === '.path') {
      if (/\.image$/.test(at)) {
        this.refuseValue(at, e.text, source);
        return e.text;
      }
      this.use(source);
      return resultFilePath(this.layout, e.task, e.result);
    }
    if (e.suffix !== '') return this.element(e, at, site);
    this.use(source);
    if (site === 'param') this.carried = true;
    else this.valueAt(at, e.text, source);
    return e.text;
  }

  /**
   * `.key` or `[i]` of a structured reference result: a selector token around the plain reference, which the consumer
   * pod replaces by that element of the verified JSON (src/core/structured.ts). Anything else is refused.
   */
  private element(e: TaskResultExpression, at: string, site: Site): string {
    const source = { task: e.task, result: e.result };
    const shape = this.input.shapes?.get(e.task)?.get(e.result) ?? { type: 'string' as const };
    const selector = selectorOfSuffix(e.suffix);
    const whole = `$(tasks.${e.task}.results${resultAccess(e.result)})`;
    const problem = elementProblem(e, shape, selector, whole);
    if (problem !== undefined || selector === undefined) {
      this.diags.error(at, `${this.label()}: result "${e.result}" of task "${e.task}" is ${describeShape(shape)}, stored by reference; ${problem}`);
      return e.text;
    }
    const undeclared = undeclaredKey(shape, selector, e.text, e.result, e.task);
    if (undeclared !== undefined) this.diags.warn(at, `${this.label()}: ${undeclared}; this task fails when it starts if the value lacks it`);
    this.use(source);
    this.selectors.add(`${e.task}/${e.result}${formatSelector(selector)}`);
    if (site === 'param') this.carried = true;
    else this.valueAt(at, e.text, source, true);
    return selectorToken(selector, whole);
  }

  /** A value used at `at`: fine in a script, and in args/command/env/workingDir when the exec helper is on; refused elsewhere. */
  private valueAt(at: string, expression: string, ref: UsedReference, element = false): void {
    if (SCRIPT_FIELD.test(at)) {
      this.valueScripts.add(at);
      return;
    }
    if (!EXEC_FIELD.test(at) || !this.input.argsAndEnv?.enabled) {
      this.refuseValue(at, expression, ref, element);
      return;
    }
    if (/\.command\[0\]$/.test(at)) {
      this.diags.warn(
        at,
        `${this.label()}${stepOf(this.input.pipelineTask.taskSpec, at)}: ${expression} in command[0] lets result ` +
          `"${ref.result}" of task "${ref.task}" choose the program the step runs; expected a fixed program, with the value ` +
          'in its arguments or env, unless that producer is trusted to pick it',
      );
    }
    const max = this.input.argsAndEnv.maxResultSize;
    const isDir = /\.workingDir$/.test(at);
    const limit = isDir ? MAX_PATH : MAX_ARG_STRLEN;
    const key = `${ref.task}\u0000${ref.result}\u0000${limit}`;
    if (max < limit || this.warnedLarge.has(key)) return;
    this.warnedLarge.add(key);
    const field = fieldOf(at);
    const kernel = isDir
      ? `Linux takes paths of at most ${MAX_PATH} bytes (PATH_MAX)`
      : `Linux passes at most ${MAX_ARG_STRLEN} bytes per argument or environment variable`;
    this.diags.warn(
      at,
      `${this.label()}${stepOf(this.input.pipelineTask.taskSpec, at)}: ${expression} puts ${element ? 'an element of ' : ''}result "${ref.result}" of task ` +
        `"${ref.task}" into ${field} by value; ${kernel}, and this namespace accepts results up to ${describeBytes(max)} ` +
        `(config key maxResultSize): a larger value fails the step when it starts. Where the value may be that large, read the file ` +
        `$(tasks.${ref.task}.results.${ref.result}.path) instead${element ? ' (it holds the whole JSON value: take the element from it there, e.g. with jq)' : ''}`,
    );
  }

  private use(ref: UsedReference): void {
    this.used.set(`${ref.task}\u0000${ref.result}`, ref);
  }

  /** The reference a carrying param holds (computed once per param: a script may name it many times). */
  private paramSource(name: string): UsedReference {
    let found = this.sources.get(name);
    if (found === undefined) {
      const param = this.input.pipelineTask.params?.find((p) => p.name === name);
      const e = findTaskResultExpressions(JSON.stringify(param?.value ?? '')).find((x) => isReference(x, this.input.producers));
      found = { task: e?.task ?? '?', result: e?.result ?? '?' };
      this.sources.set(name, found);
    }
    return found;
  }

  label(): string {
    return `pipeline task "${this.input.pipelineTask.name}"`;
  }

  private refuseValue(at: string, expression: string, ref: UsedReference, element = false): void {
    const step = stepOf(this.input.pipelineTask.taskSpec, at);
    const field = fieldOf(at);
    const enabled = this.input.argsAndEnv?.enabled ?? false;
    const where = enabled ? "a step's script, args, command, env or workingDir" : 'a step script';
    const why = EXEC_FIELD.test(at)
      ? 'values in args, command, env and workingDir are turned off on this cluster: config key valuesInArgsAndEnv is "false"'
      : /\.sidecars\[\d+\]\./.test(at)
        ? 'a sidecar starts with its own command, not through the step entrypoint that puts values in'
        : STEP_ACTION_PARAM.test(at)
          ? 'a StepAction\'s param goes to fields of the StepAction, which Tekton resolves in the cluster and this rewrite cannot see, so neither a value nor a copy can be put there'
        : field === 'image'
          ? 'the kubelet pulls the image before any process of the step runs'
          : `Tekton fixes ${field} when it creates the pod`;
    const whole = `$(tasks.${ref.task}.results${resultAccess(ref.result)})`;
    // Outside the fields tlr-exec fills, a field takes a copy of the value (src/core/copies.ts) when copies are on.
    const copy = EXEC_FIELD.test(at) || STEP_ACTION_PARAM.test(at)
      ? ''
      : this.input.copies === undefined
        ? '; such a field can take a copy of the value, but copies are turned off on this cluster: config key maxCopySize is "0"'
        : `; such a field takes a copy of the value, and a copy is of a whole value: ${whole}, not ${element ? 'an element' : 'its path'}`;
    this.diags.error(
      at,
      `${this.label()}${step}: ${expression} in ${field} carries ${element ? 'an element of ' : ''}result "${ref.result}" of task "${ref.task}", which is ` +
        `stored by reference; its value can only be substituted into ${where} (${why})${copy}. Expected it there, or the ` +
        `file path $(tasks.${ref.task}.results.${ref.result}.path) where a path will do; found it in ${field}`,
    );
  }

  private refuseForbidden(at: string, e: TaskResultExpression): void {
    const why = /\.when(\[|$)/.test(at)
      ? 'Tekton evaluates when expressions on the reference, not on the value' +
        (this.input.copies === undefined ? ' (it would take a copy of the value, but copies are turned off on this cluster: config key maxCopySize is "0")' : ' (a copy of the value is of the whole value, not an element or path)') +
        '; test the value in a step script instead'
      : /\.matrix(\.|$)/.test(at)
        ? 'a matrix cannot fan out over a value stored on a volume; keep this result a classic one to fan out over it'
        : 'the value is not available there; use it in a step script';
    this.diags.error(
      at,
      `${this.label()}: result "${e.result}" of task "${e.task}" is stored by reference and cannot be used here: ${why}; found ${e.text}`,
    );
  }
}

/** Why `.key` / `[i]` / `[*]` cannot be used on this result, or undefined when the selector fits its shape. */
function elementProblem(e: TaskResultExpression, shape: ResultShape, selector: Selector | undefined, whole: string): string | undefined {
  const forms = `$(tasks.${e.task}.results.${e.result})`;
  if (e.suffix === '[*]') {
    return (
      `Tekton expands ${e.text} when it creates the TaskRun, from the value it holds, and it holds only the reference; ` +
      `expected ${shape.type === 'array' ? `an element ${forms.slice(0, -1)}[<index>])` : shape.type === 'object' ? `a key ${forms.slice(0, -1)}.<key>)` : whole}, ` +
      `the whole JSON text ${whole}, or its file ${whole.slice(0, -1)}.path), found ${e.text}`
    );
  }
  if (shape.type === 'string' || selector === undefined) {
    return `expected ${whole} or ${whole.slice(0, -1)}.path), found ${e.text}`;
  }
  return selectorMismatch(shape, selector, whole, e.text);
}

function stepOf(spec: EmbeddedTask, at: string): string {
  const m = /\.(steps|sidecars)\[(\d+)\]/.exec(at);
  if (!m) return '';
  const list = m[1] === 'steps' ? spec.steps : spec.sidecars;
  const name = list?.[Number(m[2])]?.name;
  return `, ${m[1] === 'steps' ? 'step' : 'sidecar'} ${name !== undefined ? `"${name}"` : `#${m[2]}`}`;
}

function fieldOf(at: string): string {
  const template = /\.stepTemplate\.([A-Za-z]+)/.exec(at);
  if (template) return `the stepTemplate's ${template[1]}`;
  const m = /\.(?:steps|sidecars)\[\d+\]\.([A-Za-z]+)/.exec(at) ?? /\.taskSpec\.([A-Za-z]+)/.exec(at) ?? /\]\.(when|workspaces)\[/.exec(at);
  return m?.[1] ?? 'this field';
}

function markConsumer(input: ConsumerInput, scan: { used: readonly UsedReference[]; selectors: ReadonlySet<string> }, layout: Layout, diags: Diagnostics): void {
  const { used, selectors } = scan;
  const pt = input.pipelineTask;
  const spec = pt.taskSpec;
  if ((pt.params ?? []).some((p) => p.name === PARAM_REFS)) {
    diags.error(childPath(input.path, 'params'), `param name "${PARAM_REFS}" is reserved for Tekton Large Results; rename the param`);
    return;
  }
  // Each labelled with the result it stands for: the init container refuses a reference naming another result's file.
  const refs = used.map((u) => `${u.task}/${u.result}=$(tasks.${u.task}.results${resultAccess(u.result)})`);
  pt.params = [...(pt.params ?? []), { name: PARAM_REFS, value: refs.join(' ') }];
  spec.params = [
    ...(spec.params ?? []),
    { name: PARAM_REFS, type: 'string', description: 'References this task uses (added by Tekton Large Results).' },
  ];
  const env: EnvVar[] = (spec.stepTemplate?.env ?? []).filter((e) => !OUR_ENV.has(e.name));
  refuseOurEnv(spec, childPath(input.path, 'taskSpec'), diags, `pipeline task "${pt.name}"`);
  mergeableStepEnv(spec, childPath(input.path, 'taskSpec'), diags, `pipeline task "${pt.name}"`);
  spec.stepTemplate = {
    ...spec.stepTemplate,
    env: [
      ...env,
      { name: ENV_REFS, value: `$(params.${PARAM_REFS})` },
      { name: ENV_REF_LABELS, value: used.map((u) => `${u.task}/${u.result}`).join(' ') },
      ...(selectors.size > 0 ? [{ name: ENV_SELECTORS, value: [...selectors].join(' ') }] : []),
      { name: ENV_RUN_DIR, value: layout.runDir },
      ...(layout.view === 'run' ? [{ name: ENV_VIEW, value: layout.view }] : []),
    ],
  };
  // A consumer only reads the run's directory; its own results (when it also produces) go to its tlr-output.
  addWorkspace(spec, layout, true);
  spec.metadata = { ...spec.metadata, labels: { ...spec.metadata?.labels, [LABEL_CONSUMER]: 'true' } };
}

/** `1073741824 bytes (1 GiB)`: exact, and readable. */
function describeBytes(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let unit = -1;
  let value = bytes;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit < 0 ? `${bytes} bytes` : `${bytes} bytes (${Number(value.toFixed(1))} ${units[unit]})`;
}

