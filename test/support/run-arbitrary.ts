/**
 * Test support: fast-check arbitraries of PipelineRuns that store results by reference (valid ones: producers,
 * consumers by value and by path, params, finally tasks, the TEP and annotation forms), and of mutations that break
 * them the ways a user, a resolver or an attacker might (a value of the wrong type anywhere, `null`, a field removed,
 * a list turned into a mapping, a non-string annotation, nesting thousands deep). Not a test file.
 */
import fc from 'fast-check';
import type { PipelineRun } from '../../src/api/tekton.js';

const TASKS = ['build', 'scan', 'test', 'deploy-2'];
const RESULTS = ['out', 'sbom', 'report.json', 'x_y'];
const PARAMS = ['input', 'SCRIPT', 'p.1'];

/** Script text: plain words and every expression the rewrite looks for, in any mix. */
const fragment = fc.oneof(
  fc.constantFrom('echo hi', '\n', ' > ', 'cat <<EOF\n', '\nEOF\n', '$(', ')', 'results', '/tekton/results/'),
  fc.constantFrom(...RESULTS).map((r) => `$(results.${r}.path)`),
  fc.constantFrom(...RESULTS).map((r) => `$(results["${r}"].path)`),
  fc.constantFrom(...RESULTS).map((r) => `/tekton/results/${r}`),
  fc.tuple(fc.constantFrom(...TASKS), fc.constantFrom(...RESULTS), fc.constantFrom('', '.path', '[*]', '.key')).map(([t, r, s]) =>
    /^[A-Za-z0-9_-]+$/.test(r) ? `$(tasks.${t}.results.${r}${s})` : `$(tasks.${t}.results["${r}"]${s})`,
  ),
  fc.constantFrom(...PARAMS).map((p) => (/^[A-Za-z0-9_-]+$/.test(p) ? `$(params.${p})` : `$(params["${p}"])`)),
  fc.string({ maxLength: 12 }),
);
const text = fc.array(fragment, { maxLength: 8 }).map((parts) => parts.join(''));

const step = fc.record(
  {
    name: fc.constantFrom('run', 'gen', 'check'),
    image: fc.constantFrom('bash', 'python:3'),
    script: text,
    args: fc.array(text, { maxLength: 2 }),
    env: fc.array(fc.record({ name: fc.constantFrom('A', 'B'), value: text }), { maxLength: 2 }),
    workingDir: text,
  },
  { requiredKeys: ['image'] },
);

const taskSpec = (tep: boolean): fc.Arbitrary<Record<string, unknown>> =>
  fc
    .record({
      results: fc.uniqueArray(fc.constantFrom(...RESULTS), { maxLength: 3 }),
      reference: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
      params: fc.uniqueArray(fc.constantFrom(...PARAMS), { maxLength: 2 }),
      defaults: fc.array(text, { minLength: 2, maxLength: 2 }),
      steps: fc.uniqueArray(step, { minLength: 1, maxLength: 3, selector: (s) => s.name }),
    })
    .map(({ results, reference, params, defaults, steps }) => {
      const refs = results.filter((_r, i) => reference[i]);
      return {
        ...(!tep && refs.length > 0 ? { metadata: { annotations: { 'tlr.dev/reference-results': refs.join(',') } } } : {}),
        ...(params.length > 0 ? { params: params.map((name, i) => ({ name, ...(i === 0 ? { default: defaults[0] } : {}) })) } : {}),
        results: results.map((name) => ({ name, ...(tep && refs.includes(name) ? { storage: 'reference' } : {}) })),
        steps,
      };
    });

const pipelineTask = (name: string, tep: boolean): fc.Arbitrary<Record<string, unknown>> =>
  fc.record({ spec: taskSpec(tep), values: fc.array(fc.tuple(fc.constantFrom(...PARAMS), text), { maxLength: 2 }) }).map(({ spec, values }) => {
    const declared = new Set(((spec.params as Array<{ name: string }> | undefined) ?? []).map((p) => p.name));
    const params = [...new Map(values.filter(([p]) => declared.has(p))).entries()].map(([p, value]) => ({ name: p, value }));
    return { name, ...(params.length > 0 ? { params } : {}), taskSpec: spec };
  });

/** Opted-in PipelineRuns with embedded specs (self-contained: the webhook rewrites them to check them). */
export const optedInRun: fc.Arbitrary<PipelineRun> = fc
  .record({
    tep: fc.boolean(),
    names: fc.uniqueArray(fc.constantFrom(...TASKS), { minLength: 1, maxLength: 4 }),
    finallyCount: fc.nat({ max: 1 }),
    runParams: fc.array(fc.tuple(fc.constantFrom(...PARAMS), text), { maxLength: 2 }),
    claim: fc.boolean(),
  })
  .chain(({ tep, names, finallyCount, runParams, claim }) =>
    fc.tuple(fc.tuple(...names.map((n) => pipelineTask(n, tep))), fc.constant({ tep, finallyCount, runParams, claim })),
  )
  .map(([tasks, { tep, finallyCount, runParams, claim }]) => {
    const main = tasks.slice(0, Math.max(1, tasks.length - finallyCount));
    const final = tasks.slice(main.length);
    const params = [...new Map(runParams).entries()].map(([name, value]) => ({ name, value }));
    return {
      apiVersion: 'tekton.dev/v1',
      kind: 'PipelineRun',
      metadata: { name: 'fuzz', namespace: 'ci', ...(tep ? {} : { annotations: { 'tlr.dev/result-workspace': 'results' } }) },
      spec: {
        ...(params.length > 0 ? { params } : {}),
        pipelineSpec: {
          ...(tep ? { resultWorkspace: { name: 'results' } } : { workspaces: [{ name: 'results' }] }),
          ...(params.length > 0 ? { params: params.map((p) => ({ name: p.name, type: 'string' })) } : {}),
          tasks: main,
          ...(final.length > 0 ? { finally: final } : {}),
        },
        ...(claim ? { workspaces: [{ name: 'results', persistentVolumeClaim: { claimName: 'mine' } }] } : {}),
      },
    } as PipelineRun;
  });

/** A value of any JSON type, including the ones that crashed the rewrite before (null, deep nesting, odd maps). */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 2, arbitrary: fc.constantFrom(null, '', 'x', 0, -1, true, [], {}, [null], { a: 'b' }, ['x'], [{}]) },
  { weight: 1, arbitrary: fc.integer({ min: 101, max: 400 }).map(nested) },
);

/** `{a: {a: … 'x' …}}`, `depth` levels deep. */
export function nested(depth: number): unknown {
  let value: unknown = 'x';
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? { a: value } : [value];
  return value;
}

export interface Mutation {
  readonly at: number;
  readonly kind: 'replace' | 'delete' | 'to-map' | 'to-string' | 'annotation';
  readonly value: unknown;
}

export const mutation: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom('replace', 'replace', 'replace', 'delete', 'to-map', 'to-string', 'annotation'),
  value: anyValue,
});

type Path = string[];

/** Every path of a JSON value (the root excluded; not below 30 levels), in document order. */
function paths(value: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  if (typeof value !== 'object' || value === null || prefix.length >= 30) return out;
  for (const [key, child] of Object.entries(value)) {
    // The key as Object.entries gives it: an array given a named property by an earlier mutation has keys that
    // are not indexes (Number() of those is NaN, a path to nowhere).
    const path = [...prefix, key];
    out.push(path);
    paths(child, path, out);
  }
  return out;
}

/** `run` with `mutations` applied, each at one of its paths (chosen by `at`); never mutates `run`. */
export function mutate<T>(run: T, mutations: readonly Mutation[]): T {
  let out = structuredClone(run) as unknown;
  for (const m of mutations) {
    if (m.kind === 'annotation') {
      out = withAnnotationValue(out, m);
      continue;
    }
    const all = paths(out);
    if (all.length === 0) continue;
    const path = all[m.at % all.length] as Path;
    const parent = path.slice(0, -1).reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], out) as Record<string, unknown>;
    const key = path[path.length - 1] as string;
    if (m.kind === 'delete' && !Array.isArray(parent)) delete parent[key];
    else if (m.kind === 'to-map') parent[key] = Array.isArray(parent[key]) ? Object.fromEntries((parent[key] as unknown[]).map((v, i) => [`k${i}`, v])) : { [String(key)]: parent[key] };
    else if (m.kind === 'to-string') parent[key] = JSON.stringify(parent[key]) ?? 'x';
    else parent[key] = structuredClone(m.value);
  }
  return out as T;
}

/** A `tlr.dev/*` annotation (on the run or on an embedded task) whose value is not a string. */
function withAnnotationValue(run: unknown, m: Mutation): unknown {
  const value = typeof m.value === 'string' ? 5 : structuredClone(m.value);
  const r = run as { metadata?: { annotations?: Record<string, unknown> }; spec?: { pipelineSpec?: { tasks?: Array<{ taskSpec?: { metadata?: { annotations?: Record<string, unknown> } } }> } } };
  const task = r.spec?.pipelineSpec?.tasks?.[m.at % Math.max(1, r.spec.pipelineSpec.tasks.length)];
  if (m.at % 2 === 0 && typeof task?.taskSpec === 'object' && task.taskSpec !== null) {
    task.taskSpec.metadata = { annotations: { 'tlr.dev/reference-results': value } };
  } else if (typeof r.metadata === 'object' && r.metadata !== null) {
    r.metadata.annotations = { ...r.metadata.annotations, 'tlr.dev/result-workspace': value };
  }
  return run;
}
