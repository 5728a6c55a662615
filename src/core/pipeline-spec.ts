import { PARAM_REFS, STEP_PREPARE, TASK_OUTPUT_WORKSPACE, TASK_WORKSPACE, VIEW_WORKSPACES } from '../api/names.js';
import type { EmbeddedTask, Param, PipelineSpec, PipelineTask, Task } from '../api/tekton.js';
import type { Config } from './config.js';
import { rewriteConsumer, mentionsReference, type Producers, type Shapes, type UsedReference } from './consumer.js';
import { describeShape, formatSelector, pipelineResultEntry, selectorMismatch, selectorOfSuffix, shapeOf, undeclaredKey, type ResultShape, type Selector } from './structured.js';
import type { FeatureFlags } from './feature-flags.js';
import { checkPipelineSpecFields, checkTaskSpecFields } from './api-fields.js';
import { warnChainsHints } from './chains-hints.js';
import { checkNames } from './name-typos.js';
import { convertObject } from './convert.js';
import type { Diagnostics } from './diagnostics.js';
import { inlineTask } from './inline.js';
import { childPath } from './json-walk.js';
import { type Layout, PIPELINE_RUN_DIR, viewSubPath } from './layout.js';
import { MAX_OBJECT_BYTES } from './limits.js';
import { referenceResultNames } from './opt-in.js';
import { checkPipelineParamPaths, pipelineParamPaths } from './param-paths.js';
import { addCopies, checkTerminationBudget, isSealStep, rewriteProducer, setCopyRoom } from './producer.js';
import { CopyRequests } from './copies.js';
import { isTektonTaskKind, notSupplied, type Resolver } from './resolver.js';
import { checkObjectShape } from './shape/check-object.js';
import { isWindowsScript, scriptStart } from './tekton-scripts.js';
import { measure } from './shape/measure.js';
import { checkPipelineSpecNames, checkTaskSpecNames } from './tekton-names.js';
import { findTaskResultExpressions, type TaskResultExpression } from './variables.js';

export interface PipelineSpecInput {
  /** A private copy of the pipeline spec: edited in place. */
  readonly spec: PipelineSpec;
  /** Field path of the spec (`spec` or `spec.pipelineSpec`). */
  readonly path: string;
  readonly resolver: Resolver;
  readonly diags: Diagnostics;
  /** The run's own params (`spec.params`), which Tekton substitutes into the pipeline's tasks. */
  readonly runParams?: readonly Param[];
}

interface Entry {
  pt: PipelineTask;
  path: string;
  /** Which list of the spec holds it, and where. */
  list: 'tasks' | 'finally';
  index: number;
  /** The Task behind a taskRef, when resolved, and how its paths are named (`<path>.taskRef (Task "x")`). */
  task?: Task;
  where?: string;
  /** Reference results this pipeline task produces. */
  results: string[];
}

/** What the analysis found: which pipeline tasks produce reference results, and refs it could not resolve. */
export interface PipelineAnalysis {
  readonly producers: Producers;
  /** The declared shape of every reference result, as declared before any rewrite (object and array ones matter). */
  readonly shapes: Shapes;
  /** Pipeline tasks naming a Task the resolver does not have. */
  readonly unresolved: readonly { readonly path: string; readonly pipelineTask: string; readonly task: string }[];
  readonly entries: readonly Entry[];
}

/**
 * Finds the producers of a pipeline spec (resolving taskRefs through the resolver). Reports to diags, and throws
 * when the pipeline's own names (its tasks', params', workspaces') are not what Tekton accepts: a duplicate task name
 * would make the resolver give two tasks one Task.
 */
export function analysePipelineSpec(input: PipelineSpecInput): PipelineAnalysis {
  checkPipelineSpecNames(input.spec, input.path, input.diags);
  input.diags.throwIfErrors();
  const entries: Entry[] = [];
  const unresolved: { path: string; pipelineTask: string; task: string }[] = [];
  for (const list of ['tasks', 'finally'] as const) {
    (input.spec[list] ?? []).forEach((pt, index) => {
      const path = childPath(childPath(input.path, list), index);
      const entry: Entry = { pt, path, list, index, results: [] };
      if (pt.taskSpec) {
        const base = childPath(path, 'taskSpec');
        const paths = { meta: childPath(base, 'metadata'), results: childPath(base, 'results') };
        entry.results = referenceResultNames(pt.taskSpec.metadata, pt.taskSpec.results, paths, input.diags);
      } else if (pt.taskRef && isTektonTaskKind(pt.taskRef)) {
        const found = input.resolver.task(pt.taskRef, pt.name);
        if (found) resolvedEntry(entry, found, input.diags);
        else unresolved.push({ path, pipelineTask: pt.name, task: pt.taskRef.name ?? '' });
      }
      entries.push(entry);
    });
  }
  const producers = new Map<string, Set<string>>();
  const shapes = new Map<string, Map<string, ResultShape>>();
  for (const e of entries) {
    if (e.results.length === 0) continue;
    producers.set(e.pt.name, new Set(e.results));
    const declared = (e.pt.taskSpec ?? e.task?.spec)?.results ?? [];
    shapes.set(e.pt.name, new Map(declared.filter((r) => e.results.includes(r.name)).map((r) => [r.name, shapeOf(r)])));
  }
  return { producers, shapes, unresolved, entries };
}

/** A pipeline task whose Task the resolver supplied: the Task checked, converted and read. */
function resolvedEntry(entry: Entry, found: Task, diags: Diagnostics): void {
  const name: unknown = (found as { metadata?: { name?: unknown } }).metadata?.name;
  const where = `${childPath(entry.path, 'taskRef')} (Task "${typeof name === 'string' ? name : ''}")`;
  if (checkObjectShape(found, 'Task', diags, where) === undefined) return;
  const task = convertObject(found, diags);
  entry.task = task;
  entry.where = where;
  entry.results = referenceResultNames(task.metadata, task.spec.results, { meta: `${where} metadata`, results: `${where} spec.results` }, diags);
}

/**
 * The names of an opted-in pipeline's tasks (results, params, workspaces), checked as Tekton checks them. (Pipeline
 * task names are checked before the analysis, by `analysePipelineSpec`: it resolves Tasks by them.)
 */
export function checkSpecNames(input: PipelineSpecInput, analysis: PipelineAnalysis): void {
  for (const e of analysis.entries) {
    const references = new Set(e.results);
    if (e.pt.taskSpec) checkTaskSpecNames(e.pt.taskSpec, childPath(e.path, 'taskSpec'), references, input.diags);
    else if (e.task) checkTaskSpecNames(e.task.spec, `${e.where ?? e.path} spec`, references, input.diags);
  }
  const tasks = analysis.entries.map((e) => ({
    pt: e.pt, path: e.path,
    ...(e.pt.taskSpec ? { spec: e.pt.taskSpec } : e.task ? { spec: e.task.spec, specPath: `${e.where ?? e.path} spec` } : {}),
  }));
  checkNames(input.spec, input.path, tasks, input.diags);
}

/**
 * The fields of an opted-in pipeline and of every task spec the rewritten run will carry (stored Tasks are inlined,
 * so Tekton checks theirs with the run's) that Tekton admits only under a feature flag the cluster lacks; and
 * reference results Tekton Chains would look for by name (a warning).
 */
export function checkSpecFields(input: PipelineSpecInput, analysis: PipelineAnalysis, flags: FeatureFlags): void {
  checkPipelineSpecFields(input.spec, input.path, flags, input.diags);
  for (const e of analysis.entries) {
    const spec = e.pt.taskSpec ? { at: childPath(e.path, 'taskSpec'), task: e.pt.taskSpec } : e.task ? { at: `${e.where ?? e.path} spec`, task: e.task.spec } : undefined;
    if (spec === undefined) continue;
    checkTaskSpecFields(spec.task, spec.at, flags, input.diags);
    warnChainsHints(e.results, childPath(spec.at, 'results'), `pipeline task "${e.pt.name}"`, input.diags);
  }
}

/** Where the rewritten pipeline spec embeds task specs, and whether the rewrite inlined them (for disable-inline-spec). */
export function embeddedTaskSpecs(spec: PipelineSpec, path: string, inlined: Readonly<Record<string, unknown>>): { kind: 'pipeline'; path: string; inlined: boolean }[] {
  return (['tasks', 'finally'] as const).flatMap((list) => (spec[list] ?? []).flatMap((pt, i) =>
    pt.taskSpec ? [{ kind: 'pipeline' as const, path: childPath(childPath(childPath(path, list), i), 'taskSpec'), inlined: Object.hasOwn(inlined, pt.name) }] : []));
}

/**
 * Rewrites every producer and consumer of an analysed pipeline spec in place and binds them to the result
 * workspace (`shared`: one the tasks already bind under their own names, see sharedResultWorkspace). Returns the names
 * of the pipeline tasks it changed and the refs it inlined.
 */
export function rewritePipelineSpec(
  input: PipelineSpecInput,
  analysis: PipelineAnalysis,
  resultWorkspace: string,
  layout: Layout,
  config: Config,
  flags?: FeatureFlags,
  shared?: boolean,
): { touched: string[]; inlined: Record<string, unknown>; inlinedBytes: number; elements: Record<string, string> } {
  const { diags } = input;
  const touched: string[] = [];
  const inlining = new InlineBudget(input);
  const paramPaths = pipelineParamPaths(input.runParams, 'spec.params', input.spec.params, childPath(input.path, 'params'));
  const copies = config.maxCopySize > 0 ? new CopyRequests(config.maxCopySize) : undefined;
  const sealed: Array<{ pt: PipelineTask & { taskSpec: EmbeddedTask }; entry: Entry }> = [];
  for (const entry of analysis.entries) {
    const isProducer = entry.results.length > 0;
    // An embedded task is rewritten as a consumer to find out whether it is one (one walk, not two); a taskRef'd
    // one is looked at first, so a Task is inlined only when it is needed.
    const embedded = entry.pt.taskSpec !== undefined;
    const mayConsume = embedded || mentionsReference(entry.pt, analysis.producers);
    if (!isProducer && !mayConsume) continue;
    const pt = embed(entry, inlining, diags);
    if (!pt) continue;
    const userPaths = isProducer ? rewriteProducerTask(pt, entry, paramPaths, { layout, config }, diags) : sameFieldPaths;
    const { used, changed } = mayConsume ? consume(pt, entry, analysis, { layout, config, copies, userPaths }, diags) : { used: [], changed: false };
    if (!isProducer && !changed) continue;
    if (isProducer) sealed.push({ pt, entry });
    diags.withPaths(userPaths, () => refuseWindowsScripts(pt, entry.path, diags));
    // A consumer rewritten by an earlier pass declares the refs param (and uses nothing new).
    const consumes = used.length > 0 || (pt.taskSpec.params ?? []).some((p) => p.name === PARAM_REFS);
    bindViews(pt, resultWorkspace, layout, { produces: isProducer, consumes });
    const items = input.spec[entry.list];
    if (items) items[entry.index] = pt;
    touched.push(pt.name);
  }
  sealProducers(sealed, copies, config, flags, diags);
  checkResultWorkspaceBindings(input, resultWorkspace, shared);
  const elements = rewritePipelineResults(input, analysis.producers, analysis.shapes);
  return { touched, inlined: inlining.inlined, inlinedBytes: inlining.inlinedBytes, elements };
}

/**
 * A task the rewrite changes gets Linux programs (a producer `tlr-prepare` and `tlr-seal`, a consumer `tlr-substitute`
 * and perhaps `tlr-exec`); a Windows script (`#!win`, Tekton's alpha Windows support) means a Windows pod, where none
 * of them can run: refused here rather than failing in the pod.
 */
function refuseWindowsScripts(pt: PipelineTask & { taskSpec: EmbeddedTask }, path: string, diags: Diagnostics): void {
  for (const list of ['steps', 'sidecars'] as const) {
    for (const [i, container] of (pt.taskSpec[list] ?? []).entries()) {
      const script: unknown = container.script;
      if (!isWindowsScript(script)) continue;
      const role = list === 'steps' ? 'step' : 'sidecar';
      diags.error(
        `${path}.taskSpec.${list}[${i}].script`,
        `pipeline task "${pt.name}", ${role} "${container.name ?? i}": a Windows script (#!win) runs in a Windows pod, where the ` +
          "programs Tekton Large Results adds to this task (Linux binaries: the result volume's init container and steps) " +
          `cannot run; expected a Linux script in a task that produces or consumes results by reference, found "${scriptStart(script).split('\n')[0]?.slice(0, 80)}"`,
      );
    }
  }
}

/**
 * Binds a pipeline task's views of the result workspace: its run's directory (`tlr-results`, declared read-only,
 * when it consumes) and its own directory (`tlr-output`, when it produces). The subPaths start with the run's uid,
 * which Tekton substitutes into pipeline task workspace subPaths; the kubelet creates the directories.
 */
function bindViews(pt: PipelineTask, resultWorkspace: string, layout: Layout, uses: { produces: boolean; consumes: boolean }): void {
  const wanted: { name: string; subPath: string }[] = [];
  if (uses.consumes) wanted.push({ name: TASK_WORKSPACE, subPath: viewSubPath(layout) });
  if (uses.produces) wanted.push({ name: TASK_OUTPUT_WORKSPACE, subPath: viewSubPath(layout, pt.name) });
  // Our names are ours: a binding the author wrote under one of them is replaced (it could mount the whole volume).
  const kept = (pt.workspaces ?? []).filter((w) => !VIEW_WORKSPACES.has(w.name));
  const views = wanted.map((w) => ({ name: w.name, workspace: resultWorkspace, subPath: w.subPath }));
  const same = JSON.stringify((pt.workspaces ?? []).filter((w) => VIEW_WORKSPACES.has(w.name))) === JSON.stringify(views);
  if (!same) pt.workspaces = [...kept, ...views];
}

/**
 * Only our views may bind the result workspace: a task binding it under a name of its own would mount the whole
 * volume read-write, and could then alter any task's results. Refused, naming the binding; unless the workspace is
 * one the tasks share already (`shared`).
 */
function checkResultWorkspaceBindings(input: PipelineSpecInput, resultWorkspace: string, shared: boolean | undefined): void {
  // On a shared workspace the tasks' own bindings of it are theirs (sharedResultWorkspace, and its warning).
  if (shared === true) return;
  for (const list of ['tasks', 'finally'] as const) {
    (input.spec[list] ?? []).forEach((pt, i) => {
      (pt.workspaces ?? []).forEach((w, j) => {
        if (w.workspace !== resultWorkspace || VIEW_WORKSPACES.has(w.name)) return;
        input.diags.error(
          childPath(childPath(childPath(childPath(input.path, list), i), 'workspaces'), j),
          `pipeline task "${pt.name}" binds the result workspace "${resultWorkspace}" as its workspace "${w.name}"; ` +
            'the result workspace holds results stored by reference, and a task mounting it would be able to change ' +
            "other tasks' results. Expected the result workspace bound only by Tekton Large Results (as " +
            `${TASK_WORKSPACE}/${TASK_OUTPUT_WORKSPACE}); bind another workspace to "${w.name}"`,
        );
      });
    });
  }
}

const sameFieldPaths = (path: string): string => path;

/**
 * Paths of the consumer pass as the user wrote the task: a producer's tlr-prepare step, inserted first by the producer
 * pass just before, shifts every step index by one.
 */
function userStepPaths(pt: PipelineTask & { taskSpec: EmbeddedTask }, entry: Entry): (path: string) => string {
  if (pt.taskSpec.steps?.[0]?.name !== STEP_PREPARE) return sameFieldPaths;
  const steps = `${childPath(childPath(entry.path, 'taskSpec'), 'steps')}[`;
  return (path) => {
    if (!path.startsWith(steps)) return path;
    const index = /^(\d+)\]/.exec(path.slice(steps.length));
    return index?.[1] === undefined ? path : `${steps}${Number(index[1]) - 1}${path.slice(steps.length + index[1].length)}`;
  };
}

/**
 * The consumer pass: the references the task uses, and whether it changed (it uses some, asks for a copy, or is
 * refused), so a task using none is left as it was.
 */
function consume(
  pt: PipelineTask & { taskSpec: EmbeddedTask },
  entry: Entry,
  analysis: PipelineAnalysis,
  settings: { layout: Layout; config: Config; copies: CopyRequests | undefined; userPaths: (path: string) => string },
  diags: Diagnostics,
): { used: UsedReference[]; changed: boolean } {
  const { config, copies } = settings;
  const errors = diags.errorCount;
  const asked = copies?.asked;
  const consumer = {
    pipelineTask: pt, path: entry.path, producers: analysis.producers, shapes: analysis.shapes,
    argsAndEnv: { enabled: config.valuesInArgsAndEnv, maxResultSize: config.maxResultSize },
    ...(copies !== undefined ? { copies } : {}),
  };
  const used = diags.withPaths(settings.userPaths, () => rewriteConsumer(consumer, settings.layout, diags));
  return { used, changed: used.length > 0 || diags.errorCount !== errors || copies?.asked !== asked };
}

/**
 * A producer publishes the copies its consumers (before or after it in the lists) asked for; then its seal step's
 * termination message, with them, must fit.
 */
function sealProducers(sealed: ReadonlyArray<{ pt: PipelineTask & { taskSpec: EmbeddedTask }; entry: Entry }>, copies: CopyRequests | undefined, config: Config, flags: FeatureFlags | undefined, diags: Diagnostics): void {
  for (const { pt, entry } of sealed) {
    const asked = copies?.byTask.get(pt.name);
    if (asked !== undefined) addCopies(pt.taskSpec, asked, config);
    const room = checkSealed(pt, entry, config, flags, diags);
    if (asked !== undefined && room !== undefined) setCopyRoom(pt.taskSpec, room);
  }
}

/**
 * The producer's seal step's termination message, as its pod will run (its consumer rewrite included), must fit.
 * Returns what its copies' values may take of it.
 */
function checkSealed(pt: PipelineTask & { taskSpec: EmbeddedTask }, entry: Entry, config: Config, flags: FeatureFlags | undefined, diags: Diagnostics): number | undefined {
  const sealed = { taskSpec: pt.taskSpec, results: entry.results, producer: pt.name, path: childPath(entry.path, 'taskSpec'), label: `pipeline task "${pt.name}"`, flags };
  return checkTerminationBudget(sealed, config, diags);
}

/**
 * The producer pass. Returns how the consumer pass that follows names the user's fields (a task sealed by an earlier
 * rewrite is left as it is; otherwise the inserted tlr-prepare step shifts the step indexes).
 */
function rewriteProducerTask(
  pt: PipelineTask & { taskSpec: EmbeddedTask },
  entry: Entry,
  paramPaths: ReturnType<typeof pipelineParamPaths>,
  settings: { layout: Layout; config: Config },
  diags: Diagnostics,
): (path: string) => string {
  const sealedBefore = (pt.taskSpec.steps ?? []).some(isSealStep);
  if (pt.matrix !== undefined && pt.matrix !== null) {
    diags.error(
      childPath(entry.path, 'matrix'),
      `pipeline task "${pt.name}" stores results by reference (${entry.results.join(', ')}) and fans out with a matrix; ` +
        `Tekton aggregates matrixed results into arrays, which cannot be stored by reference. Remove the matrix or keep these results classic ones`,
    );
    return sameFieldPaths;
  }
  checkPipelineParamPaths(pt, new Set(entry.results), paramPaths, diags);
  const label = `pipeline task "${pt.name}"`;
  if (pt.params) pt.params = [...pt.params];
  const defaults = new Map((pt.taskSpec.params ?? []).map((p) => [p.name, p.default]));
  rewriteProducer({ taskSpec: pt.taskSpec, params: pt.params, results: entry.results, producer: pt.name, path: childPath(entry.path, 'taskSpec'), label }, settings.layout, settings.config, diags);
  passRewrittenDefaults(pt, defaults, entry.path, diags);
  return sealedBefore ? sameFieldPaths : userStepPaths(pt, entry);
}

/**
 * A param default that named a result path now names it on the volume, under `$(context.pipelineRun.uid)`; but
 * Tekton substitutes PipelineRun context variables into the pipeline tasks' params and steps only, never into param
 * defaults (and a TaskRun knows no `context.pipelineRun.*`), so the default would reach the step with the variable
 * unresolved. The pipeline task passes the rewritten default as the param's value instead (unless it passes one).
 */
function passRewrittenDefaults(pt: PipelineTask & { taskSpec: EmbeddedTask }, before: ReadonlyMap<string, unknown>, path: string, diags: Diagnostics): void {
  const passed = new Set((pt.params ?? []).map((p) => p.name));
  (pt.taskSpec.params ?? []).forEach((p, i) => {
    if (p.default === undefined || p.default === before.get(p.name) || passed.has(p.name)) return;
    // At the pipeline task, Tekton reads every $(…) of a param value as the pipeline's: a default that holds other
    // variables than the run directory would mean something else there (or be refused by Tekton's validation).
    const other = JSON.stringify(p.default).replaceAll(PIPELINE_RUN_DIR, '').match(/\$\([^)]*\)?/)?.[0];
    if (other !== undefined) {
      diags.error(
        childPath(childPath(childPath(childPath(path, 'taskSpec'), 'params'), i), 'default'),
        `pipeline task "${pt.name}": param "${p.name}"'s default names a result stored by reference, so the rewrite passes it as the ` +
          `pipeline task's value (Tekton substitutes no variables in defaults), where ${other} would be read as the pipeline's; ` +
          'expected a default with no other variables. Pass the value in the pipeline task\'s params instead',
      );
      return;
    }
    pt.params = [...(pt.params ?? []), { name: p.name, value: p.default }];
  });
}

/**
 * Inlined Tasks, and how large they make the run: a Pipeline whose thousand tasks all name one large Task would
 * otherwise be inlined into an object no API server stores. Past MAX_OBJECT_BYTES the rewrite refuses, once.
 */
class InlineBudget {
  readonly inlined: Record<string, unknown> = {};
  /** The sizes of the Task specs inlined so far, summed. */
  inlinedBytes = 0;
  private bytes: number | undefined;
  private refused = false;
  private readonly sizes = new WeakMap<Task, number>();

  constructor(private readonly input: PipelineSpecInput) {}

  /** Records inlining `task` for `pt`; false when the run would grow too large (reported once). */
  take(pt: PipelineTask, task: Task, path: string): boolean {
    if (this.refused) return false;
    this.bytes ??= measure(this.input.spec, { maxBytes: MAX_OBJECT_BYTES, maxDepth: Infinity }).bytes;
    let size = this.sizes.get(task);
    if (size === undefined) this.sizes.set(task, (size = measure(task.spec, { maxBytes: MAX_OBJECT_BYTES, maxDepth: Infinity }).bytes));
    this.bytes += size;
    this.inlinedBytes += size;
    if (this.bytes > MAX_OBJECT_BYTES) {
      this.refused = true;
      this.input.diags.error(
        childPath(path, 'taskRef'),
        `inlining the Tasks of the run (this one and those before it) makes the pipeline spec more than ${MAX_OBJECT_BYTES} bytes, ` +
          `more than an API server stores; expected the rewritten run to fit. Use fewer or smaller Tasks that store results by reference`,
      );
      return false;
    }
    this.inlined[pt.name] = pt.taskRef;
    return true;
  }
}

function embed(entry: Entry, inlining: InlineBudget, diags: Diagnostics): (PipelineTask & { taskSpec: EmbeddedTask }) | undefined {
  const { pt, path } = entry;
  if (pt.taskSpec) return pt as PipelineTask & { taskSpec: EmbeddedTask };
  if (entry.task) return inlining.take(pt, entry.task, path) ? inlineTask(pt, entry.task) : undefined;
  if (pt.taskRef && isTektonTaskKind(pt.taskRef)) {
    diags.error(path, `pipeline task "${pt.name}" uses a result stored by reference, and ${notSupplied('Task', pt.taskRef.name)}`);
    return undefined;
  }
  const what = pt.taskRef ? 'it runs a custom task' : 'it runs a child pipeline';
  diags.error(
    path,
    `pipeline task "${pt.name}" uses a result stored by reference, but ${what}; the value can only be delivered into ` +
      `the steps of a Tekton Task. Keep the result a classic one for it`,
  );
  return undefined;
}

/**
 * A pipeline's results that name reference results. The whole value (`$(tasks.t.results.r)`) stays: the pipeline
 * result carries the reference, and `tlr fetch` resolves it. One element of an object or array result (`.key`,
 * `[i]`) becomes the whole value's expression, and the element is recorded, by the name `tlr fetch` gives the
 * pipeline result (`<result>`, `<result>.<key>` / `<result>[i]` inside an object or array value), in the run's
 * `tlr.dev/pipeline-result-elements`: Tekton fills in the reference (its validation takes only expressions in a
 * pipeline result's text, so no token can go around it), and `tlr fetch` takes the element from the value once its
 * digest is checked. `[*]` and `.path` are refused: Tekton expands `[*]` from the value it holds, the reference, and a
 * path means nothing outside the pods. Returns the elements recorded (fetch name → `.key` / `[i]`).
 */
function rewritePipelineResults(input: PipelineSpecInput, producers: Producers, shapes: Shapes): Record<string, string> {
  const elements: Record<string, string> = {};
  (input.spec.results ?? []).forEach((result, i) => {
    if (result === null || typeof result !== 'object') return;
    const at = childPath(childPath(childPath(input.path, 'results'), i), 'value');
    const one = (text: unknown, name: string, path: string): unknown =>
      typeof text === 'string' ? pipelineResultText({ input, producers, shapes, elements }, text, `pipeline result "${result.name}"`, name, path) : text;
    const value: unknown = result.value;
    if (Array.isArray(value)) result.value = value.map((v, k) => one(v, pipelineResultEntry(result.name, k), childPath(at, k))) as typeof result.value;
    else if (typeof value === 'object' && value !== null) {
      result.value = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, one(v, pipelineResultEntry(result.name, k), childPath(at, k))])) as typeof result.value;
    } else result.value = one(value, result.name, at) as typeof result.value;
  });
  return elements;
}

interface ResultsContext {
  readonly input: PipelineSpecInput;
  readonly producers: Producers;
  readonly shapes: Shapes;
  readonly elements: Record<string, string>;
}

/** One string of a pipeline result's value (fetched as `name`), with an element of a reference result made whole. */
function pipelineResultText(ctx: ResultsContext, text: string, who: string, name: string, at: string): string {
  for (const e of findTaskResultExpressions(text)) {
    if (!ctx.producers.get(e.task)?.has(e.result) || e.suffix === '') continue;
    const shape = ctx.shapes.get(e.task)?.get(e.result) ?? { type: 'string' as const };
    const whole = `$(${e.scope}.${e.task}.results.${e.result})`;
    const selector = selectorOfSuffix(e.suffix);
    const problem = pipelineResultProblem(e, shape, selector, whole);
    if (problem !== undefined || selector === undefined) {
      ctx.input.diags.error(at, `${who}: result "${e.result}" of task "${e.task}" is ${describeShape(shape)}, stored by reference; ${problem ?? `expected ${whole}, found ${e.text}`}`);
      return text;
    }
    if (text.trim() !== e.text) {
      ctx.input.diags.error(
        at,
        `${who}: ${e.text} names one element of result "${e.result}" of task "${e.task}", stored by reference; the element is ` +
          `taken from the value when the result is fetched, so the expression must be the whole text of the value (or of one entry ` +
          `of an object or array value); expected "${e.text}" alone, found ${JSON.stringify(text)}`,
      );
      return text;
    }
    const undeclared = undeclaredKey(shape, selector, e.text, e.result, e.task);
    if (undeclared !== undefined) ctx.input.diags.warn(at, `${who}: ${undeclared}; tlr fetch of this pipeline result fails if the value lacks it`);
    ctx.elements[name] = formatSelector(selector);
    return whole;
  }
  return text;
}

/** Why a pipeline result cannot name `e` of a reference result, or undefined when it can (an element of its type). */
function pipelineResultProblem(e: TaskResultExpression, shape: ResultShape, selector: Selector | undefined, whole: string): string | undefined {
  const fixes = `expected the whole value ${whole} (tlr fetch resolves the reference)`;
  if (e.suffix === '.path') return `${fixes}; a path means nothing outside the task's pods, found ${e.text}`;
  if (!/^[A-Za-z0-9_-]+$/.test(e.result)) return `${fixes}: Tekton reads the names of pipeline results' variables split at dots, found ${e.text}`;
  if (e.suffix === '[*]') {
    return (
      `Tekton expands ${e.text} from the value it holds, and it holds only the reference; ${fixes}` +
      `${shape.type === 'array' ? ` or one element ${whole.slice(0, -1)}[<index>])` : shape.type === 'object' ? ` or one key ${whole.slice(0, -1)}.<key>)` : ''}, found ${e.text}`
    );
  }
  if (shape.type === 'string' || selector === undefined) return `${fixes}, found ${e.text}`;
  return selectorMismatch(shape, selector, whole, e.text);
}

/** Adds the result workspace to the pipeline's declared workspaces when missing. */
export function declareResultWorkspace(spec: PipelineSpec, name: string): void {
  if ((spec.workspaces ?? []).some((w) => w.name === name)) return;
  spec.workspaces = [...(spec.workspaces ?? []), { name, description: 'Holds results stored by reference (Tekton Large Results).' }];
}

