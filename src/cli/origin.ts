/**
 * Where a field of a rewritten run was written by its author. The rewrite inlines a run's referenced Pipeline
 * (`spec.pipelineSpec`) and every referenced Task (`…tasks[i].taskSpec`); a diagnostic about such a field names
 * the path in the run, but the user wrote it in another document — the Pipeline's or the Task's, often in another
 * file. This maps the path back, by the same names the CLI's resolver used (resolverFromObjects: the last document
 * of that kind and name).
 */
import { describeObject } from '../api/tekton.js';
import { isTektonTaskKind } from '../core/resolver.js';
import type { YamlDocument } from '../yaml/documents.js';

export interface Origin {
  /** The document the field is written in. */
  readonly doc: YamlDocument;
  /** The field's path in that document. */
  readonly path: string;
}

type Fields = Record<string, unknown>;

const fields = (value: unknown): Fields => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Fields) : {});

/** The document and path `path` of `doc` was written at, when it lies in an inlined Pipeline or Task; else undefined. */
export function originOf(path: string, doc: YamlDocument, docs: readonly YamlDocument[]): Origin | undefined {
  // A field of a resolved Task the rewrite names without inlining it: `<pipeline task>.taskRef (Task "x") spec.…`.
  const resolved = /^.*\.taskRef \(Task "([^"]*)"\) (spec(?:[.[].*)?)$/s.exec(path);
  if (resolved !== null) {
    const task = named(docs, 'Task', { name: resolved[1] });
    return task && { doc: task, path: resolved[2] ?? 'spec' };
  }
  let at: Origin = { doc, path };
  // A PipelineRun inlines a Pipeline that inlines Tasks: at most two hops.
  for (let hop = 0; hop < 2; hop++) {
    const next = inlinedFrom(at, docs);
    if (next === undefined) break;
    at = next;
  }
  return at.doc === doc ? undefined : at;
}

/** One hop: from a run or Pipeline into the Pipeline or Task it references, when `path` is inside the inlined spec. */
function inlinedFrom({ doc, path }: Origin, docs: readonly YamlDocument[]): Origin | undefined {
  const object = fields(doc.object);
  const spec = fields(object.spec);
  if (object.kind === 'PipelineRun') {
    const rest = under(path, 'spec.pipelineSpec');
    if (rest === undefined) return undefined;
    if (spec.pipelineSpec !== undefined) return intoTask(spec.pipelineSpec, rest, docs);
    const pipeline = named(docs, 'Pipeline', spec.pipelineRef);
    return pipeline && { doc: pipeline, path: `spec${rest}` };
  }
  if (object.kind === 'TaskRun') {
    const rest = under(path, 'spec.taskSpec');
    if (rest === undefined || spec.taskSpec !== undefined) return undefined;
    const ref = fields(spec.taskRef);
    const task = isTektonTaskKind(ref) ? named(docs, 'Task', ref) : undefined;
    return task && { doc: task, path: `spec${rest}` };
  }
  if (object.kind === 'Pipeline') {
    const rest = under(path, 'spec');
    return rest === undefined ? undefined : intoTask(spec, rest, docs);
  }
  return undefined;
}

/** From a pipeline spec into the Task a pipeline task references, when `rest` is inside that task's inlined taskSpec. */
function intoTask(pipelineSpec: unknown, rest: string, docs: readonly YamlDocument[]): Origin | undefined {
  const match = /^\.(tasks|finally)\[(\d+)\]\.taskSpec(?=$|[.[])(.*)$/s.exec(rest);
  if (match === null) return undefined;
  const [, list = '', index = '', inside = ''] = match;
  const listed = fields(pipelineSpec)[list];
  const task = fields(Array.isArray(listed) ? listed[Number(index)] : undefined);
  if (task.taskSpec !== undefined) return undefined;
  const ref = fields(task.taskRef);
  const target = isTektonTaskKind(ref) ? named(docs, 'Task', ref) : undefined;
  return target && { doc: target, path: `spec${inside}` };
}

/** What follows `prefix` in `path` (`''`, `.x…` or `[…`), or undefined when `path` is not under it. */
function under(path: string, prefix: string): string | undefined {
  if (!path.startsWith(prefix)) return undefined;
  const rest = path.slice(prefix.length);
  return rest === '' || rest.startsWith('.') || rest.startsWith('[') ? rest : undefined;
}

/** The last document of `kind` with the name a local ref gives (a resolver ref names nothing here). */
function named(docs: readonly YamlDocument[], kind: 'Pipeline' | 'Task', ref: unknown): YamlDocument | undefined {
  const { name, resolver } = fields(ref);
  if (typeof name !== 'string' || resolver !== undefined) return undefined;
  return docs.findLast((d) => fields(d.object).kind === kind && fields(fields(d.object).metadata).name === name);
}

/** How a diagnostic found through a run names the document it points into: `Task build, run by PipelineRun r`. */
export function originLabel(origin: Origin, about: string): string {
  return `${describeObject(origin.doc.object as Parameters<typeof describeObject>[0])}, run by ${about}`;
}
