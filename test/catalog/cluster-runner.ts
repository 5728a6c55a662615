/**
 * Runs a catalog Task's plan (./on-cluster.ts) on a real cluster: both runs at once, then each step's records compared.
 */
import type { EmbeddedTask, Step } from '../../src/api/tekton.js';
import type { E2eCluster } from '../support/node/e2e-cluster.js';
import { create, get, report, succeeded, type RunObject, waitDone } from '../support/node/runs.js';
import { declaredEnv, differences, parseRecord, runOf, type Plan, type RunNames, type StepRecord } from './on-cluster.js';

export type Verdict = 'same' | 'differs' | 'no record' | 'run failed';

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

interface Ran {
  readonly run: RunObject;
  readonly taskRun?: RunObject;
  readonly names: RunNames;
  readonly logs: ReadonlyMap<string, string>;
}

async function runOnce(cluster: E2eCluster, namespace: string, plan: Plan, byReference: boolean, timeoutMs: number): Promise<Ran> {
  const name = await create(cluster, namespace, JSON.stringify(runOf(plan, byReference)));
  const run = await waitDone(cluster, namespace, 'pipelinerun', name, timeoutMs);
  const child = run.status?.childReferences?.find((c) => c.pipelineTaskName === 'use');
  const taskRun = child ? await get(cluster, namespace, 'taskrun', child.name) : undefined;
  const logs = new Map<string, string>();
  const pod = taskRun?.status?.podName;
  for (const s of taskRun?.status?.steps ?? []) {
    if (!pod) break;
    const r = await cluster.kubectl(['-n', namespace, 'logs', pod, '-c', s.container], { allowFailure: true });
    logs.set(s.name, r.stdout);
  }
  const names = [run.metadata.name, ...(taskRun ? [taskRun.metadata.name] : []), ...(pod ? [pod] : [])];
  const uids = [run.metadata.uid, ...(taskRun ? [taskRun.metadata.uid] : [])];
  return { run, ...(taskRun ? { taskRun } : {}), names: { names, uids }, logs };
}

const stepName = (s: Step, i: number): string => s.name ?? `unnamed-${i}`;

/** Both runs of the plan, compared step by step. */
export async function runPlan(cluster: E2eCluster, namespace: string, plan: Plan, timeoutMs = 600_000): Promise<TaskOutcome> {
  const [inline, byReference] = await Promise.all([runOnce(cluster, namespace, plan, false, timeoutMs), runOnce(cluster, namespace, plan, true, timeoutMs)]);
  const details: string[] = [];
  for (const [label, ran] of [['inline', inline], ['by reference', byReference]] as const) {
    const condition = succeeded(ran.run);
    if (condition?.status !== 'True') details.push(`${label}: ${ran.run.metadata.name} ${condition?.reason ?? '?'}: ${(condition?.message ?? '').slice(0, 400)}`);
  }
  const spec: EmbeddedTask = plan.spec;
  const steps = ((spec.steps ?? [])).map((s, i) => {
    const name = stepName(s, i);
    const a = parse(inline.logs.get(name));
    const b = parse(byReference.logs.get(name));
    if (a === undefined || b === undefined) {
      return { step: name, verdict: 'no record' as const, details: [`${a === undefined ? 'inline' : 'by reference'} run logged no record`] };
    }
    const diff = differences(a, b, declaredEnv(spec, s), inline.names, byReference.names);
    return { step: name, verdict: diff.length === 0 ? ('same' as const) : ('differs' as const), details: diff };
  });
  const worst: Verdict = steps.some((s) => s.verdict === 'differs') ? 'differs'
    : details.some((d) => d.startsWith('by reference')) ? 'run failed'
      : steps.some((s) => s.verdict === 'no record') ? 'no record' : 'same';
  if (worst !== 'same' && process.env.TLR_CATALOG_REPORT) details.push(await report(cluster, namespace));
  return { task: plan.task, verdict: worst, steps, details };
}

function parse(log: string | undefined): StepRecord | undefined {
  return log === undefined ? undefined : parseRecord(log);
}
