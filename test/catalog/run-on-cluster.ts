/**
 * The public catalog on the real cluster (./on-cluster.ts says how and what is compared): every Task with string
 * params (latest version of each), each param the rewrite accepts fed a reference result, run by reference and inline,
 * the steps' records compared. Prints each Task's verdict and the share of the catalog's string params that arrive
 * exactly as Tekton would give them inline, with why the rest do not.
 *
 *   node dist/test/catalog/run-on-cluster.js <catalog checkout> [--only <task>,…] [--parallel N] [--json FILE] [--reuse FILE…]
 *
 * --reuse takes the outcomes of earlier runs' --json files (later files win) for the Tasks it names, so a run over
 * part of the catalog (--only) completes the tally of a whole one; with --only and --reuse, only --only runs.
 *
 * Uses the cluster of TLR_NODE_CLUSTER_STATE (`npm run dev-cluster`) or starts one (as an e2e test file does).
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { connectCluster } from '../support/node/e2e-cluster.js';
import { isStringParam, latestTasks, type Refusal } from './catalog.js';
import { runPlan, type TaskOutcome } from './cluster-runner.js';
import { planFor, type Plan } from './on-cluster.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { only: { type: 'string' }, parallel: { type: 'string', default: '4' }, json: { type: 'string' }, reuse: { type: 'string', multiple: true } } });
const catalog = positionals[0];
if (catalog === undefined) {
  process.stderr.write('usage: node dist/test/catalog/run-on-cluster.js <tektoncd/catalog checkout> [--only a,b] [--parallel N] [--json FILE] [--reuse FILE]…\n');
  process.exit(2);
}
const only = values.only?.split(',');
const options = { config: parseConfig({}), featureFlags: parseFeatureFlags({}) };
const reused = new Map<string, TaskOutcome>();
for (const file of values.reuse ?? []) {
  for (const o of (JSON.parse(await readFile(file, 'utf8')) as { outcomes: TaskOutcome[] }).outcomes) reused.set(o.task, o);
}
const plans: Plan[] = latestTasks(catalog)
  .filter((t) => (t.spec.params ?? []).some(isStringParam))
  .filter((t) => only === undefined || only.includes(t.name) || reused.size > 0)
  .map((t) => planFor(t.name, t.spec, options));
const toRun = (p: Plan): boolean => p.notRun === undefined && p.fed.size > 0 && (only === undefined ? !reused.has(p.task) : only.includes(p.task));

const outcomes = new Map<string, TaskOutcome>();
let reusedCount = 0;
const started = Date.now();
// A Task none of whose params can be fed has nothing to compare.
const queue = plans.filter(toRun);
for (const p of plans) {
  const earlier = reused.get(p.task);
  if (!toRun(p) && p.notRun === undefined && p.fed.size > 0 && earlier) {
    outcomes.set(p.task, earlier);
    reusedCount++;
  }
}
if (queue.length > 0) {
  const cluster = await connectCluster();
  try {
    const worker = async (): Promise<void> => {
      for (let plan = queue.shift(); plan; plan = queue.shift()) {
        // A namespace per Task: the Secrets and ConfigMaps it reads are its own.
        const namespace = `catalog-${randomBytes(4).toString('hex')}`;
        await cluster.kubectl(['create', 'namespace', namespace]);
        const outcome = await runPlan(cluster, namespace, plan).catch((error: unknown): TaskOutcome => ({ task: plan.task, verdict: 'run failed', steps: [], details: [String(error).slice(0, 2000)] }));
        outcomes.set(plan.task, outcome);
        if (outcome.verdict === 'same' || !process.env.TLR_E2E_KEEP) await cluster.kubectl(['delete', 'namespace', namespace, '--wait=false'], { allowFailure: true });
        process.stdout.write(`${outcome.verdict.padEnd(10)} ${plan.task} (${plan.fed.size} fed)${outcome.verdict === 'same' ? '' : `\n    ${[...outcome.details, ...outcome.steps.filter((s) => s.verdict !== 'same').map((s) => `step ${s.step}: ${s.details.join('; ')}`)].join('\n    ').slice(0, 3000)}`}\n`);
      }
    };
    await Promise.all(Array.from({ length: Number(values.parallel) }, worker));
  } finally {
    await cluster.release();
  }
}

// Per param: works (fed, and its Task's every step got what inline Tekton gives), or why not.
const tally = new Map<string, number>();
const add = (why: string, n = 1): void => void tally.set(why, (tally.get(why) ?? 0) + n);
let params = 0;
for (const plan of plans) {
  const strings = (plan.spec.params ?? []).filter(isStringParam);
  params += strings.length;
  if (plan.notRun !== undefined) {
    add(`not run: ${plan.notRun.replace(/^step \S+ /, 'a step ')}`, strings.length);
    continue;
  }
  const verdict = outcomes.get(plan.task)?.verdict ?? (plan.fed.size === 0 ? 'nothing fed' : 'run failed');
  for (const p of strings) {
    const refused = plan.inline.get(p.name);
    if (refused !== undefined) add(refusalKind(refused));
    else add(verdict === 'same' ? 'works unchanged' : verdict === 'only by reference' ? 'works by reference; inline Tekton fails' : `fed, but ${verdict}`);
  }
}
const works = tally.get('works unchanged') ?? 0;
process.stdout.write(`\n${works} of ${params} string params of ${plans.length} catalog Tasks arrive by reference exactly as inline (${(100 * works / params).toFixed(1)}%), ` +
  `${outcomes.size} Tasks run twice (${reusedCount} of them reused from earlier runs), ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
for (const [why, n] of [...tally].sort((a, b) => b[1] - a[1])) process.stdout.write(`  ${String(n).padStart(4)}  ${why}\n`);
if (values.json) await writeFile(values.json, `${JSON.stringify({ params, tally: Object.fromEntries(tally), outcomes: [...outcomes.values()] }, null, 2)}\n`);

/** A param given inline, by the field the value would have gone to (`steps[].image`, `steps[].env[].valueFrom.secretKeyRef`…). */
function refusalKind(refusal: Refusal): string {
  return refusal.site === 'not a string param' ? refusal.site : `refused at admission: a reference in ${refusal.site}`;
}
