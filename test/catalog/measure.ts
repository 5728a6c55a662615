/**
 * How much of the public Tekton catalog takes a reference result unchanged: every Task (latest version of each) that
 * has string params is fed, one param at a time, a reference result from a producer, and the pure rewrite (the same
 * function as the webhook's) decides. Reports the share of params accepted with values in args, command and env on
 * (the default) and off (as before the exec helper), and what the refusals are, by field.
 *
 *   node dist/test/catalog/measure.js <catalog checkout> [--json]
 *
 * A static measure: it says where the value can be put, not that each Task's images and commands then work.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { EmbeddedTask, PipelineRun } from '../../src/api/tekton.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { RewriteError } from '../../src/errors.js';

interface Param {
  name: string;
  type?: string;
  default?: unknown;
}

/** The latest version directory of each task: task/<name>/<x.y>/<name>.yaml. */
function latestTasks(catalog: string): Array<{ name: string; file: string }> {
  const out: Array<{ name: string; file: string }> = [];
  for (const entry of readdirSync(join(catalog, 'task'), { withFileTypes: true }).filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const name = entry.name;
    const versions = readdirSync(join(catalog, 'task', name)).filter((v) => /^\d+(\.\d+)*$/.test(v));
    versions.sort((a, b) => compareVersions(b, a));
    const latest = versions[0];
    if (latest) out.push({ name, file: join(catalog, 'task', name, latest, `${name}.yaml`) });
  }
  return out;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

function literal(p: Param): unknown {
  if (p.type === 'array') return ['x'];
  if (p.type === 'object') return {};
  return 'x';
}

/** The run: `gen` produces `r` by reference; `use` runs the catalog Task's spec with `fed` given the reference. */
function runFor(spec: EmbeddedTask, params: readonly Param[], fed: string): PipelineRun {
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    metadata: { name: 'catalog', namespace: 'ci' },
    spec: {
      pipelineSpec: {
        resultWorkspace: { name: 'results' },
        tasks: [
          { name: 'gen', taskSpec: { results: [{ name: 'r', storage: 'reference' }], steps: [{ name: 'w', image: 'bash', script: 'echo > $(results.r.path)' }] } },
          {
            name: 'use',
            params: params.map((p) => ({ name: p.name, value: p.name === fed ? '$(tasks.gen.results.r)' : literal(p) })),
            taskSpec: spec,
          },
        ],
      },
    },
  } as unknown as PipelineRun;
}

/** Where in the task the refused use is, from the diagnostic's field path (`steps[].env[].valueFrom`, `sidecars[].image`…). */
function siteOf(path: string): string | undefined {
  const m = /\.taskSpec\.(.*)$/.exec(path);
  return m?.[1]?.replace(/\[\d+\]/g, '[]').replace(/\.(secretKeyRef|configMapKeyRef|fieldRef|resourceFieldRef)\..*$/, '.$1');
}

/** Where the rewrite refuses the param fed a reference, and its message; undefined when it accepts it. */
function refusalOf(spec: EmbeddedTask, params: readonly Param[], fed: string, options: Parameters<typeof rewritePipelineRun>[1]): { site: string; message: string } | undefined {
  try {
    rewritePipelineRun(runFor(structuredClone(spec), params, fed), options);
    return undefined;
  } catch (error) {
    const first = error instanceof RewriteError ? error.diagnostics.find((d) => d.severity === 'error') : undefined;
    const message = first?.message ?? String(error);
    return { site: (first ? siteOf(first.path) : undefined) ?? message.slice(0, 80), message };
  }
}

function measure(catalog: string, valuesInArgsAndEnv: boolean): { params: number; accepted: number; tasks: number; refusals: Map<string, number>; examples: Map<string, string> } {
  const options = { config: parseConfig({ valuesInArgsAndEnv: String(valuesInArgsAndEnv) }), featureFlags: parseFeatureFlags({}) };
  let params = 0;
  let accepted = 0;
  let tasks = 0;
  const refusals = new Map<string, number>();
  const examples = new Map<string, string>();
  for (const { name, file } of latestTasks(catalog)) {
    const doc = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as { kind?: string; spec?: EmbeddedTask }).find((d) => d?.kind === 'Task');
    const spec = doc?.spec;
    const all = ((spec?.params ?? []) as Param[]);
    const strings = all.filter((p) => (p.type ?? 'string') === 'string');
    if (!spec || strings.length === 0) continue;
    tasks += 1;
    for (const p of strings) {
      params += 1;
      const refused = refusalOf(spec, all, p.name, options);
      if (refused === undefined) {
        accepted += 1;
        continue;
      }
      refusals.set(refused.site, (refusals.get(refused.site) ?? 0) + 1);
      if (!examples.has(refused.site)) examples.set(refused.site, `${name} param ${p.name}: ${refused.message.slice(0, 300)}`);
    }
  }
  return { params, accepted, tasks, refusals, examples };
}

const catalog = process.argv[2];
if (!catalog) {
  process.stderr.write('usage: node dist/test/catalog/measure.js <tektoncd/catalog checkout>\n');
  process.exit(2);
}
for (const on of [false, true]) {
  const r = measure(catalog, on);
  const pct = (100 * r.accepted / r.params).toFixed(1);
  process.stdout.write(`valuesInArgsAndEnv ${on}: ${r.accepted} of ${r.params} string params of ${r.tasks} Tasks take a reference value (${pct}%)\n`);
  for (const [field, n] of [...r.refusals].sort((a, b) => b[1] - a[1])) process.stdout.write(`  refused in ${field}: ${n}   e.g. ${r.examples.get(field)}\n`);
}
