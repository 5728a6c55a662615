/**
 * Watching Tekton runs on the real cluster as a user would with kubectl: create, wait until the run is done (its
 * Succeeded condition is no longer Unknown), read results, and, when something is not as expected, a report of what
 * `kubectl describe` and the events show, for the test's failure message.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { parseReference, type Reference } from '../../../src/core/reference.js';
import type { E2eCluster } from './e2e-cluster.js';

export interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
}

export interface RunObject {
  readonly metadata: { readonly name: string; readonly namespace: string; readonly uid: string; readonly annotations?: Record<string, string>; readonly labels?: Record<string, string> };
  readonly spec: Record<string, unknown>;
  readonly status?: {
    readonly conditions?: readonly Condition[];
    readonly results?: readonly { name: string; value: unknown }[];
    readonly childReferences?: readonly { name: string; pipelineTaskName: string; kind: string }[];
    readonly startTime?: string;
    readonly completionTime?: string;
    readonly podName?: string;
    readonly steps?: readonly { name: string; container: string; terminated?: { exitCode: number; reason?: string; message?: string } }[];
  };
}

export function succeeded(run: RunObject): Condition | undefined {
  return run.status?.conditions?.find((c) => c.type === 'Succeeded');
}

/** `kubectl create -f -` of one object; returns its name. */
export async function create(cluster: E2eCluster, namespace: string, yaml: string): Promise<string> {
  return (await createWithWarnings(cluster, namespace, yaml)).name;
}

/** `kubectl create -f -` of one object; returns its name and what kubectl printed on stderr (admission warnings). */
export async function createWithWarnings(cluster: E2eCluster, namespace: string, yaml: string): Promise<{ name: string; warnings: string }> {
  const { stdout, stderr } = await cluster.kubectl(['-n', namespace, 'create', '-f', '-', '-o', 'jsonpath={.metadata.name}'], { input: yaml });
  return { name: stdout.trim(), warnings: stderr };
}

/** An opted-in PipelineRun (`generateName: <name>-`, result workspace `results`) of `tasks`, YAML list items indented 6. */
export function pipelineRunYaml(name: string, tasks: string): string {
  return `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  generateName: ${name}-
spec:
  pipelineSpec:
    resultWorkspace:
      name: results
    tasks:${tasks}
`;
}

export async function get<T = RunObject>(cluster: E2eCluster, namespace: string, kind: string, name: string): Promise<T> {
  const { stdout } = await cluster.kubectl(['-n', namespace, 'get', kind, name, '-o', 'json']);
  return JSON.parse(stdout) as T;
}

/** Polls until the run's Succeeded condition is True or False (or the timeout); returns the run as it then is. */
export async function waitDone(cluster: E2eCluster, namespace: string, kind: string, name: string, timeoutMs = 600_000): Promise<RunObject> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await get(cluster, namespace, kind, name);
    const status = succeeded(run)?.status;
    if (status === 'True' || status === 'False') return run;
    if (Date.now() > deadline) {
      throw new Error(`${kind} ${namespace}/${name} not done after ${timeoutMs / 1000} s\n${await report(cluster, namespace)}`);
    }
    await sleep(1000);
  }
}

/** The TaskRun Tekton made for a pipeline task of a run. */
export async function taskRunOf(cluster: E2eCluster, namespace: string, run: RunObject, pipelineTask: string): Promise<RunObject> {
  const child = run.status?.childReferences?.find((c) => c.pipelineTaskName === pipelineTask && c.kind === 'TaskRun');
  if (!child) throw new Error(`run ${namespace}/${run.metadata.name} has no TaskRun for ${pipelineTask}\n${await report(cluster, namespace)}`);
  return get(cluster, namespace, 'taskrun', child.name);
}

export function resultOf(run: RunObject, name: string): string | undefined {
  const value = run.status?.results?.find((r) => r.name === name)?.value;
  return typeof value === 'string' ? value : undefined;
}

export function referenceOf(run: RunObject, name: string): Reference | undefined {
  const value = resultOf(run, name);
  return value === undefined ? undefined : parseReference(value);
}

/** The log of a TaskRun's first step that exited non-zero (`kubectl logs <pod> -c step-…`), with its name. */
export async function failedStepLog(cluster: E2eCluster, namespace: string, taskRun: RunObject): Promise<{ step: string; log: string }> {
  const step = taskRun.status?.steps?.find((s) => (s.terminated?.exitCode ?? 0) !== 0);
  const pod = taskRun.status?.podName;
  if (!step || !pod) throw new Error(`TaskRun ${namespace}/${taskRun.metadata.name} has no failed step\n${await report(cluster, namespace)}`);
  const { stdout, stderr } = await cluster.kubectl(['-n', namespace, 'logs', pod, '-c', step.container], { allowFailure: true });
  return { step: step.name, log: stdout + stderr };
}

/** What a user would look at: the runs' conditions, `kubectl describe` of runs and pods, the events. */
export async function report(cluster: E2eCluster, namespace: string): Promise<string> {
  const parts: string[] = [];
  const run = async (args: string[]): Promise<void> => {
    const r = await cluster.kubectl(['-n', namespace, ...args], { allowFailure: true });
    parts.push(`$ kubectl -n ${namespace} ${args.join(' ')}\n${(r.stdout + r.stderr).trim()}`);
  };
  await run(['get', 'pipelineruns,taskruns,pods,pvc', '-o', 'wide']);
  await run(['describe', 'taskruns']);
  await run(['get', 'events', '--sort-by=.lastTimestamp']);
  return parts.join('\n\n').slice(-12_000);
}
