/**
 * The public Tekton catalog as the catalog measures read it (./measure.ts, ./on-cluster.ts): the latest version of
 * each Task, and what the rewrite (the webhook's function) says when one of a Task's params is fed a reference result.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { EmbeddedTask, ParamSpec, PipelineRun } from '../../src/api/tekton.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { RewriteError } from '../../src/errors.js';

export interface CatalogTask {
  readonly name: string;
  readonly file: string;
  readonly spec: EmbeddedTask;
}

type Param = ParamSpec;

/** The Task of the latest version directory of each task: task/<name>/<x.y>/<name>.yaml. */
export function latestTasks(catalog: string): CatalogTask[] {
  const out: CatalogTask[] = [];
  for (const entry of readdirSync(join(catalog, 'task'), { withFileTypes: true }).filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const name = entry.name;
    const versions = readdirSync(join(catalog, 'task', name)).filter((v) => /^\d+(\.\d+)*$/.test(v));
    versions.sort((a, b) => compareVersions(b, a));
    const latest = versions[0];
    if (latest === undefined) continue;
    const file = join(catalog, 'task', name, latest, `${name}.yaml`);
    const spec = taskSpecIn(readFileSync(file, 'utf8'));
    if (spec) out.push({ name, file, spec });
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
export function runFor(spec: EmbeddedTask, params: readonly Param[], fed: string): PipelineRun {
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
export function refusalOf(spec: EmbeddedTask, params: readonly Param[], fed: string, options: Parameters<typeof rewritePipelineRun>[1]): { site: string; message: string } | undefined {
  try {
    rewritePipelineRun(runFor(structuredClone(spec), params, fed), options);
    return undefined;
  } catch (error) {
    const first = error instanceof RewriteError ? error.diagnostics.find((d) => d.severity === 'error') : undefined;
    const message = first?.message ?? String(error);
    return { site: (first ? siteOf(first.path) : undefined) ?? message.slice(0, 80), message };
  }
}

/** The spec of the first Task in a YAML file's documents. */
export function taskSpecIn(text: string): EmbeddedTask | undefined {
  return parseAllDocuments(text).map((d) => d.toJS() as { kind?: string; spec?: EmbeddedTask }).find((d) => d?.kind === 'Task')?.spec;
}
