/**
 * Catalog Tasks on the real cluster, unchanged but for their images: does each Task get a reference result's value
 * exactly where, and as, stock Tekton would give it the same value inline?
 *
 * This machine cannot pull the catalog's images, so each step runs in the recorder image instead
 * (test/cluster/node/cmd/tlr-recorder): every program the catalog's steps run is there, and each writes to the step's
 * log what it was started with (argv, working directory, environment, the scripts its argv names) instead of doing
 * its work. Everything else about the Task is as published. Each Task runs twice on the cluster:
 *
 * - **inline**: its params given the values as literals; stock Tekton (and the kubelet) substitute them;
 * - **by reference**: a producer writes the same values as reference results and the Task's params are
 *   `$(tasks.gen.results.<r>)`; our webhooks, tlr-init and tlr-exec put the values in.
 *
 * The two records must be equal, step by step (run names and uids aside). A param goes in by reference where the
 * rewrite accepts it; the others, refused with a reason (./measure.ts counts those), get their literal in both runs.
 *
 * The values are over Tekton's 4 KiB result limit and hold quotes, backslashes, backquotes, shell variables and
 * metacharacters, tabs, CRLF and newlines, but no `$(…)`: inline, Tekton's webhook refuses a param value holding one
 * that is not its own variable, and the kubelet expands `$(NAME)` and `$$` in env, args and command (a reference value
 * arrives as written: test/e2e-cluster/values.test.ts feeds those). A param used where a path must stay a short name (a workingDir) gets a short
 * value; one naming the program to run (command[0], a script's `#!` line) keeps its default.
 */
import type { EmbeddedTask, ParamSpec, PipelineRun, Step } from '../../src/api/tekton.js';
import type { RewriteOptions } from '../../src/core/options.js';
import { servedName } from '../support/node/oci-registry.js';
import { isStringParam, refusalOfRun, type Refusal } from './catalog.js';
import { normalizedImage, substituted } from './image-names.js';
import { isCopied, useOf } from './param-uses.js';

export const RECORDER_IMAGE = 'localhost/tlr-test/recorder:1';
/**
 * The recorder as the test registry serves it (test/support/node/oci-registry.ts), for a step naming no command:
 * Tekton's controller asks that image's registry for its entrypoint (the recorder, by its image config).
 */
export const SERVED_RECORDER_IMAGE = servedName(RECORDER_IMAGE);
/** The image of the producer's step: a stand-in the cluster has (images/recipes.ts). */
const PRODUCER_IMAGE = 'docker.io/library/busybox:1.35';

/** The piece each long value repeats (see the module comment for what it leaves out, and why). */
export const PIECE = `it's "q" \\ \`id\` \${HOME} $HOME ;&|<>*?~#%{} [[x]]\t\r\n`;
/** Copies of PIECE in a long value: about 5.4 KiB, over Tekton's 4 KiB per result. */
export const COPIES = 110;

export interface Plan {
  readonly task: string;
  readonly spec: EmbeddedTask;
  /** The string params fed a reference, and each one's value. */
  readonly fed: ReadonlyMap<string, string>;
  /** Params given inline in both runs, and why: the rewrite's refusal, or (site `not a string param`) their type. */
  readonly inline: ReadonlyMap<string, Refusal>;
  /** Why the Task cannot run here at all (then nothing else counts). */
  readonly notRun?: string;
}

function steps(spec: EmbeddedTask): Step[] {
  return (spec.steps ?? []);
}

/** Steps, sidecars and the stepTemplate: what has an image. */
function containers(spec: EmbeddedTask): Step[] {
  return [...(spec.steps ?? []), ...(spec.sidecars ?? []), ...(spec.stepTemplate ? [spec.stepTemplate] : [])] as Step[];
}

/** How an image field uses the fed params: the whole of it (`image`), a part (`image part`), or none (undefined). */
function imageUse(image: unknown, fed: ReadonlySet<string>): 'image' | 'image part' | undefined {
  if (typeof image !== 'string') return undefined;
  const uses = [...fed].map((p) => useOf({ steps: [{ name: 's', image }] }, p));
  return uses.includes('image part') ? 'image part' : uses.includes('image') ? 'image' : undefined;
}

/**
 * Why a param that is part of an image name cannot be fed here, or undefined: a step naming no command makes Tekton's
 * controller ask that image's registry for its entrypoint (this offline machine reaches none but the harness's), and
 * the name must be a reference with the values in.
 */
function imagePartProblem(spec: EmbeddedTask, param: string): string | undefined {
  // The other params built into images are fed too, as far as a name goes.
  const parts = (spec.params ?? []).filter((p) => useOf(spec, p.name) === 'image part');
  const values = valuesOf(spec, new Map(parts.map((p) => [p.name, valueFor(spec, p)])));
  for (const s of containers(spec)) {
    if (imageUse(s.image, new Set([param])) !== 'image part') continue;
    if ((spec.steps ?? []).includes(s) && s.script === undefined && (s.command ?? []).length === 0) {
      return `the param is part of the image of step "${s.name ?? '?'}", which names no command: Tekton's controller asks the image's registry for its entrypoint, and this offline machine reaches none (by reference the image takes a copy, as inline)`;
    }
    if (normalizedImage(substituted(String(s.image), values) ?? '') === undefined) {
      return `the param is part of image "${String(s.image)}", which is no image reference with the values in`;
    }
  }
  return undefined;
}

/** Every param's value in a run: fed, else (what both runs give it) its default or a literal. */
function valuesOf(spec: EmbeddedTask, fed: ReadonlyMap<string, string>): Map<string, unknown> {
  return new Map((spec.params ?? []).map((p) => [p.name, fed.get(p.name) ?? literal(p, spec)]));
}

/**
 * The image names built around fed params, as containerd names them, that the run's pods will ask for: the cluster
 * runner gives the recorder each name on every node before the runs.
 */
export function imagesOf(plan: Plan): string[] {
  const fed = new Set(plan.fed.keys());
  const values = valuesOf(plan.spec, plan.fed);
  const names = containers(recorderTask(plan.spec, fed))
    .filter((s) => imageUse(s.image, fed) === 'image part')
    .map((s) => normalizedImage(substituted(String(s.image), values) ?? ''));
  return [...new Set(names.filter((n): n is string => n !== undefined))];
}

/** The value fed to `param`: distinct per param, hostile, and over 4 KiB unless its use (./param-uses.ts) needs it short. */
export function valueFor(spec: EmbeddedTask, param: ParamSpec): string {
  const index = (spec.params ?? []).findIndex((p) => p.name === param.name);
  switch (useOf(spec, param.name)) {
    case 'program':
      return typeof param.default === 'string' ? param.default : '/bin/sh';
    case 'path':
      return `${param.name}-it's "q" \${HOME} ;&~#%`;
    case 'image':
      // The recorder, by the name the test registry serves it under (containerd has it by that name too), so a step
      // naming no command gets its entrypoint looked up as well.
      return SERVED_RECORDER_IMAGE;
    case 'image part':
      // Valid in a tag and in a name; the run gives the recorder the image name built around it (imagesOf).
      return `tlr-v${index}`;
    case 'volume name':
      // The Task's volume of that name is the one its default names (catalog buildpacks' PLATFORM_DIR: empty-dir).
      return typeof param.default === 'string' && param.default !== '' ? param.default : `tlr-v${index}`;
    case 'name':
      return `tlr-v${index}`;
    case 'mount path':
      return `/tlr-v${index}`;
    case 'short':
      return `${param.name}=${PIECE}`;
    default:
      return `${param.name}=${PIECE.repeat(COPIES)}`;
  }
}

function literal(p: ParamSpec, spec?: EmbeddedTask): unknown {
  if (p.default !== undefined) return p.default;
  // An array param without a default that is a step's whole command (catalog kind: `command: ["$(params.command[*])"]`)
  // must name a program: a shell, which the recorder stands in for.
  if (p.type === 'array' && steps(spec ?? {}).some((s) => s.command?.[0] === `$(params.${p.name}[*])`)) return ['/bin/sh'];
  if (p.type === 'array') return ['x'];
  if (p.type === 'object') return Object.fromEntries(Object.keys((p.properties ?? {})).map((k) => [k, 'x']));
  return 'x';
}

/**
 * The Task as the cluster runs it: its images replaced by the recorder (the registry's name of it for a step naming
 * neither command nor script), nothing else changed.
 */
export function recorderTask(spec: EmbeddedTask, fed: ReadonlySet<string> = new Set()): EmbeddedTask {
  const copy = asV1(spec);
  // An image using a fed param stays: the value names the recorder (valueFor), or the image built around it is the
  // recorder on every node (imagesOf), and the pod runs what it names.
  for (const s of containers(copy)) {
    const looksUp = (copy.steps ?? []).includes(s) && s.script === undefined && (s.command ?? []).length === 0;
    const kept = imageUse(s.image, fed);
    if (kept !== undefined) {
      // The value names the recorder, present on every node, and is never pulled (as below); a name built around a
      // param may also end in `:latest` (or no tag), whose default policy `Always` would pull it.
      if (kept === 'image part' || s.imagePullPolicy === 'Always') s.imagePullPolicy = 'IfNotPresent';
      continue;
    }
    if (s.image !== undefined || s !== copy.stepTemplate) s.image = looksUp ? SERVED_RECORDER_IMAGE : RECORDER_IMAGE;
    // The recorder is never pulled (it is on every node; containerd would speak HTTPS to the test registry): `Always`
    // would fail the pull.
    if (s.imagePullPolicy === 'Always') s.imagePullPolicy = 'IfNotPresent';
  }
  return copy;
}

/**
 * A v1beta1 Task's spec as v1 embeds it: a container's `resources` is `computeResources` there, the one rename
 * Tekton's own conversion makes in the fields the catalog's Tasks use (pkg/apis/pipeline/v1beta1/container_conversion.go).
 */
export function asV1(spec: EmbeddedTask): EmbeddedTask {
  const copy = structuredClone(spec);
  for (const c of [...(copy.steps ?? []), ...(copy.sidecars ?? []), ...(copy.stepTemplate ? [copy.stepTemplate] : [])] as Step[]) {
    if ('resources' in c && !('computeResources' in c)) {
      c.computeResources = c.resources;
      delete c.resources;
    }
  }
  return copy;
}

const wsName = (w: string): string => `w-${w}`;

/**
 * The run with `fed` given by reference (`byReference`) or inline; the Task's steps in the recorder image, or, for
 * what admission decides, in the images it names (a param in an image is refused there).
 */
export function runOf(plan: Plan, byReference: boolean, images: 'recorder' | 'published' = 'recorder'): PipelineRun {
  const spec = images === 'recorder' ? recorderTask(plan.spec, new Set(plan.fed.keys())) : asV1(plan.spec);
  // A param not fed keeps its default as a user's pipeline leaves it (not passed: Tekton applies it in the TaskRun,
  // where a default holding `$(params.IMAGE)`, as rhacs-image-check's does, stays text rather than naming a pipeline
  // param); one without a default gets a literal.
  const params = (spec.params ?? []).flatMap((p) => {
    const value = plan.fed.get(p.name);
    if (value === undefined) return p.default !== undefined ? [] : [{ name: p.name, value: literal(p, spec) }];
    return [{ name: p.name, value: byReference ? `$(tasks.${producerOf(plan, p.name)}.results.${resultName(plan, p.name)})` : value }];
  });
  const workspaces = ((spec.workspaces ?? []) as Array<{ name: string }>).map((w) => w.name);
  const use = {
    name: 'use', params, taskSpec: spec,
    ...(workspaces.length > 0 ? { workspaces: workspaces.map((w) => ({ name: w, workspace: wsName(w) })) } : {}),
  };
  const batches = producerBatches(plan);
  const producers = batches.map((batch, k) => ({
    name: `gen${k}`,
    taskSpec: {
      results: batch.map((p) => ({ name: resultName(plan, p), storage: 'reference' })),
      steps: [{ name: 'write', image: PRODUCER_IMAGE, script: producerScript(plan, batch) }],
    },
  }));
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    metadata: { generateName: `${plan.task.slice(0, 40)}-${byReference ? 'ref' : 'inline'}-` },
    spec: {
      pipelineSpec: {
        ...(byReference && plan.fed.size > 0 ? { resultWorkspace: { name: 'results' } } : {}),
        ...(workspaces.length > 0 ? { workspaces: workspaces.map((w) => ({ name: wsName(w) })) } : {}),
        tasks: byReference ? [...producers, use] : [use],
      },
      ...(workspaces.length > 0 ? { workspaces: workspaces.map((w) => ({ name: wsName(w), emptyDir: {} })) } : {}),
    },
  } as unknown as PipelineRun;
}

/**
 * The fed params in producers, as many as fit one seal step's termination message: a task's references ride there,
 * with the copies of the values its consumer uses in fields set when the pod is created (src/core/copies.ts), and
 * the kubelet caps it (the rewrite refuses a producer whose references cannot fit). The producer's pod has five
 * containers, so 2457 bytes a container; a reference takes about 190 of them, a copy its name (45) and its value as Tekton
 * encodes it (the values fed there are under 200 bytes).
 */
const MESSAGE_BUDGET = 2300;
const REFERENCE_COST = 190;
const COPY_COST = 45 + 200;

function producerBatches(plan: Plan): string[][] {
  const batches: string[][] = [];
  let room = 0;
  for (const param of plan.fed.keys()) {
    const cost = REFERENCE_COST + (isCopied(useOf(plan.spec, param)) ? COPY_COST : 0);
    if (cost > room) {
      batches.push([]);
      room = MESSAGE_BUDGET;
    }
    batches.at(-1)?.push(param);
    room -= cost;
  }
  return batches;
}

function resultName(plan: Plan, param: string): string {
  return `v${[...plan.fed.keys()].indexOf(param)}`;
}

function producerOf(plan: Plan, param: string): string {
  return `gen${producerBatches(plan).findIndex((batch) => batch.includes(param))}`;
}

/**
 * The producer writes each value from small pieces (Tekton's place-scripts passes a script in one argument, which
 * Linux caps at 128 KiB): the value's head, then PIECE as many times as the value holds it.
 */
function producerScript(plan: Plan, batch: readonly string[]): string {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const lines = ['#!/bin/sh', 'set -eu', `printf '%s' '${b64(PIECE)}' | base64 -d > /tmp/piece`];
  for (const param of batch) {
    const value = plan.fed.get(param) ?? '';
    const long = value.endsWith(PIECE.repeat(COPIES));
    const head = long ? value.slice(0, value.length - PIECE.length * COPIES) : value;
    const out = `"$(results.${resultName(plan, param)}.path)"`;
    lines.push(`printf '%s' '${b64(head)}' | base64 -d > ${out}`);
    if (long) lines.push(`i=0; while [ $i -lt ${COPIES} ]; do cat /tmp/piece; i=$((i + 1)); done >> ${out}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The rewrite's refusal of the run by reference, with the Task's own images; undefined when it accepts it. */
function refusal(plan: Plan, options: RewriteOptions): Refusal | undefined {
  return refusalOfRun(runOf(plan, true, 'published'), options);
}

/**
 * What to feed: every string param the rewrite accepts a reference for (tried one by one, then all together; a
 * param refused alone is given inline, with the refusal as the reason).
 */
export function planFor(task: string, spec: EmbeddedTask, options: RewriteOptions): Plan {
  const inline = new Map<string, Refusal>();
  const fed = new Map<string, string>();
  if (spec.resources !== undefined) {
    return { task, spec, fed, inline, notRun: 'it declares PipelineResources (spec.resources), which Tekton has removed (the v1 API has no field for them): no Tekton this project supports runs it' };
  }
  for (const p of spec.params ?? []) {
    if (!isStringParam(p)) {
      inline.set(p.name, { site: 'not a string param', message: `an ${p.type ?? '?'} param (fed strings only)` });
      continue;
    }
    const unfit = useOf(spec, p.name) === 'image part' ? imagePartProblem(spec, p.name) : undefined;
    if (unfit !== undefined) {
      inline.set(p.name, { site: 'image built around the param', message: unfit });
      continue;
    }
    const alone = refusal({ task, spec, fed: new Map([[p.name, valueFor(spec, p)]]), inline }, options);
    if (alone === undefined) fed.set(p.name, valueFor(spec, p));
    else inline.set(p.name, alone);
  }
  const together = refusal({ task, spec, fed, inline }, options);
  if (together !== undefined) return { task, spec, fed: new Map(), inline, notRun: `refused with every accepted param fed at once: ${together.message}` };
  return { task, spec, fed, inline };
}

/** What one step was started with, as the recorder logged it (base64 fields decoded to bytes). */
export interface StepRecord {
  readonly argv: Buffer[];
  readonly cwd: Buffer;
  readonly env: ReadonlyMap<string, Buffer>;
  readonly scripts: ReadonlyMap<string, Buffer>;
  readonly errors: readonly string[];
}

/** The record in a step's log, or undefined when the step logged none (its program is not the recorder). */
export function parseRecord(log: string): StepRecord | undefined {
  const lines = log.split('\n');
  const from = lines.indexOf('tlr-recorder-begin');
  const to = lines.indexOf('tlr-recorder-end', from + 1);
  if (from < 0 || to < 0) return undefined;
  const raw = JSON.parse(Buffer.from(lines.slice(from + 1, to).join(''), 'base64').toString('utf8')) as {
    argv: string[]; cwd: string; env: Record<string, string>; scripts: Record<string, string>; errors?: string[];
  };
  const bytes = (s: string): Buffer => Buffer.from(s, 'base64');
  return {
    argv: raw.argv.map(bytes),
    cwd: bytes(raw.cwd),
    env: new Map(Object.entries(raw.env).map(([k, v]) => [k, bytes(v)])),
    scripts: new Map(Object.entries(raw.scripts).map(([k, v]) => [bytes(k).toString('latin1'), bytes(v)])),
    errors: raw.errors ?? [],
  };
}

/** The env names a step declares (its own and the stepTemplate's): what the Task reads its params from. */
export function declaredEnv(spec: EmbeddedTask, step: Step): string[] {
  const names = [...((spec.stepTemplate?.env ?? [])), ...(step.env ?? [])].map((e) => e.name);
  return [...new Set(names)];
}

/** Strings that differ between any two runs whatever the values: run names, uids, Tekton's script file suffixes. */
export interface RunNames {
  readonly names: readonly string[];
  readonly uids: readonly string[];
}

function normalize(bytes: Buffer, run: RunNames): string {
  let text = bytes.toString('latin1');
  for (const uid of run.uids) text = text.split(uid).join('<uid>');
  // Longest first: the TaskRun's name starts with the PipelineRun's.
  for (const name of [...run.names].sort((a, b) => b.length - a.length)) text = text.split(name).join('<run>');
  return withoutScriptSuffixes(text);
}

/** Tekton names a step's script file `script-<i>-<5 random characters>` (pkg/pod/script.go): the suffix elided. */
const withoutScriptSuffixes = (text: string): string => text.replace(/\/tekton\/scripts\/((?:sidecar-)?script-\d+)-[a-z0-9]{5}/g, '/tekton/scripts/$1');

/**
 * The differences between a step's two records (inline, by reference), each naming what differs and where the
 * first differing byte is; empty when the step got the same argv, working directory, declared env and scripts.
 */
export function differences(inline: StepRecord, byReference: StepRecord, env: readonly string[], a: RunNames, b: RunNames): string[] {
  const out: string[] = [];
  const compare = (what: string, x: Buffer | undefined, y: Buffer | undefined): void => {
    const left = x === undefined ? undefined : normalize(x, a);
    const right = y === undefined ? undefined : normalize(y, b);
    if (left === right) return;
    if (left === undefined || right === undefined) {
      out.push(`${what}: ${left === undefined ? 'missing inline' : 'missing by reference'}`);
      return;
    }
    let i = 0;
    while (i < left.length && left[i] === right[i]) i++;
    out.push(`${what}: ${left.length} bytes inline, ${right.length} by reference, first difference at byte ${i}: ` +
      `${JSON.stringify(left.slice(Math.max(0, i - 20), i + 40))} vs ${JSON.stringify(right.slice(Math.max(0, i - 20), i + 40))}`);
  };
  const argc = Math.max(inline.argv.length, byReference.argv.length);
  for (let i = 0; i < argc; i++) compare(`argv[${i}]`, inline.argv[i], byReference.argv[i]);
  compare('working directory', inline.cwd, byReference.cwd);
  for (const name of env) compare(`env ${name}`, inline.env.get(name), byReference.env.get(name));
  const scripts = new Set([...inline.scripts.keys(), ...byReference.scripts.keys()].map(withoutScriptSuffixes));
  const find = (m: ReadonlyMap<string, Buffer>, key: string): Buffer | undefined => [...m].find(([k]) => withoutScriptSuffixes(k) === key)?.[1];
  for (const key of scripts) compare(`script ${key}`, find(inline.scripts, key), find(byReference.scripts, key));
  // A script the recorder could not read, in one run and not the other.
  compare('recorder errors', Buffer.from(inline.errors.join('\n')), Buffer.from(byReference.errors.join('\n')));
  return out;
}

/** A Secret or ConfigMap a Task names, with the keys it reads. */
export interface Prerequisite {
  readonly kind: 'Secret' | 'ConfigMap';
  readonly name: string;
  readonly keys: readonly string[];
}

/**
 * The Secrets and ConfigMaps the Task reads (env valueFrom, envFrom, secret/configMap/projected volumes), named as
 * Tekton would name them with the params inline (a name from a fed param is refused at admission, so never fed): what
 * a user's namespace holds before they run the Task. Both runs need them to start their pods.
 */
export function prerequisites(plan: Plan): Prerequisite[] {
  const found = new Map<string, { kind: 'Secret' | 'ConfigMap'; name: string; keys: Set<string> }>();
  const named = inlineName(plan);
  const add = (kind: 'Secret' | 'ConfigMap', name: unknown, key?: unknown): void => {
    const n = named(name);
    if (n === undefined) return;
    const entry = found.get(`${kind}/${n}`) ?? { kind, name: n, keys: new Set<string>() };
    found.set(`${kind}/${n}`, entry);
    const k = named(key, /^[-._a-zA-Z0-9]+$/);
    if (k !== undefined) entry.keys.add(k);
  };
  for (const [kind, ref] of references(plan.spec)) {
    for (const item of ref.items ?? [{ key: ref.key }]) add(kind, ref.name, item.key);
  }
  return [...found.values()].map((p) => ({ kind: p.kind, name: p.name, keys: [...p.keys].sort() }));
}

/** A name (or key) as Tekton makes it with the params inline; undefined unless valid as one. */
function inlineName(plan: Plan): (text: unknown, valid?: RegExp) => string | undefined {
  const params = valuesOf(plan.spec, plan.fed);
  return (text, valid = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/) => {
    const out = typeof text === 'string' ? substituted(text, params) : undefined;
    return out !== undefined && valid.test(out) ? out : undefined;
  };
}

interface Ref { name?: unknown; key?: unknown; items?: Array<{ key?: unknown }> }
type Volume = { secret?: { secretName?: unknown; items?: Ref['items'] }; configMap?: Ref; projected?: { sources?: Array<{ secret?: Ref; configMap?: Ref }> } };
type EnvSource = { valueFrom?: { secretKeyRef?: Ref; configMapKeyRef?: Ref } };
type EnvFromSource = { secretRef?: Ref; configMapRef?: Ref };

/** Every Secret and ConfigMap reference in a Task: env, envFrom and volumes. */
function references(spec: EmbeddedTask): Array<['Secret' | 'ConfigMap', Ref]> {
  const out = [...envReferences(spec), ...volumeReferences(spec)];
  return out.filter((r): r is ['Secret' | 'ConfigMap', Ref] => r[1] !== undefined);
}

function envReferences(spec: EmbeddedTask): Array<['Secret' | 'ConfigMap', Ref | undefined]> {
  const out: Array<['Secret' | 'ConfigMap', Ref | undefined]> = [];
  for (const c of [...steps(spec), ...(spec.sidecars ?? []), spec.stepTemplate ?? {}] as Step[]) {
    for (const e of (c.env ?? []) as EnvSource[]) out.push(['Secret', e.valueFrom?.secretKeyRef], ['ConfigMap', e.valueFrom?.configMapKeyRef]);
    for (const e of (c.envFrom ?? []) as EnvFromSource[]) out.push(['Secret', e.secretRef], ['ConfigMap', e.configMapRef]);
  }
  return out;
}

function volumeReferences(spec: EmbeddedTask): Array<['Secret' | 'ConfigMap', Ref | undefined]> {
  const out: Array<['Secret' | 'ConfigMap', Ref | undefined]> = [];
  for (const v of (spec.volumes ?? []) as Volume[]) {
    out.push(['Secret', v.secret ? { name: v.secret.secretName, ...(v.secret.items ? { items: v.secret.items } : {}) } : undefined], ['ConfigMap', v.configMap]);
    for (const source of v.projected?.sources ?? []) out.push(['Secret', source.secret], ['ConfigMap', source.configMap]);
  }
  return out;
}

/** The objects for `kubectl create`: each key's value a placeholder. */
export function prerequisiteObjects(plan: Plan): object[] {
  return prerequisites(plan).map((p) => ({
    apiVersion: 'v1', kind: p.kind, metadata: { name: p.name },
    ...(p.kind === 'Secret' ? { stringData: Object.fromEntries(p.keys.map((k) => [k, 'x'])) } : { data: Object.fromEntries(p.keys.map((k) => [k, 'x'])) }),
  }));
}
