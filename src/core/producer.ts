import { isDeepStrictEqual } from 'node:util';
import {
  COPY_PREFIX,
  ESCAPED_COPY_PREFIX,
  LABEL_PRODUCER,
  STEP_PREPARE,
  STEP_SEAL,
  TASK_OUTPUT_WORKSPACE,
  TASK_WORKSPACE,
} from '../api/names.js';
import type { EmbeddedTask, Param, Step } from '../api/tekton.js';
import type { Config } from './config.js';
import type { Diagnostics } from './diagnostics.js';
import { childPath, mapText } from './json-walk.js';
import { type Layout, producerDir, producerMountPath, resultFilePath } from './layout.js';
import { replaceResultPaths } from './variables.js';
import { COPY_KINDS, copyName, isCopyName, type CopyKind } from './copies.js';
import { describeShape, formatShapes, isStructured, shapeOf, type ResultShape } from './structured.js';
import type { FeatureFlags } from './feature-flags.js';
import {
  containerMessageBudget,
  describeContainers,
  podContainers,
  POD_TERMINATION_MESSAGE_BYTES,
  sealMessageBytes,
  TERMINATION_MESSAGE_BYTES,
} from './termination-budget.js';

export interface ProducerInput {
  /** The embedded task spec to rewrite, already a private copy: it is edited in place. */
  readonly taskSpec: EmbeddedTask;
  /**
   * The values Tekton substitutes into this task's params (the pipeline task's or the TaskRun's `params`), a
   * private copy edited in place: a path named there reaches the steps as it is.
   */
  readonly params?: Param[];
  /** Reference results of this task (validated by opt-in). */
  readonly results: readonly string[];
  /** The producer's directory name under the run directory (the pipeline task name). */
  readonly producer: string;
  /** Field path of `taskSpec`, for messages. */
  readonly path: string;
  /** Label for messages: `pipeline task "build"` or `TaskRun default/x`. */
  readonly label: string;
}

/**
 * Rewrites a producing task: every way a step names a reference result's path now points at the result volume,
 * wherever Tekton substitutes it into the steps (the steps, the stepTemplate, the task's param defaults and the
 * param values it is given); a first step prepares the directory (so steps of any UID can write), a last step seals
 * each result (size + sha256 reference into /tekton/results/<name>). One pass over the task's text whatever the
 * number of results. Idempotent: a task that already has the seal step is left as is.
 */
export function rewriteProducer(input: ProducerInput, layout: Layout, config: Config, diags: Diagnostics): void {
  const spec = input.taskSpec;
  const steps = spec.steps ?? [];
  if (steps.some(isSealStep)) return;
  if (!checkReserved(input, diags)) return;
  const names = new Set(input.results);
  const written = new Set<string>();
  const path = (name: string): string => {
    written.add(name);
    return resultFilePath(layout, input.producer, name);
  };
  const replace = (text: string): string => replaceResultPaths(text, names, path);
  spec.steps = steps.map((step) => rewriteStep(step, replace));
  if (spec.stepTemplate) spec.stepTemplate = mapText(spec.stepTemplate, replace);
  if (spec.params) {
    spec.params = spec.params.map((p) => {
      const value = p.default === undefined ? undefined : mapText(p.default, replace);
      return value === p.default ? p : { ...p, default: value };
    });
  }
  input.params?.forEach((p, i, params) => {
    const value = mapText(p.value, replace);
    if (value !== p.value) params[i] = { ...p, value };
  });
  reportUnwritten(input, written, diags);

  const dir = producerDir(layout, input.producer);
  const shapes = declareAsStrings(spec, names);
  spec.steps = [prepareStep(config, layout, dir), ...spec.steps, sealStep(config, layout, dir, input.results, shapes)];
  if (layout.view === 'run') addOutputWorkspace(spec, layout, input.producer);
  else addWorkspace(spec, layout, false);
  spec.metadata = {
    ...spec.metadata,
    labels: { ...spec.metadata?.labels, [LABEL_PRODUCER]: 'true' },
  };
}

/**
 * The reference results declared `object` or `array`, by name; their declarations become string results (what Tekton
 * gets is the reference), with the type kept in the description. Their seal step checks the JSON (src/core/structured.ts).
 */
function declareAsStrings(spec: EmbeddedTask, names: ReadonlySet<string>): Map<string, ResultShape> {
  const shapes = new Map<string, ResultShape>();
  spec.results = spec.results?.map((result) => {
    const shape = shapeOf(result);
    if (!names.has(result.name) || !isStructured(shape)) return result;
    shapes.set(result.name, shape);
    const { properties: _properties, type: _type, ...rest } = result;
    const note = `(${describeShape(shape)}, stored by reference: Tekton Large Results)`;
    return { ...rest, type: 'string', description: typeof rest.description === 'string' && rest.description !== '' ? `${rest.description} ${note}` : note };
  });
  return shapes;
}

/**
 * The seal step's termination message holds every reference of the task: over Tekton's 4096 bytes, the step would
 * fail at run time ("Termination message is above max allowed size 4096"). Refused here with the numbers; with
 * compression on (an estimate), a warning.
 */
/** A producer as its pod will run: the rewritten task spec (consumer rewrite included), for the termination budget. */
export interface SealedTask {
  readonly taskSpec: EmbeddedTask;
  readonly results: readonly string[];
  readonly producer: string;
  /** Field path of `taskSpec`, for messages. */
  readonly path: string;
  readonly label: string;
  /** The cluster's feature flags; without them (undefined) the message's form is not known and nothing is checked. */
  readonly flags: FeatureFlags | undefined;
}

/**
 * The seal step's termination message must fit what the kubelet keeps of one container's message in this pod
 * (src/core/termination-budget.ts): over it, Tekton drops every result of the task and the TaskRun still succeeds.
 * Refused with the numbers (an estimate with compression: a warning); classic results sharing the message with
 * little room left get a warning, since their size is known only at run time. A task without a seal step (nothing
 * stored by reference) has no such message.
 */
export function checkTerminationBudget(task: SealedTask, config: Config, diags: Diagnostics): number | undefined {
  if (task.flags === undefined || !(task.taskSpec.steps ?? []).some(isSealStep)) return undefined;
  const copies = copiesOf(task.taskSpec);
  const estimate = sealMessageBytes(task.producer, task.results, config.maxResultSize, task.flags, copies);
  if (estimate === undefined) return undefined;
  const pod = podContainers(task.taskSpec);
  const budget = containerMessageBudget(pod.total);
  const kept =
    `the kubelet keeps ${budget} bytes of each container's termination message in its pod (${POD_TERMINATION_MESSAGE_BYTES} ` +
    `bytes for the pod's ${pod.total} containers: ${describeContainers(pod)}; Tekton takes at most ${TERMINATION_MESSAGE_BYTES})`;
  const classic = classicResults(task);
  const path = childPath(task.path, 'results');
  if (estimate.bytes > budget) {
    const what =
      `${task.label}: its ${task.results.length} results stored by reference put ${estimate.compressed ? 'an estimated ' : ''}` +
      `${estimate.bytes} bytes into its tlr-seal step's termination message (${estimate.compressed ? 'compressed, ' : ''}` +
      `each reference up to ${estimate.referenceBytes} bytes with its name` +
      (copies.length > 0 ? `, and the names of ${copies.length} copies of values used where no step can put them in, before their values` : '') +
      `), over the ${budget} bytes Tekton gets from it: ${kept}` +
      (classic.length > 0 ? `, before its ${classic.length} classic result(s)` : '') +
      '; expected them to fit, or Tekton drops every result of the task. Store fewer results by reference in one task ' +
      '(split it, or keep small ones classic), or give the task fewer steps';
    if (estimate.compressed) diags.warn(path, `${what}, or set Tekton's results-from: sidecar-logs (the estimate may be off by a few bytes)`);
    else diags.error(path, `${what}, or turn on Tekton's enable-termination-message-compression, or set its results-from: sidecar-logs`);
    return undefined;
  }
  const room = budget - estimate.bytes;
  // The copies' values may take up to maxCopySize each of what the classic results would otherwise have.
  const copyValues = copies.length * config.maxCopySize;
  warnClassicRoom(task, classic, { room: Math.max(0, room - copyValues), bytes: estimate.bytes + copyValues, kept, copies: copies.length }, diags);
  if (copies.length === 0) return undefined;
  // What the copies' values may take, counted as Tekton writes them uncompressed (compression only shrinks it).
  const plain = sealMessageBytes(task.producer, task.results, config.maxResultSize, { ...task.flags, terminationMessageCompression: false }, copies);
  return Math.max(0, budget - (plain?.bytes ?? budget));
}

/** The task's classic results: declared, neither stored by reference nor a copy. */
function classicResults(task: SealedTask): string[] {
  return (task.taskSpec.results ?? []).map((r) => r?.name).filter((n): n is string => typeof n === 'string' && !task.results.includes(n) && !isCopyName(n));
}

/** Classic results sharing the seal step's message with little room left: a warning naming the room. */
function warnClassicRoom(task: SealedTask, classic: readonly string[], left: { room: number; bytes: number; kept: string; copies: number }, diags: Diagnostics): void {
  const { room, kept } = left;
  const path = childPath(task.path, 'results');
  if (classic.length > 0 && room < CLASSIC_ROOM_WARNING) {
    diags.warn(
      path,
      `${task.label}: its classic result(s) ${classic.map((n) => `"${n}"`).join(', ')} share the tlr-seal step's termination message ` +
        `with its ${task.results.length} reference(s): ${kept}, and the references${left.copies > 0 ? ` and ${left.copies} copies (at their maxCopySize)` : ''} take ${left.bytes}, so the classic ` +
        `results must stay under ${room} bytes together or Tekton drops every result of the task. Store them by reference too, ` +
        'or split the task',
    );
  }
}

/** Room under which classic results sharing the seal step's message get a warning. */
const CLASSIC_ROOM_WARNING = 1024;

/** The seal step's flag listing the copies of each kind. */
const COPY_FLAGS: Readonly<Record<CopyKind, string>> = { plain: '--copies', escaped: '--escaped-copies' };

/**
 * Asks the sealed producer `spec` to publish the copies in `asked` (src/core/copies.ts): its seal step gets
 * `--copies <names>` and `--escaped-copies <names>` with `--max-copy <maxCopySize>`, and each copy is declared as a
 * string result. Idempotent.
 */
export function addCopies(spec: EmbeddedTask, asked: ReadonlyMap<CopyKind, ReadonlySet<string>>, config: Config): void {
  const steps = spec.steps ?? [];
  const at = steps.findIndex(isSealStep);
  const seal = steps[at];
  if (seal === undefined || asked.size === 0) return;
  const before = listedCopies(seal.args ?? []);
  const args = withoutCopyFlags(seal.args ?? []);
  const flags: string[] = [];
  const copies: Array<{ result: string; kind: CopyKind }> = [];
  for (const kind of COPY_KINDS) {
    const all = [...new Set([...(before.get(kind) ?? []), ...(asked.get(kind) ?? [])])].sort();
    if (all.length === 0) continue;
    flags.push(COPY_FLAGS[kind], all.join(','));
    copies.push(...all.map((result) => ({ result, kind })));
  }
  const size = args.indexOf('--max-size');
  args.splice(size + 2, 0, ...flags, '--max-copy', String(config.maxCopySize));
  spec.steps = steps.map((s, i) => (i === at ? { ...s, args } : s));
  const declared = new Set((spec.results ?? []).map((r) => r.name));
  const added = copies.filter((c) => !declared.has(copyName(c.result, c.kind))).map((c) => ({
    name: copyName(c.result, c.kind),
    type: 'string' as const,
    description:
      `A copy of result "${c.result}" (stored by reference)${c.kind === 'escaped' ? ' with every $ doubled' : ''}, for consumers that use it ` +
      `where no step can put it in${c.kind === 'escaped' ? ' and the kubelet expands $(VAR)' : ''} (added by Tekton Large Results).`,
  }));
  if (added.length > 0) spec.results = [...(spec.results ?? []), ...added];
}

function listedCopies(args: readonly string[]): Map<CopyKind, string[]> {
  const out = new Map<CopyKind, string[]>();
  for (const kind of COPY_KINDS) {
    const at = args.indexOf(COPY_FLAGS[kind]);
    if (at >= 0) out.set(kind, (args[at + 1] ?? '').split(',').filter(Boolean));
  }
  return out;
}

function withoutCopyFlags(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--copies' || arg === '--escaped-copies' || arg === '--max-copy' || arg === '--copy-room') i += 1;
    else out.push(arg);
  }
  return out;
}

/**
 * Gives the seal step `--copy-room <bytes>`: what the copies' values may take of its termination message beside the
 * references (checkTerminationBudget), which it checks once it has them.
 */
export function setCopyRoom(spec: EmbeddedTask, room: number): void {
  const steps = spec.steps ?? [];
  const at = steps.findIndex(isSealStep);
  const args = [...(steps[at]?.args ?? [])];
  if (at < 0) return;
  const listed = args.indexOf('--copy-room');
  if (listed >= 0) args.splice(listed, 2);
  args.splice(args.indexOf('--max-copy') + 2, 0, '--copy-room', String(room));
  spec.steps = steps.map((s, i) => (i === at ? { ...s, args } : s));
}

/** The copies the seal step of `spec` publishes, by their result names. */
export function copiesOf(spec: EmbeddedTask): string[] {
  const listed = listedCopies((spec.steps ?? []).find(isSealStep)?.args ?? []);
  return COPY_KINDS.flatMap((kind) => (listed.get(kind) ?? []).map((n) => copyName(n, kind)));
}

/** Our own seal step (by name and command), which marks a producer as already rewritten. */
export function isSealStep(step: Step): boolean {
  return step.name === STEP_SEAL && step.command?.[0] === 'tlr-init';
}

function rewriteStep(step: Step, replace: (text: string) => string): Step {
  const { name, image, ...rest } = step;
  const rewritten = mapText(rest, replace);
  if (rewritten === rest) return step;
  return { ...(name !== undefined ? { name } : {}), ...(image !== undefined ? { image } : {}), ...rewritten };
}

function checkReserved(input: ProducerInput, diags: Diagnostics): boolean {
  let ok = true;
  (input.taskSpec.results ?? []).forEach((result, i) => {
    if (typeof result?.name === 'string' && isCopyName(result.name)) {
      diags.error(
        childPath(childPath(childPath(input.path, 'results'), i), 'name'),
        `${input.label}: result names starting "${COPY_PREFIX}" or "${ESCAPED_COPY_PREFIX}" are reserved for Tekton Large Results (copies of values stored by reference); rename result "${result.name}"`,
      );
      ok = false;
    }
  });
  (input.taskSpec.steps ?? []).forEach((step, i) => {
    if (step.name === STEP_PREPARE || step.name === STEP_SEAL) {
      diags.error(
        childPath(childPath(childPath(input.path, 'steps'), i), 'name'),
        `${input.label}: step name "${step.name}" is reserved for Tekton Large Results; rename the step`,
      );
      ok = false;
    }
  });
  return ok;
}

/** Warns about each result no step names the path of (anywhere the rewrite replaced paths: `written`). */
function reportUnwritten(input: ProducerInput, written: ReadonlySet<string>, diags: Diagnostics): void {
  for (const name of input.results) {
    if (!written.has(name)) {
      diags.warn(
        childPath(input.path, 'steps'),
        `${input.label}: no step names $(results.${name}.path); a step that finds the path another way writes to ` +
          `/tekton/results/${name}, which the seal step moves onto the volume (values that large break Tekton's ` +
          `4 KiB termination message first)`,
      );
    }
  }
}

/**
 * Adds the `tlr-results` workspace declaration: the view of the volume (read-only for a consumer of a PipelineRun's
 * tasks, whose own results go to `tlr-output`; read-write for a standalone TaskRun's producer).
 */
export function addWorkspace(spec: EmbeddedTask, layout: Layout, readOnly: boolean): void {
  declareOurs(spec, resultsWorkspace(layout, readOnly));
}

/**
 * Declares one of our workspaces; a declaration the author wrote under its name is replaced (its `readOnly` or
 * `mountPath` would decide what the task can write), an identical one kept, so a second pass changes nothing.
 */
function declareOurs(spec: EmbeddedTask, ours: NonNullable<EmbeddedTask['workspaces']>[number]): void {
  const workspaces = spec.workspaces ?? [];
  const existing = workspaces.find((w) => w.name === ours.name);
  if (existing !== undefined && isDeepStrictEqual(existing, ours)) return;
  spec.workspaces = [...workspaces.filter((w) => w.name !== ours.name), ours];
}

function resultsWorkspace(layout: Layout, readOnly: boolean): NonNullable<EmbeddedTask['workspaces']>[number] {
  return {
    name: TASK_WORKSPACE,
    description: 'Results stored by reference (added by Tekton Large Results).',
    mountPath: layout.mountPath,
    ...(readOnly ? { readOnly: true } : {}),
  };
}

/** Adds the `tlr-output` workspace declaration: a producer's own directory, the only one it can write. */
function addOutputWorkspace(spec: EmbeddedTask, layout: Layout, producer: string): void {
  declareOurs(spec, outputWorkspace(layout, producer));
}

function outputWorkspace(layout: Layout, producer: string): NonNullable<EmbeddedTask['workspaces']>[number] {
  return {
    name: TASK_OUTPUT_WORKSPACE,
    description: "This task's results stored by reference (added by Tekton Large Results).",
    mountPath: producerMountPath(layout, producer),
  };
}

const PREPARE_AS_ROOT = {
  runAsUser: 0, runAsGroup: 0, runAsNonRoot: false, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] },
};

/** `--view run` when the steps see the run's directory at the root (the default, `volume`, is left out). */
function viewArgs(layout: Layout): string[] {
  return layout.view === 'run' ? ['--view', 'run'] : [];
}

function prepareStep(config: Config, layout: Layout, dir: string): Step {
  return {
    name: STEP_PREPARE,
    image: config.initImage,
    command: ['tlr-init'],
    args: ['prepare', '--root', config.mountPath, ...viewArgs(layout), '--dir', dir],
    // Config prepareRunAsRoot: root, but with nothing a root process could otherwise do beyond its own files (no
    // capabilities, no privilege escalation): enough to create directories in a root-owned volume root.
    ...(config.prepareRunAsRoot ? { securityContext: PREPARE_AS_ROOT } : {}),
  };
}

function sealStep(config: Config, layout: Layout, dir: string, results: readonly string[], shapes?: ReadonlyMap<string, ResultShape>): Step {
  return {
    name: STEP_SEAL,
    image: config.initImage,
    command: ['tlr-init'],
    args: [
      'seal',
      '--root',
      config.mountPath,
      ...viewArgs(layout),
      '--dir',
      dir,
      '--results-dir',
      '/tekton/results',
      '--max-size',
      String(config.maxResultSize),
      ...(shapes !== undefined && shapes.size > 0 ? ['--shapes', formatShapes(shapes)] : []),
      ...results,
    ],
  };
}

/**
 * What rewriting a producer adds to the run at the least, as JSON bytes (its prepare and seal steps and its workspace
 * declaration), so a run that cannot fit once rewritten is refused before the work. The part that depends on the
 * config alone is measured once per config.
 */
export function producerGrowth(layout: Layout, config: Config, producer: string, results: readonly string[]): number {
  let fixed = GROWTH.get(config)?.[layout.view];
  if (fixed === undefined) {
    // The output workspace's mount path holds the producer's name, counted below with the directory.
    const workspace = layout.view === 'run' ? outputWorkspace(layout, '') : resultsWorkspace(layout, false);
    fixed = JSON.stringify([prepareStep(config, layout, ''), sealStep(config, layout, '', []), workspace]).length;
    GROWTH.set(config, { ...GROWTH.get(config), [layout.view]: fixed });
  }
  // The directory appears in both steps (and the producer's name in its mount path); each result name once, quoted,
  // with its comma.
  const named = layout.view === 'run' ? producer.length : 0;
  return fixed + named + 2 * producerDir(layout, producer).length + results.reduce((sum, r) => sum + r.length + 3, 0);
}

const GROWTH = new WeakMap<Config, Partial<Record<Layout['view'], number>>>();
