/**
 * A small local stand-in for what Tekton does with a rewritten PipelineRun, enough to run the data path end to end
 * on this machine: it substitutes variables the way Tekton does (params, context, results paths, implicit result
 * references), writes step scripts to a scripts directory, runs the real `tlr-init` program for our steps and for
 * the consumer's init container, runs the scripts with the host's interpreters, and reads results back as Tekton's
 * entrypoint would (failing, as Tekton does, when a step's results exceed the 4 KiB termination message).
 *
 * It is a test harness, not a Tekton: no pods, no images, no workspaces other than the result volume. The tasks of a
 * rewritten PipelineRun see their run's directory at the config's mountPath (workspace subPaths, src/core/layout.ts):
 * here `volume` is the volume's root, and every path a task names below it is taken to be below `volume/<uid>`; the
 * directories of the task's subPaths are created first, with the volume root's mode, as the kubelet does.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, open, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { ENV_REFS, EXEC_DIR, INIT_ENV, LABEL_CONSUMER, TASK_OUTPUT_WORKSPACE } from '../../src/api/names.js';
import { parseConfig } from '../../src/core/config.js';
import { carriesValues, declaredTokens } from '../../src/webhook/exec-wrap.js';
import { substituteContainer } from '../../src/webhook/pod-admission.js';
import { builtExecHelper } from './go-builds.js';
import { SCRIPTS_DIR } from '../../src/webhook/tekton-pod.js';
import type { EmbeddedTask, PipelineRun, PipelineTask, Step } from '../../src/api/tekton.js';

const INIT_MAIN = resolve('dist/init/main.js');
const TERMINATION_LIMIT = 4096;

export interface LocalRunOptions {
  /** Must be the config's mountPath used for the rewrite: the result volume's root. */
  readonly volume: string;
  /** Scratch space for per-task results/scripts dirs. */
  readonly workDir: string;
  readonly uid?: string;
}

export interface StepOutput {
  readonly task: string;
  readonly step: string;
  readonly stdout: string;
  readonly stderr: string;
}

export interface LocalRunResult {
  /** Results by pipeline task, as Tekton records them (the references, for reference results). */
  readonly results: Record<string, Record<string, string>>;
  readonly pipelineResults: Record<string, string>;
  readonly outputs: StepOutput[];
}

export class LocalRunError extends Error {
  override readonly name = 'LocalRunError';
  constructor(message: string, readonly outputs: StepOutput[]) {
    super(message);
  }
}

export async function runPipelineRunLocally(run: PipelineRun, opts: LocalRunOptions): Promise<LocalRunResult> {
  const spec = run.spec.pipelineSpec;
  if (!spec) throw new Error('runPipelineRunLocally needs an embedded pipelineSpec (render the run first)');
  const uid = opts.uid ?? 'local-run-uid';
  const results: Record<string, Record<string, string>> = {};
  const outputs: StepOutput[] = [];
  const pending = [...(spec.tasks ?? [])];
  while (pending.length > 0) {
    const index = pending.findIndex((pt) => dependencies(pt).every((d) => results[d] !== undefined));
    if (index < 0) throw new LocalRunError(`cannot order tasks: ${pending.map((p) => p.name).join(', ')}`, outputs);
    const [pt] = pending.splice(index, 1) as [PipelineTask];
    results[pt.name] = await runTask(pt, { uid, results, volume: opts.volume, workDir: opts.workDir, outputs });
  }
  for (const pt of spec.finally ?? []) {
    results[pt.name] = await runTask(pt, { uid, results, volume: opts.volume, workDir: opts.workDir, outputs });
  }
  const pipelineResults: Record<string, string> = {};
  for (const r of spec.results ?? []) pipelineResults[r.name] = substitute(typeof r.value === 'string' ? r.value : JSON.stringify(r.value), resultVariables(results));
  return { results, pipelineResults, outputs };
}

function dependencies(pt: PipelineTask): string[] {
  const deps = new Set<string>((pt.runAfter as string[] | undefined) ?? []);
  for (const m of JSON.stringify(pt).matchAll(/\$\(tasks\.([a-z0-9-]+)\.results/g)) if (m[1]) deps.add(m[1]);
  deps.delete(pt.name);
  return [...deps];
}

interface TaskContext {
  uid: string;
  results: Record<string, Record<string, string>>;
  volume: string;
  workDir: string;
  outputs: StepOutput[];
}

function resultVariables(results: Record<string, Record<string, string>>): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const [task, values] of Object.entries(results)) {
    for (const [name, value] of Object.entries(values)) {
      vars[`tasks.${task}.results.${name}`] = value;
      vars[`tasks.${task}.results["${name}"]`] = value;
    }
  }
  return vars;
}

function substitute(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\(([^()]+)\)/g, (whole, name: string) => vars[name] ?? whole);
}

/** One pipeline task being run: its embedded spec, its directories, and its variable substitution. */
interface LocalTask {
  readonly name: string;
  readonly spec: EmbeddedTask;
  /** The task's home directory, holding its results and scripts directories. */
  readonly dir: string;
  readonly resultsDir: string;
  readonly scriptsDir: string;
  /** Substitutes the task's variables and points `/tekton/results` at the local results directory. */
  readonly local: (text: string) => string;
  /** Where the consumer sees its run's directory (the result view), and the exec helper its init container installed. */
  readonly runRoot: string;
  readonly execDir: string;
}

async function runTask(pt: PipelineTask, ctx: TaskContext): Promise<Record<string, string>> {
  const spec = pt.taskSpec;
  if (!spec) throw new LocalRunError(`pipeline task ${pt.name} has no embedded taskSpec`, ctx.outputs);
  const dir = join(ctx.workDir, pt.name);
  const resultsDir = join(dir, 'tekton-results');
  const scriptsDir = join(dir, 'tekton-scripts');
  await mkdir(resultsDir, { recursive: true });
  await mkdir(scriptsDir, { recursive: true });

  const vars = taskVariables(pt, spec, ctx, resultsDir);
  const runRoot = join(ctx.volume, ctx.uid);
  const mounted = (text: string): string => (text === ctx.volume ? runRoot : text.replaceAll(`${ctx.volume}/`, `${runRoot}/`));
  const local = (text: string): string => mounted(substitute(text, vars).replaceAll('/tekton/results', resultsDir));
  const task: LocalTask = { name: pt.name, spec, dir, resultsDir, scriptsDir, local, runRoot, execDir: join(dir, 'tlr-exec') };
  await makeSubPaths(pt, ctx, runRoot);
  const steps = (spec.steps ?? []).map((s) => ({ ...s, script: s.script !== undefined ? task.local(s.script) : undefined }));
  const scripts = await writeScripts(steps, scriptsDir);
  if (spec.metadata?.labels?.[LABEL_CONSUMER] === 'true') await runSubstitute(task, steps[0] ?? {}, ctx);
  // As Tekton: each step's entrypoint records every declared result file it finds after the step; for each result
  // the last step that found one wins (a later step that finds none does not remove what an earlier one recorded).
  const recorded: Record<string, string> = {};
  for (const [i, step] of steps.entries()) {
    await runStep(task, step, i, scripts[i], ctx);
    Object.assign(recorded, await declaredResultFiles(spec, resultsDir));
  }
  return recorded;
}

/** As the kubelet does for a subPath: the run's directory and the producer's own, with the volume root's mode. */
async function makeSubPaths(pt: PipelineTask, ctx: TaskContext, runRoot: string): Promise<void> {
  const mode = (await stat(ctx.volume)).mode & 0o7777;
  const dirs = [runRoot, ...((pt.workspaces ?? []).some((w) => w.name === TASK_OUTPUT_WORKSPACE) ? [join(runRoot, pt.name)] : [])];
  for (const d of dirs) {
    await mkdir(d, { recursive: true });
    await chmod(d, mode);
  }
}

async function declaredResultFiles(spec: EmbeddedTask, resultsDir: string): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  const present = new Set(await readdir(resultsDir));
  for (const { name } of spec.results ?? []) if (present.has(name)) found[name] = await readFile(join(resultsDir, name), 'utf8');
  return found;
}

/** The variables Tekton substitutes in a task: earlier results, context, params (defaults, then values) and result paths. */
function taskVariables(pt: PipelineTask, spec: EmbeddedTask, ctx: TaskContext, resultsDir: string): Record<string, string> {
  const pipelineVars = { ...resultVariables(ctx.results), 'context.pipelineRun.uid': ctx.uid, 'context.pipelineRun.name': 'local-run' };
  const vars: Record<string, string> = { ...pipelineVars, 'context.taskRun.name': `local-run-${pt.name}` };
  for (const p of spec.params ?? []) if (typeof p.default === 'string') vars[`params.${p.name}`] = p.default;
  for (const p of pt.params ?? []) vars[`params.${p.name}`] = substitute(typeof p.value === 'string' ? p.value : JSON.stringify(p.value), pipelineVars);
  for (const r of spec.results ?? []) vars[`results.${r.name}.path`] = join(resultsDir, r.name);
  return vars;
}

/** A step's environment: the stepTemplate's and the step's literal values, substituted. */
function stepEnv(task: LocalTask, step: Step): Record<string, string> {
  const out: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: task.dir };
  for (const e of [...(task.spec.stepTemplate?.env ?? []), ...(step.env ?? [])]) if (e.value !== undefined) out[e.name] = task.local(e.value);
  return out;
}

/** Writes each script step to an executable file, as Tekton does; returns the files by step index. */
async function writeScripts(steps: readonly Step[], scriptsDir: string): Promise<string[]> {
  const scripts: string[] = [];
  for (const [i, step] of steps.entries()) {
    if (step.script === undefined) continue;
    const file = join(scriptsDir, `script-${i}-local`);
    const body = step.script.startsWith('#!') ? step.script : `#!/bin/sh\nset -e\n${step.script}`;
    await writeFile(file, body);
    await chmod(file, 0o755);
    scripts[i] = file;
  }
  return scripts;
}

/** The consumer's init container: `tlr-init substitute` over the scripts, with the first step's refs and run dir. */
/**
 * The consumer's init container exactly as the Pod webhook builds it (`substituteContainer`: its args and the env it
 * copies from the step), with the volume and scripts directory mapped to this machine's directories.
 */
async function runSubstitute(task: LocalTask, first: Step, ctx: TaskContext): Promise<void> {
  const env = stepEnv(task, first);
  const consumer = {
    env: INIT_ENV.filter((n) => env[n] !== undefined).map((n) => ({ name: n, value: env[n] ?? '' })),
    resultMount: { name: 'results', mountPath: ctx.volume },
    scriptsVolume: 'tekton-internal-scripts',
    runAs: {},
  };
  // As the Pod webhook does when a step carries values in args, command or env: the init container installs the helper.
  const container = substituteContainer(consumer, consumer.scriptsVolume, parseConfig({ mountPath: ctx.volume }), true);
  await mkdir(task.execDir, { recursive: true });
  const args = (container.args ?? []).map((a) => (a === SCRIPTS_DIR ? task.scriptsDir : a === EXEC_DIR ? task.execDir : task.local(a)));
  const containerEnv = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? '']));
  await exec(task.name, 'tlr-substitute (init container)', process.execPath, [INIT_MAIN, ...args], { ...containerEnv, TLR_EXEC_SOURCE: await builtExecHelper() }, ctx);
}

/** Runs one step (a `tlr-init` step or a script), then checks its results fit the termination message. */
async function runStep(task: LocalTask, step: Step, i: number, script: string | undefined, ctx: TaskContext): Promise<void> {
  const name = step.name ?? `step-${i}`;
  if (step.command?.[0] === 'tlr-init') {
    await exec(task.name, name, process.execPath, [INIT_MAIN, ...(step.args ?? []).map(task.local)], stepEnv(task, step), ctx);
  } else if (script !== undefined || step.command?.[0] !== undefined) {
    // A `command` runs the program of that name from this machine's PATH (the image's /jq is the host's jq): local
    // runs check the data path, not images; the real cluster (test/e2e-cluster) runs the images.
    const [program, args] = withExecHelper(task, step, programOf(task, step, script));
    const stdoutFile = step.stdoutConfig?.path !== undefined ? task.local(step.stdoutConfig.path) : undefined;
    await exec(task.name, name, program, args, stepEnv(task, step), ctx, stdoutFile);
  } else {
    throw new LocalRunError(`pipeline task ${task.name} step ${name}: a step needs a script or a command to run locally`, ctx.outputs);
  }
  await checkTerminationMessage(task.name, name, task.resultsDir, ctx);
}

/**
 * A step whose args or env carry a declared reference runs the helper the init container installed, in its command's
 * place, as the Pod webhook arranges on a cluster (src/webhook/exec-wrap.ts).
 */
function withExecHelper(task: LocalTask, step: Step, [program, args]: [string, string[]]): [string, string[]] {
  const env = stepEnv(task, step);
  const container = { name: step.name ?? 'step', args, env: Object.entries(env).map(([name, value]) => ({ name, value })) };
  if (!carriesValues(container, declaredTokens(env[ENV_REFS]))) return [program, args];
  return [join(task.execDir, 'tlr-exec'), ['--root', task.runRoot, '--', program, ...args]];
}

/** What a step runs locally: its script file, or its command's program from PATH; with its arguments. */
function programOf(task: LocalTask, step: Step, script: string | undefined): [string, string[]] {
  if (script !== undefined) return [script, (step.args ?? []).map(task.local)];
  const [command = '', ...rest] = step.command ?? [];
  return [basename(command), [...rest, ...(step.args ?? [])].map(task.local)];
}

/** Tekton's entrypoint writes every result file into the step's termination message, limited to 4 KiB. */
async function checkTerminationMessage(task: string, step: string, resultsDir: string, ctx: TaskContext): Promise<void> {
  let total = 0;
  for (const file of await readdir(resultsDir)) total += (await stat(join(resultsDir, file))).size;
  if (total > TERMINATION_LIMIT) {
    throw new LocalRunError(`pipeline task ${task} step ${step}: results total ${total} bytes, over Tekton's ${TERMINATION_LIMIT}-byte termination message`, ctx.outputs);
  }
}

async function exec(task: string, step: string, file: string, args: string[], env: Record<string, string>, ctx: TaskContext, stdoutFile?: string): Promise<void> {
  const sink = stdoutFile !== undefined ? await open(stdoutFile, 'w') : undefined;
  try {
    await execWith(task, step, file, args, env, ctx, sink?.fd);
  } finally {
    await sink?.close();
  }
}

function execWith(task: string, step: string, file: string, args: string[], env: Record<string, string>, ctx: TaskContext, stdoutFd: number | undefined): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(file, args, { env: { ...env, PATH: process.env.PATH ?? '/usr/bin:/bin' }, stdio: ['ignore', stdoutFd ?? 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (c: Buffer) => out.push(c));
    child.stderr?.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      const output = { task, step, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
      ctx.outputs.push(output);
      if (code === 0) resolvePromise();
      else reject(new LocalRunError(`pipeline task ${task} step ${step} exited ${code}: ${output.stderr.trim()}`, ctx.outputs));
    });
  });
}
