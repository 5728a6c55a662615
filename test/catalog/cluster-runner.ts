/**
 * Runs a catalog Task's plan (./on-cluster.ts) on a real cluster: both runs at once, then each step's records compared.
 */
import type { EmbeddedTask, Step } from '../../src/api/tekton.js';
import type { E2eCluster } from '../support/node/e2e-cluster.js';
import { create, get, report, succeeded, type RunObject, waitDone } from '../support/node/runs.js';
import { PROGRAMS } from '../support/node/host.js';
import { NODE_NAME_PREFIX, nodeLayout } from '../support/node/layout.js';
import { declaredEnv, differences, imagesOf, parseRecord, prerequisiteObjects, RECORDER_IMAGE, runOf, type Plan, type RunNames, type StepRecord } from './on-cluster.js';

/**
 * same: every step's records equal; differs: some step got other bytes; run failed: the by-reference run failed where
 * the inline one did not; fails inline too: both failed (the recorder image cannot stand in for this Task's
 * programs, or the Task needs what this cluster lacks); only by reference: the inline run failed and the one by
 * reference succeeded (a value too large inline, e.g. scripts over Linux's 128 KiB per argument for Tekton's
 * place-scripts); no record: a step logged none in one run.
 */
export type Verdict = 'same' | 'differs' | 'no record' | 'run failed' | 'fails inline too' | 'only by reference';

export interface StepOutcome {
  readonly step: string;
  readonly verdict: Verdict;
  readonly details: readonly string[];
}

export interface TaskOutcome {
  readonly task: string;
  /** 'same' when every step's records are equal. */
  readonly verdict: Verdict;
  readonly steps: readonly StepOutcome[];
  readonly details: readonly string[];
}

/** One run of a plan, as it ended: the TaskRun of `use`, its steps' logs by step name. */
export interface Ran {
  /** Undefined when the API server refused to create the run (then `refused` says why). */
  readonly run?: RunObject;
  readonly refused?: string;
  readonly taskRun?: RunObject;
  readonly names: RunNames;
  readonly logs: ReadonlyMap<string, string>;
  /** Init containers that failed, with their termination messages (tlr-substitute says why there). */
  readonly initFailures: readonly string[];
}

interface PodStatus {
  readonly status?: { readonly initContainerStatuses?: ReadonlyArray<{ name: string; state?: { terminated?: { exitCode: number; message?: string } } }> };
}

/** Creates the plan's run (inline or by reference), waits for it to finish, and collects what its `use` pod logged. */
export async function runOnce(cluster: E2eCluster, namespace: string, plan: Plan, byReference: boolean, timeoutMs = 600_000): Promise<Ran> {
  let name: string;
  try {
    name = await create(cluster, namespace, JSON.stringify(runOf(plan, byReference)));
  } catch (error) {
    // kubectl's stderr: admission warnings, then the refusal.
    const text = String(error);
    const at = text.lastIndexOf('Error from server');
    return { refused: text.slice(Math.max(0, at)).slice(0, 600), names: { names: [], uids: [] }, logs: new Map(), initFailures: [] };
  }
  const run = await waitDone(cluster, namespace, 'pipelinerun', name, timeoutMs);
  const child = run.status?.childReferences?.find((c) => c.pipelineTaskName === 'use');
  if (child === undefined) return { run, names: namesOf([run]), logs: new Map(), initFailures: [] };
  return { run, ...(await collectUse(cluster, namespace, run, await get(cluster, namespace, 'taskrun', child.name))) };
}

/** What the `use` TaskRun's pod logged, and why its init containers failed (if the run did not succeed). */
async function collectUse(cluster: E2eCluster, namespace: string, run: RunObject, taskRun: RunObject): Promise<Omit<Ran, 'run'>> {
  const pod = taskRun.status?.podName;
  if (pod === undefined) return { taskRun, names: namesOf([run, taskRun]), logs: new Map(), initFailures: [] };
  const logs = await stepLogs(cluster, namespace, pod, taskRun);
  const initFailures = succeeded(run)?.status !== 'True' ? await failedInitContainers(cluster, namespace, pod) : [];
  // The pod's uid too: a step may read it (downward API fieldRef metadata.uid, catalog kubectl-deploy-pod).
  const podObject = await get<RunObject>(cluster, namespace, 'pod', pod).catch(() => undefined);
  return { taskRun, names: namesOf(podObject ? [run, taskRun, podObject] : [run, taskRun], pod), logs, initFailures };
}

/** The run's objects' names and uids (the pod's name last), which differ between any two runs. */
function namesOf(objects: readonly RunObject[], pod?: string): RunNames {
  return { names: [...objects.map((o) => o.metadata.name), ...(pod === undefined ? [] : [pod])], uids: objects.map((o) => o.metadata.uid) };
}

/** Each step's log (`kubectl logs <pod> -c step-…`), by step name. */
async function stepLogs(cluster: E2eCluster, namespace: string, pod: string, taskRun: RunObject | undefined): Promise<Map<string, string>> {
  const logs = new Map<string, string>();
  for (const s of taskRun?.status?.steps ?? []) {
    logs.set(s.name, (await cluster.kubectl(['-n', namespace, 'logs', pod, '-c', s.container], { allowFailure: true })).stdout);
  }
  return logs;
}

async function failedInitContainers(cluster: E2eCluster, namespace: string, pod: string): Promise<string[]> {
  const status = await get<PodStatus>(cluster, namespace, 'pod', pod).catch(() => undefined);
  return (status?.status?.initContainerStatuses ?? [])
    .filter((c) => (c.state?.terminated?.exitCode ?? 0) !== 0)
    .map((c) => `init container ${c.name}: ${(c.state?.terminated?.message ?? '').trim().slice(0, 600)}`);
}

const stepName = (s: Step, i: number): string => s.name ?? `unnamed-${i}`;

/** Both runs of the plan, compared step by step, in `namespace` (which gets the Secrets and ConfigMaps the Task reads). */
export async function runPlan(cluster: E2eCluster, namespace: string, plan: Plan, timeoutMs = 600_000): Promise<TaskOutcome> {
  for (const object of prerequisiteObjects(plan)) await cluster.kubectl(['-n', namespace, 'create', '-f', '-'], { input: JSON.stringify(object) });
  await tagRecorder(cluster, imagesOf(plan));
  const [inline, byReference] = await Promise.all([runOnce(cluster, namespace, plan, false, timeoutMs), runOnce(cluster, namespace, plan, true, timeoutMs)]);
  const details = failures(inline, byReference);
  const steps = compareSteps(plan.spec, inline, byReference);
  const failed = (label: string): boolean => details.some((d) => d.startsWith(label));
  const worst: Verdict = steps.some((s) => s.verdict === 'differs') ? 'differs'
    : failed('inline') ? (failed('by reference') ? 'fails inline too' : 'only by reference')
      : failed('by reference') ? 'run failed'
        // At least one step's records compared: a recorder that logged nothing must not pass as the same.
        : steps.some((s) => s.verdict === 'no record') || steps.every((s) => s.details.length > 0) ? 'no record' : 'same';
  if (worst !== 'same' && process.env.TLR_CATALOG_REPORT) details.push(await report(cluster, namespace));
  return { task: plan.task, verdict: worst, steps, details };
}

/**
 * The recorder under each image name built around a fed param, on every node (`ctr images tag`, as the cluster's
 * bring-up names it for the registry): present, so the kubelet never pulls it.
 */
async function tagRecorder(cluster: E2eCluster, names: readonly string[]): Promise<void> {
  for (const node of cluster.nodes) {
    const socket = nodeLayout(cluster.dir, Number(node.slice(NODE_NAME_PREFIX.length)), '').containerdSocket;
    for (const name of names) {
      const tagged = await cluster.exec([PROGRAMS.ctr, '--address', socket, '--namespace', 'k8s.io', 'images', 'tag', '--force', RECORDER_IMAGE, name]);
      if (tagged.code !== 0) throw new Error(`ctr images tag ${RECORDER_IMAGE} ${name} on ${node}: ${tagged.stderr.trim()}`);
    }
  }
}

function parse(log: string | undefined): StepRecord | undefined {
  return log === undefined ? undefined : parseRecord(log);
}

/** Why each run that did not succeed failed: its TaskRun's condition (or the PipelineRun's, when there is none). */
function failures(inline: Ran, byReference: Ran): string[] {
  const details: string[] = [];
  for (const [label, ran] of [['inline', inline], ['by reference', byReference]] as const) {
    if (ran.run === undefined) {
      details.push(`${label}: refused by the API server: ${ran.refused ?? '?'}`);
      continue;
    }
    if (succeeded(ran.run)?.status === 'True') continue;
    const condition = (ran.taskRun ? succeeded(ran.taskRun) : undefined) ?? succeeded(ran.run);
    details.push(`${label}: ${ran.run.metadata.name} ${ran.taskRun ? 'TaskRun ' : ''}${condition?.reason ?? '?'}: ${(condition?.message ?? '').slice(0, 600)}`, ...ran.initFailures);
  }
  return details;
}

function compareSteps(spec: EmbeddedTask, inline: Ran, byReference: Ran): StepOutcome[] {
  return ((spec.steps ?? [])).map((s, i) => {
    const name = stepName(s, i);
    const a = parse(inline.logs.get(name));
    const b = parse(byReference.logs.get(name));
    // Neither ran its program (both skipped it, by a step's `when` say): the same, as far as the values go.
    if (a === undefined && b === undefined) return { step: name, verdict: 'same' as const, details: ['neither run started its program'] };
    if (a === undefined || b === undefined) {
      return { step: name, verdict: 'no record' as const, details: [`${a === undefined ? 'inline' : 'by reference'} run logged no record`] };
    }
    const diff = differences(a, b, declaredEnv(spec, s), inline.names, byReference.names);
    return { step: name, verdict: diff.length === 0 ? ('same' as const) : ('differs' as const), details: diff };
  });
}
