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
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { isStringParam, latestTasks, refusalOf } from './catalog.js';

function measure(catalog: string, valuesInArgsAndEnv: boolean): { params: number; accepted: number; tasks: number; refusals: Map<string, number>; examples: Map<string, string> } {
  const options = { config: parseConfig({ valuesInArgsAndEnv: String(valuesInArgsAndEnv) }), featureFlags: parseFeatureFlags({}) };
  let params = 0;
  let accepted = 0;
  let tasks = 0;
  const refusals = new Map<string, number>();
  const examples = new Map<string, string>();
  for (const { name, spec } of latestTasks(catalog)) {
    const all = spec.params ?? [];
    const strings = all.filter(isStringParam);
    if (strings.length === 0) continue;
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
