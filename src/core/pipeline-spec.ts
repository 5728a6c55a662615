import { TASK_WORKSPACE } from '../api/names.js';
import type { EmbeddedTask, PipelineSpec, PipelineTask, Task } from '../api/tekton.js';
import type { Config } from './config.js';
import { rewriteConsumer, mentionsReference, type Producers } from './consumer.js';
import { convertObject } from './convert.js';
import type { Diagnostics } from './diagnostics.js';
import { inlineTask } from './inline.js';
import { childPath } from './json-walk.js';
import type { Layout } from './layout.js';
import { referenceResultNames } from './opt-in.js';
import { rewriteProducer } from './producer.js';
import { isTektonTaskKind, type Resolver } from './resolver.js';
import { findTaskResultExpressions } from './variables.js';
import { forEachString } from './json-walk.js';

export interface PipelineSpecInput {
  /** A private copy of the pipeline spec: edited in place. */
  readonly spec: PipelineSpec;
  /** Field path of the spec (`spec` or `spec.pipelineSpec`). */
  readonly path: string;
  readonly resolver: Resolver;
  readonly diags: Diagnostics;
}

interface Entry {
  pt: PipelineTask;
  path: string;
  /** The Task behind a taskRef, when resolved. */
  task?: Task;
  /** Reference results this pipeline task produces. */
  results: string[];
}

/** What the analysis found: which pipeline tasks produce reference results, and refs it could not resolve. */
export interface PipelineAnalysis {
  readonly producers: Producers;
  readonly unresolved: readonly string[];
  readonly entries: readonly Entry[];
}

/** Finds the producers of a pipeline spec (resolving taskRefs through the resolver). Reports to diags. */
export function analysePipelineSpec(input: PipelineSpecInput): PipelineAnalysis {
  const entries: Entry[] = [];
  const unresolved: string[] = [];
  for (const list of ['tasks', 'finally'] as const) {
    (input.spec[list] ?? []).forEach((pt, i) => {
      const path = childPath(childPath(input.path, list), i);
      const entry: Entry = { pt, path, results: [] };
      if (pt.taskSpec) {
        const base = childPath(path, 'taskSpec');
        const paths = { meta: childPath(base, 'metadata'), results: childPath(base, 'results') };
        entry.results = referenceResultNames(pt.taskSpec.metadata, pt.taskSpec.results, paths, input.diags);
      } else if (pt.taskRef && isTektonTaskKind(pt.taskRef)) {
        const found = input.resolver.task(pt.taskRef, pt.name);
        if (found) {
          const task = convertObject(found, input.diags);
          const where = `${childPath(path, 'taskRef')} (Task "${task.metadata?.name ?? ''}")`;
          entry.task = task;
          entry.results = referenceResultNames(task.metadata, task.spec.results, { meta: `${where} metadata`, results: `${where} spec.results` }, input.diags);
        } else {
          unresolved.push(path);
        }
      }
      entries.push(entry);
    });
  }
  const producers = new Map<string, Set<string>>();
  for (const e of entries) if (e.results.length > 0) producers.set(e.pt.name, new Set(e.results));
  return { producers, unresolved, entries };
}

/**
 * Rewrites every producer and consumer of an analysed pipeline spec in place and binds them to the result
 * workspace. Returns the names of the pipeline tasks it changed and the refs it inlined.
 */
export function rewritePipelineSpec(
  input: PipelineSpecInput,
  analysis: PipelineAnalysis,
  resultWorkspace: string,
  layout: Layout,
  config: Config,
): { touched: string[]; inlined: Record<string, unknown> } {
  const { diags } = input;
  const touched: string[] = [];
  const inlined: Record<string, unknown> = {};
  for (const entry of analysis.entries) {
    const { path } = entry;
    const isProducer = entry.results.length > 0;
    const consumes = mentionsReference(entry.pt, analysis.producers);
    if (!isProducer && !consumes) continue;
    const pt = embed(entry, inlined, diags);
    if (!pt) continue;
    if (isProducer) {
      if (pt.matrix !== undefined) {
        diags.error(
          childPath(path, 'matrix'),
          `pipeline task "${pt.name}" stores results by reference (${entry.results.join(', ')}) and fans out with a matrix; ` +
            `Tekton aggregates matrixed results into arrays, which cannot be stored by reference. Remove the matrix or keep these results classic ones`,
        );
        continue;
      }
      const label = `pipeline task "${pt.name}"`;
      rewriteProducer({ taskSpec: pt.taskSpec, results: entry.results, producer: pt.name, path: childPath(path, 'taskSpec'), label }, layout, config, diags);
    }
    if (consumes) rewriteConsumer({ pipelineTask: pt, path, producers: analysis.producers, isProducer }, layout, diags);
    if (!(pt.workspaces ?? []).some((w) => w.name === TASK_WORKSPACE)) {
      pt.workspaces = [...(pt.workspaces ?? []), { name: TASK_WORKSPACE, workspace: resultWorkspace }];
    }
    replaceEntry(input.spec, entry.pt, pt);
    touched.push(pt.name);
  }
  checkPipelineResults(input, analysis.producers);
  return { touched, inlined };
}

function embed(entry: Entry, inlined: Record<string, unknown>, diags: Diagnostics): (PipelineTask & { taskSpec: EmbeddedTask }) | undefined {
  const { pt, path } = entry;
  if (pt.taskSpec) return pt as PipelineTask & { taskSpec: EmbeddedTask };
  if (entry.task) {
    inlined[pt.name] = pt.taskRef;
    return inlineTask(pt, entry.task);
  }
  const what = pt.taskRef ? (isTektonTaskKind(pt.taskRef) ? 'its Task was not supplied' : 'it runs a custom task') : 'it runs a child pipeline';
  diags.error(
    path,
    `pipeline task "${pt.name}" uses a result stored by reference, but ${what}; the value can only be delivered into ` +
      `the steps of a Tekton Task. Supply the Task (tlr render -f task.yaml) or keep the result a classic one`,
  );
  return undefined;
}

function replaceEntry(spec: PipelineSpec, from: PipelineTask, to: PipelineTask): void {
  for (const list of ['tasks', 'finally'] as const) {
    const items = spec[list];
    const i = items?.indexOf(from) ?? -1;
    if (items && i >= 0) items[i] = to;
  }
}

function checkPipelineResults(input: PipelineSpecInput, producers: Producers): void {
  (input.spec.results ?? []).forEach((result, i) => {
    forEachString(result.value, childPath(childPath(childPath(input.path, 'results'), i), 'value'), (text, at) => {
      for (const e of findTaskResultExpressions(text)) {
        if (e.scope !== 'tasks' || !producers.get(e.task)?.has(e.result) || e.suffix === '') continue;
        input.diags.error(
          at(),
          `pipeline result "${result.name}": result "${e.result}" of task "${e.task}" is stored by reference; expected ` +
            `$(tasks.${e.task}.results.${e.result}) (the reference travels, and \`tlr\` resolves it to the value or the file), found ${e.text}`,
        );
      }
    });
  });
}

/** Adds the result workspace to the pipeline's declared workspaces when missing. */
export function declareResultWorkspace(spec: PipelineSpec, name: string): void {
  if ((spec.workspaces ?? []).some((w) => w.name === name)) return;
  spec.workspaces = [...(spec.workspaces ?? []), { name, description: 'Holds results stored by reference (Tekton Large Results).' }];
}

