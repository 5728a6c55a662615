import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { LABEL_MANAGED_BY, MANAGED_BY, LABEL_PIPELINE_RUN_UID } from '../api/names.js';
import type { Pipeline, PipelineRun, PipelineTask, Task, TaskRef } from '../api/tekton.js';
import { isTektonTaskKind, type Resolver } from '../core/resolver.js';
import { shapeProblems } from '../core/shape/check-object.js';
import { apiMessage, isConflict, isNotFound, RESOLUTION, TEKTON, type Clients } from '../k8s/api.js';

/** What fetching a run's refs came to. */
export type FetchOutcome =
  | { readonly kind: 'ready'; readonly resolver: Resolver }
  /** A ResolutionRequest is still being answered; its update requeues the run. */
  | { readonly kind: 'waiting'; readonly waitingFor: string }
  /** The ref cannot be resolved: the run fails with this message at this field. */
  | { readonly kind: 'failed'; readonly field: string; readonly message: string };

type Fetched<T> = { kind: 'ok'; object: T } | Exclude<FetchOutcome, { kind: 'ready' }>;

interface RemoteRef {
  resolver?: string;
  params?: unknown;
  name?: string;
}

/**
 * Fetches what the rewrite needs the way Tekton does: local refs by GET in the run's namespace; remote refs
 * (`resolver: cluster|bundles|git|hub|http|…`) through a `ResolutionRequest` owned by the run, named
 * deterministically so a restarted controller finds the one it created instead of making another.
 */
export class RefFetcher {
  constructor(private readonly clients: Clients) {}

  async fetch(run: PipelineRun): Promise<FetchOutcome> {
    let pipeline: Pipeline | undefined;
    let spec = run.spec.pipelineSpec;
    const ref = run.spec.pipelineRef;
    if (!spec && ref) {
      const got = await this.get<Pipeline>(run, 'Pipeline', 'pipelines', ref, 'spec.pipelineRef', 'pipeline');
      if (got.kind !== 'ok') return got;
      // A remote Pipeline was never validated by any API server: read it only if it is shaped as Tekton's.
      const problems = shapeProblems(got.object, 'Pipeline', 'Pipeline');
      if (problems.length > 0) {
        return { kind: 'failed', field: 'spec.pipelineRef', message: `the Pipeline it names cannot be read: ${problems.map((d) => (d.path === '' ? d.message : `${d.path}: ${d.message}`)).join('; ')}` };
      }
      pipeline = got.object;
      spec = pipeline.spec;
    }
    // Where a taskRef lives, for messages: the stored Pipeline, or the run's own embedded spec.
    const specPath = pipeline ? `Pipeline ${pipeline.metadata?.namespace ?? run.metadata?.namespace ?? 'default'}/${pipeline.metadata?.name ?? ''}: spec` : 'spec.pipelineSpec';
    const tasks = await this.fetchTasks(run, spec, specPath);
    if (tasks.kind !== 'ok') return tasks;
    return {
      kind: 'ready',
      resolver: {
        pipeline: () => pipeline,
        task: (_ref: TaskRef, pipelineTask: string) => tasks.object.get(pipelineTask),
      },
    };
  }

  /** Every Tekton Task the pipeline's tasks and finally tasks refer to, by pipeline task name. */
  private async fetchTasks(run: PipelineRun, spec: Pipeline['spec'] | undefined, specPath: string): Promise<Fetched<Map<string, Task>>> {
    const byTask = new Map<string, Task>();
    const pending: string[] = [];
    const local = new Map<string, Promise<Fetched<Task>>>(); // several pipeline tasks may use one Task: one GET
    const lists: Array<['tasks' | 'finally', PipelineTask[] | undefined]> = [
      ['tasks', spec?.tasks],
      ['finally', spec?.finally],
    ];
    for (const [list, pts] of lists) {
      for (const [i, pt] of (pts ?? []).entries()) {
        if (!pt.taskRef || !isTektonTaskKind(pt.taskRef)) continue;
        const key = pt.taskRef.resolver ? undefined : pt.taskRef.name;
        const fetching = (key !== undefined ? local.get(key) : undefined) ?? this.get<Task>(run, 'Task', 'tasks', pt.taskRef, `${specPath}.${list}[${i}].taskRef`, `task-${pt.name}`);
        if (key !== undefined) local.set(key, fetching);
        const got = await fetching;
        if (got.kind === 'failed') return got;
        if (got.kind === 'waiting') pending.push(got.waitingFor);
        else byTask.set(pt.name, got.object);
      }
    }
    if (pending.length > 0) return { kind: 'waiting', waitingFor: pending.join(', ') };
    return { kind: 'ok', object: byTask };
  }

  private async get<T extends Pipeline | Task>(
    run: PipelineRun,
    kind: 'Pipeline' | 'Task',
    plural: string,
    ref: RemoteRef,
    field: string,
    purpose: string,
  ): Promise<Fetched<T>> {
    const namespace = run.metadata?.namespace ?? 'default';
    if (ref.resolver !== undefined && ref.resolver !== '') return this.resolveRemote<T>(run, kind, ref, field, purpose);
    if (ref.name === undefined) return { kind: 'failed', field, message: `expected a name or a resolver, found neither` };
    try {
      const object = (await this.clients.custom.getNamespacedCustomObject({ ...TEKTON, namespace, plural, name: ref.name })) as T;
      return { kind: 'ok', object };
    } catch (err) {
      if (isNotFound(err)) {
        return { kind: 'failed', field: `${field}.name`, message: `expected ${kind} "${ref.name}" in namespace "${namespace}", found none` };
      }
      throw err;
    }
  }

  private async resolveRemote<T extends Pipeline | Task>(run: PipelineRun, kind: string, ref: RemoteRef, field: string, purpose: string): Promise<Fetched<T>> {
    const namespace = run.metadata?.namespace ?? 'default';
    const name = resolutionRequestName(run, purpose);
    let request: ResolutionRequest;
    try {
      request = (await this.clients.custom.getNamespacedCustomObject({ ...RESOLUTION, namespace, name })) as ResolutionRequest;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.createRequest(run, name, ref);
      return { kind: 'waiting', waitingFor: `ResolutionRequest ${namespace}/${name}` };
    }
    const condition = request.status?.conditions?.find((c) => c.type === 'Succeeded');
    if (condition?.status === 'False') {
      return {
        kind: 'failed',
        field,
        message: `resolver "${ref.resolver}" could not resolve the ${kind} (ResolutionRequest ${namespace}/${name}): ${condition.message ?? condition.reason ?? 'no message'}`,
      };
    }
    if (condition?.status !== 'True' || request.status?.data === undefined) return { kind: 'waiting', waitingFor: `ResolutionRequest ${namespace}/${name}` };
    return decodeResolved<T>(request.status.data, kind, ref, field);
  }

  private async createRequest(run: PipelineRun, name: string, ref: RemoteRef): Promise<void> {
    const namespace = run.metadata?.namespace ?? 'default';
    const body = {
      apiVersion: `${RESOLUTION.group}/${RESOLUTION.version}`,
      kind: 'ResolutionRequest',
      metadata: {
        name,
        namespace,
        labels: {
          'resolution.tekton.dev/type': ref.resolver ?? '',
          [LABEL_MANAGED_BY]: MANAGED_BY,
          [LABEL_PIPELINE_RUN_UID]: run.metadata?.uid ?? '',
          'tekton.dev/pipelineRun': run.metadata?.name ?? '',
        },
        ownerReferences: [ownerReference(run)],
      },
      spec: { params: ref.params ?? [] },
    };
    try {
      await this.clients.custom.createNamespacedCustomObject({ ...RESOLUTION, namespace, body });
    } catch (err) {
      // Created by an earlier attempt that died before seeing the answer: the next reconcile reads it.
      if (!isConflict(err)) throw new Error(`creating ResolutionRequest ${namespace}/${name}: ${apiMessage(err)}`, { cause: err });
    }
  }
}

interface ResolutionRequest {
  status?: { data?: string; conditions?: Array<{ type: string; status: string; reason?: string; message?: string }> };
}

function decodeResolved<T extends Pipeline | Task>(data: string, kind: string, ref: RemoteRef, field: string): Fetched<T> {
  let object: unknown;
  try {
    object = parseYaml(Buffer.from(data, 'base64').toString('utf8'));
  } catch (err) {
    return { kind: 'failed', field, message: `resolver "${ref.resolver}" returned data that is not YAML/JSON: ${(err as Error).message}` };
  }
  const o = object as { apiVersion?: unknown; kind?: unknown } | null;
  if (o?.kind !== kind || o.apiVersion !== 'tekton.dev/v1') {
    return {
      kind: 'failed',
      field,
      message: `expected resolver "${ref.resolver}" to return a tekton.dev/v1 ${kind}, found ${String(o?.apiVersion)} ${String(o?.kind)}`,
    };
  }
  return { kind: 'ok', object: object as T };
}

/** The owner reference everything created for a run carries (garbage-collected with it). */
export function ownerReference(run: PipelineRun): { apiVersion: string; kind: string; name: string; uid: string; controller: boolean } {
  return { apiVersion: 'tekton.dev/v1', kind: 'PipelineRun', name: run.metadata?.name ?? '', uid: run.metadata?.uid ?? '', controller: true };
}

/** Deterministic per run and purpose; DNS-1123 label, so it fits everywhere. */
export function resolutionRequestName(run: PipelineRun, purpose: string): string {
  const hash = createHash('sha256').update(`${run.metadata?.uid ?? ''}/${purpose}`).digest('hex').slice(0, 10);
  return `${(run.metadata?.name ?? 'run').slice(0, 40).replace(/-+$/, '')}-tlr-${hash}`;
}
