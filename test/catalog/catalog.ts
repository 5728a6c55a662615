/**
 * The public Tekton catalog as the catalog measures read it (./measure.ts, ./samples.ts, ./on-cluster.ts): the latest
 * version of each Task, and what the rewrite (the webhook's function) says when a Task's params are fed reference
 * results.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { EmbeddedTask, ParamSpec, PipelineRun } from '../../src/api/tekton.js';
import type { RewriteOptions } from '../../src/core/options.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { RewriteError } from '../../src/errors.js';

export interface CatalogTask {
  readonly name: string;
  readonly file: string;
  readonly spec: EmbeddedTask;
}

/** A param Tekton takes as a string (the type's default). */
export const isStringParam = (p: ParamSpec): boolean => (p.type ?? 'string') === 'string';

/** The latest version directory of each task, by name: task/<name>/<x.y>/. */
export function latestTaskDirs(catalog: string): Array<{ name: string; dir: string }> {
  const out: Array<{ name: string; dir: string }> = [];
  for (const entry of readdirSync(join(catalog, 'task'), { withFileTypes: true }).filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const versions = readdirSync(join(catalog, 'task', entry.name)).filter((v) => /^\d+(\.\d+)*$/.test(v));
    versions.sort((a, b) => compareVersions(b, a));
    if (versions[0] !== undefined) out.push({ name: entry.name, dir: join(catalog, 'task', entry.name, versions[0]) });
  }
  return out;
}

/** The Task of the latest version directory of each task: task/<name>/<x.y>/<name>.yaml. */
export function latestTasks(catalog: string): CatalogTask[] {
  return latestTaskDirs(catalog).flatMap(({ name, dir }) => {
    const file = join(dir, `${name}.yaml`);
    const spec = taskSpecIn(readFileSync(file, 'utf8'));
    return spec ? [{ name, file, spec }] : [];
  });
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

function literal(p: ParamSpec): unknown {
  if (p.type === 'array') return ['x'];
  if (p.type === 'object') return {};
  return 'x';
}

/** The run: `gen` produces `r` by reference; `use` runs the catalog Task's spec with `fed` given the reference. */
export function runFor(spec: EmbeddedTask, params: readonly ParamSpec[], fed: string): PipelineRun {
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

/** Why the rewrite refuses a run: where (the refused field, from its path) and its first error's message. */
export interface Refusal {
  /** The field of the task the value would have gone to, indices elided (`steps[].image`, `steps[].env[].valueFrom`…). */
  readonly site: string;
  readonly message: string;
}

/** The rewrite's refusal of `run`; undefined when it accepts it. */
export function refusalOfRun(run: PipelineRun, options: RewriteOptions): Refusal | undefined {
  try {
    rewritePipelineRun(run, options);
    return undefined;
  } catch (error) {
    if (!(error instanceof RewriteError)) throw error;
    const first = error.diagnostics.find((d) => d.severity === 'error');
    const message = first?.message ?? error.message;
    return { site: (first ? siteOf(first.path) : undefined) ?? message.slice(0, 80), message };
  }
}

/** Where the rewrite refuses the param fed a reference, and its message; undefined when it accepts it. */
export function refusalOf(spec: EmbeddedTask, params: readonly ParamSpec[], fed: string, options: RewriteOptions): Refusal | undefined {
  return refusalOfRun(runFor(structuredClone(spec), params, fed), options);
}

/** The spec of the first Task in a YAML file's documents. */
export function taskSpecIn(text: string): EmbeddedTask | undefined {
  return parseAllDocuments(text).map((d) => d.toJS() as { kind?: string; spec?: EmbeddedTask }).find((d) => d?.kind === 'Task')?.spec;
}
