/**
 * `tlr fetch`: reads results stored by reference back out of a run's result volume. The volume is only reachable from
 * a pod, so this starts a short-lived reader pod (the tlr-init image, the volume mounted read-only, restricted
 * securityContext), execs `tlr-init export <reference>` in it for each result (the same path and symlink checks as the
 * consumer's init container), verifies size and sha256 locally while writing, and deletes the pod afterwards.
 * Needs, in the run's namespace: get pipelineruns, list taskruns, create/get/delete pods, get and create pods/exec,
 * get persistentvolumeclaims (optional: without it a deleted claim is found by the reader pod's scheduling).
 */
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Exec, type KubeConfig, type V1PersistentVolumeClaim, type V1Pod, type V1Status } from '@kubernetes/client-node';
import { TASK_OUTPUT_WORKSPACE, TASK_WORKSPACE, VIEW_WORKSPACES, ANNOTATION_RESULT_VOLUME, LABEL_MANAGED_BY, MANAGED_BY } from '../api/names.js';
import type { PipelineRun } from '../api/tekton.js';
import { apiMessage, isNotFound, isUnreachable, makeClients, TEKTON, type Clients } from '../k8s/api.js';
import { TlrError } from '../errors.js';
import { formatSelector } from '../core/structured.js';
import { recordedReferences, selectReferences, type NamedReference, type UnusableReference } from './references.js';
import { selectVerified, ShortTransfer, verifiedFile } from './verified-file.js';

export interface FetchOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly run: string;
  /** `<task>.<result>` or pipeline result names; empty: every reference the run recorded. */
  readonly names: readonly string[];
  readonly outDir: string;
  readonly image: string;
  readonly mountPath: string;
  readonly timeoutSeconds: number;
  /** What happened (the reader pod, each verified result). */
  readonly log: (line: string) => void;
  /** A warning (a result skipped); default: log. */
  readonly warn?: (line: string) => void;
  /** The bytes of a result as they arrive. */
  readonly progress?: (name: string, bytes: number, total: number) => void;
  /** Aborted (Ctrl-C): the transfer stops, its partial file and the reader pod are removed; E_INTERRUPTED. */
  readonly signal?: AbortSignal;
}

export interface Fetched {
  readonly name: string;
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
}

/** What to fetch and from which claim: everything that needs no pod, so it can be checked first. */
export async function planFetch(
  clients: Clients,
  namespace: string,
  runName: string,
  names: readonly string[],
): Promise<{ claim: string; refs: NamedReference[]; skipped: UnusableReference[] }> {
  const { run, taskRuns, what } = await readRun(clients, namespace, runName);
  const claim = claimOf(run, taskRuns, what);
  const recorded = recordedReferences(run, taskRuns);
  return { claim, refs: selectReferences(recorded, names, what), skipped: names.length === 0 ? recorded.unusable : [] };
}

/** The run and its TaskRuns (get pipelineruns, list taskruns): what `tlr results` and `tlr fetch` read first. */
export async function readRun(clients: Clients, namespace: string, runName: string): Promise<{ run: PipelineRun; taskRuns: TaskRunLike[]; what: string }> {
  const what = `PipelineRun ${namespace}/${runName}`;
  let run: PipelineRun;
  try {
    run = (await clients.custom.getNamespacedCustomObject({ ...TEKTON, namespace, plural: 'pipelineruns', name: runName })) as PipelineRun;
  } catch (err) {
    if (isUnreachable(err)) {
      const server = clients.kubeConfig.getCurrentCluster()?.server ?? 'the API server';
      throw new TlrError('E_FETCH', `${what}: cannot reach ${server}: ${apiMessage(err)} (is the cluster up, and the kubeconfig's context the right one?)`, { cause: err });
    }
    throw new TlrError('E_FETCH', isNotFound(err) ? `${what}: not found` : `${what}: ${apiMessage(err)}`, { cause: err });
  }
  let taskRuns: { items: TaskRunLike[] };
  try {
    taskRuns = (await clients.custom.listNamespacedCustomObject({ ...TEKTON, namespace, plural: 'taskruns', labelSelector: `tekton.dev/pipelineRun=${runName}` })) as { items: TaskRunLike[] };
  } catch (err) {
    throw new TlrError('E_FETCH', `${what}: cannot list its TaskRuns: ${apiMessage(err)}`, { cause: err });
  }
  return { run, taskRuns: taskRuns.items, what };
}

/** The run's result volume for messages: its PVC, or why it is not known yet. */
export function describeResultVolume(run: PipelineRun, taskRuns: readonly TaskRunLike[], what: string): string {
  try {
    return `PersistentVolumeClaim ${claimOf(run, taskRuns, what)}`;
  } catch (error) {
    return (error as Error).message.replace(`${what}: `, '');
  }
}

export interface TaskRunLike {
  metadata?: { labels?: Record<string, string> };
  spec?: { workspaces?: Array<{ name?: string; persistentVolumeClaim?: { claimName?: string } }> };
  status?: { results?: Array<{ name?: string; value?: unknown }> };
}

/**
 * The run's result PVC: the one it names (`user-claim:<pvc>`, or `provisioned:<pvc>` by an earlier version), or, for
 * a volumeClaimTemplate (`template`), the PVC Tekton made from it, which Tekton names in each TaskRun's binding of the
 * tasks' `tlr-output` (producers) or `tlr-results` (consumers) workspace.
 */
function claimOf(run: PipelineRun, taskRuns: readonly TaskRunLike[], what: string): string {
  const volume = run.metadata?.annotations?.[ANNOTATION_RESULT_VOLUME] ?? '';
  const named = /^(?:provisioned|user-claim):(.+)$/.exec(volume)?.[1];
  if (named !== undefined) return named;
  if (volume === 'template') {
    for (const taskRun of taskRuns) {
      const claim = boundResultClaim(taskRun);
      if (claim) return claim;
    }
    throw new TlrError('E_FETCH', `${what}: no TaskRun of the run binds its result volume yet (its ${TASK_OUTPUT_WORKSPACE} or ${TASK_WORKSPACE} workspace); try again once a task ran`);
  }
  throw new TlrError(
    'E_FETCH',
    `${what}: metadata.annotations[${ANNOTATION_RESULT_VOLUME}]: expected template, provisioned:<pvc> or user-claim:<pvc> ` +
      `(a run rewritten by Tekton Large Results), found ${volume === '' ? 'none' : `"${volume}"`}`,
  );
}

/** The result claim a TaskRun of a rewritten run binds, through its tlr-output or tlr-results workspace. */
export function boundResultClaim(taskRun: TaskRunLike): string | undefined {
  return taskRun.spec?.workspaces?.find((w) => VIEW_WORKSPACES.has(w.name ?? ''))?.persistentVolumeClaim?.claimName;
}

export async function fetchResults(options: FetchOptions): Promise<Fetched[]> {
  const clients = makeClients(options.kubeConfig);
  const what = `PipelineRun ${options.namespace}/${options.run}`;
  const { claim, refs, skipped } = await planFetch(clients, options.namespace, options.run, options.names);
  for (const s of skipped) (options.warn ?? options.log)(`skipped result ${s.name}: ${s.problem}`);
  await checkClaim(clients, options.namespace, claim, what);
  throwIfInterrupted(options, what, []);
  const pod = await startReader(clients, options, claim);
  const fetched: Fetched[] = [];
  try {
    await waitRunning(clients, options, pod, claim);
    for (const ref of refs) {
      throwIfInterrupted(options, what, fetched);
      fetched.push(await fetchOne(options, pod, ref));
    }
    return fetched;
  } catch (err) {
    // Whatever was in flight when Ctrl-C came (a sleep, the exec stream) ends in its own error: say what happened.
    throwIfInterrupted(options, what, fetched, `; reader pod ${options.namespace}/${pod} deleted`);
    throw err;
  } finally {
    await clients.core.deleteNamespacedPod({ namespace: options.namespace, name: pod, gracePeriodSeconds: 0 }).catch(() => undefined);
  }
}

function throwIfInterrupted(options: FetchOptions, what: string, fetched: readonly Fetched[], cleaned = ''): void {
  if (options.signal?.aborted !== true) return;
  const kept = fetched.length > 0 ? `; fetched and verified before it: ${fetched.map((f) => f.name).join(', ')}` : '';
  throw new TlrError('E_INTERRUPTED', `${what}: interrupted${cleaned}; no partial file kept${kept}`);
}

/**
 * The result claim, read before a reader pod is made for it: deleted (a retention policy, or by hand) or being
 * deleted, a pod would wait for it until --timeout. Without get on persistentvolumeclaims (an older Role) the pod's
 * scheduling condition says the same, a little later (waitRunning).
 */
async function checkClaim(clients: Clients, namespace: string, claim: string, what: string): Promise<void> {
  const pvc = `PersistentVolumeClaim ${namespace}/${claim} (the result volume of ${what})`;
  let found: V1PersistentVolumeClaim;
  try {
    found = await clients.core.readNamespacedPersistentVolumeClaim({ namespace, name: claim });
  } catch (err) {
    if (isNotFound(err)) throw new TlrError('E_FETCH', `${pvc}: not found: it was deleted (a retention policy in tlr-config, or by hand), and the results it held with it`, { cause: err });
    if (isUnreachable(err)) throw new TlrError('E_FETCH', `${pvc}: cannot reach the API server: ${apiMessage(err)}`, { cause: err });
    return; // forbidden or otherwise unreadable: the reader pod finds out
  }
  if (found.metadata?.deletionTimestamp !== undefined) {
    throw new TlrError('E_FETCH', `${pvc}: being deleted since ${new Date(found.metadata.deletionTimestamp).toISOString()}: no new pod may mount it, and the results go with it`);
  }
  if (found.status?.phase === 'Lost') throw new TlrError('E_FETCH', `${pvc}: phase Lost: its PersistentVolume ${found.spec?.volumeName ?? ''} is gone, and the results with it`);
}

async function startReader(clients: Clients, options: FetchOptions, claim: string): Promise<string> {
  const name = `tlr-fetch-${randomBytes(4).toString('hex')}`;
  const body: V1Pod = {
    metadata: { name, namespace: options.namespace, labels: { [LABEL_MANAGED_BY]: MANAGED_BY, 'tekton.dev/pipelineRun': options.run } },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      activeDeadlineSeconds: options.timeoutSeconds + 600,
      securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'reader',
          image: options.image,
          command: ['tlr-init'],
          args: ['idle', '--seconds', String(options.timeoutSeconds + 600)],
          volumeMounts: [{ name: 'results', mountPath: options.mountPath, readOnly: true }],
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
          resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '1', memory: '256Mi' } },
        },
      ],
      volumes: [{ name: 'results', persistentVolumeClaim: { claimName: claim, readOnly: true } }],
    },
  };
  await clients.core.createNamespacedPod({ namespace: options.namespace, body });
  options.log(`started reader pod ${options.namespace}/${name} on PVC ${claim}`);
  return name;
}

async function waitRunning(clients: Clients, options: FetchOptions, name: string, claim: string): Promise<void> {
  const deadline = Date.now() + options.timeoutSeconds * 1000;
  let pod: V1Pod | undefined;
  while (Date.now() < deadline) {
    pod = await clients.core.readNamespacedPod({ namespace: options.namespace, name });
    const phase = pod.status?.phase;
    if (phase === 'Running') return;
    if (phase === 'Failed' || phase === 'Succeeded') break;
    const gone = claimGone(pod, claim);
    if (gone !== undefined) {
      throw new TlrError('E_FETCH', `reader pod ${options.namespace}/${name}: cannot be scheduled: ${gone}; the result volume was deleted, and the results it held with it`);
    }
    await sleep(1000, undefined, { signal: options.signal }).catch(() => undefined);
    if (options.signal?.aborted === true) return;
  }
  const why = pod ? notReadyReasons(pod) : [];
  throw new TlrError(
    'E_FETCH',
    `reader pod ${options.namespace}/${name}: expected it Running within ${options.timeoutSeconds} s, found phase ` +
      `${pod?.status?.phase ?? 'unknown'}${why.length > 0 ? ` (${why.join('; ')})` : ''}. A ReadWriteOnce volume is usable from one node ` +
      'at a time: wait for the run to finish, or raise --timeout',
  );
}

/** The scheduler's word that the claim is gone (its volume-binding plugin: `persistentvolumeclaim "x" not found`). */
function claimGone(pod: V1Pod, claim: string): string | undefined {
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  const message = scheduled?.message ?? '';
  return message.includes(`persistentvolumeclaim "${claim}" not found`) || message.includes(`persistentvolumeclaim "${claim}" is being deleted`) ? message : undefined;
}

/** Why a pod is not running: its false conditions and its containers' waiting or terminated reasons. */
function notReadyReasons(pod: V1Pod): string[] {
  const conditions = (pod.status?.conditions ?? []).filter((c) => c.status !== 'True').map((c) => `${c.type}: ${c.reason ?? ''} ${c.message ?? ''}`.trim());
  const containers = (pod.status?.containerStatuses ?? []).map((c) => c.state?.waiting?.reason ?? c.state?.terminated?.reason ?? '').filter(Boolean);
  return [...conditions, ...containers];
}

/** Attempts per result when the exec stream ends early (ShortTransfer); a wrong digest is never retried. */
const TRANSFER_ATTEMPTS = 3;

async function fetchOne(options: FetchOptions, pod: string, ref: NamedReference): Promise<Fetched> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetchOnce(options, pod, ref);
    } catch (err) {
      if (!(err instanceof ShortTransfer) || attempt >= TRANSFER_ATTEMPTS) throw err;
      options.log(
        `${ref.name}: the stream from the reader pod ended after ${err.bytes} of ${ref.reference.size} bytes (nothing kept); ` +
          `fetching it again (${attempt + 1}/${TRANSFER_ATTEMPTS})`,
      );
    }
  }
}

async function fetchOnce(options: FetchOptions, pod: string, ref: NamedReference): Promise<Fetched> {
  const file = join(options.outDir, ref.name);
  if (dirname(resolve(file)) !== resolve(options.outDir)) {
    // references.ts admits only plain file names; this keeps it so whatever changes there.
    throw new TlrError('E_FETCH', `result ${JSON.stringify(ref.name)}: expected a file directly in ${options.outDir}, found ${file}; nothing was written`);
  }
  // An element of a structured value: the whole value is fetched and verified first (only it has a digest), beside
  // the output under a name no result can have (a result's file name starts with a letter or digit), then the element
  // is taken from it.
  const whole = ref.selector === undefined ? file : join(options.outDir, `.${ref.name}.tlr-value`);
  const sink = verifiedFile(whole, ref.reference, (bytes) => options.progress?.(ref.name, bytes, ref.reference.size));
  let stderr = '';
  const errors = new Writable({
    write(chunk: Buffer, _e, cb): void {
      if (stderr.length < 8192) stderr += chunk.toString();
      cb();
    },
  });
  try {
    const status = await execExport(options, pod, ref, sink.stream, errors);
    if (status.status !== 'Success') {
      throw new TlrError(
        'E_FETCH',
        `PipelineRun ${options.namespace}/${options.run}: result ${ref.name}: tlr-init export in reader pod ${options.namespace}/${pod} failed: ` +
          `${stderr.trim() || status.message || 'no message'}`,
      );
    }
    if (!sink.stream.writableFinished) {
      await new Promise<void>((resolve, reject) => {
        sink.stream.once('finish', resolve);
        sink.stream.once('error', reject);
        if (!sink.stream.writableEnded) sink.stream.end();
      });
    }
    const { bytes, sha256 } = await sink.finish();
    if (ref.selector === undefined) {
      options.log(`${ref.name}: ${bytes} bytes, sha256 ${sha256} verified -> ${file}`);
      return { name: ref.name, file, bytes, sha256 };
    }
    const element = formatSelector(ref.selector);
    const selected = await selectVerified(whole, file, ref.selector, `result ${ref.name} (element ${element} of a value of ${bytes} bytes)`);
    options.log(`${ref.name}: element ${element} of a value of ${bytes} bytes, sha256 ${sha256} verified: ${selected.bytes} bytes -> ${file}`);
    return { name: ref.name, file, ...selected };
  } catch (err) {
    await sink.abort();
    throw err;
  }
}

/** `tlr-init export` in the reader pod, its stdout into `out`; closed at once when the fetch is interrupted. */
function execExport(options: FetchOptions, pod: string, ref: NamedReference, out: Writable, errors: Writable): Promise<V1Status> {
  const { signal } = options;
  let close: (() => void) | undefined;
  let onAbort: (() => void) | undefined;
  return new Promise<V1Status>((resolve, reject) => {
    onAbort = (): void => {
      close?.();
      reject(new TlrError('E_INTERRUPTED', `result ${ref.name}: interrupted`));
    };
    if (signal?.aborted === true) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    new Exec(options.kubeConfig)
      .exec(options.namespace, pod, 'reader', ['tlr-init', 'export', '--root', options.mountPath, ref.token], out, errors, null, false, resolve)
      .then((socket: unknown) => {
        close = () => (socket as { close(): void }).close();
        if (signal?.aborted === true) close();
      })
      .catch((err: unknown) => reject(execFailure(err, `PipelineRun ${options.namespace}/${options.run}: result ${ref.name}`, `${options.namespace}/${pod}`)));
  }).finally(() => {
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  });
}

/**
 * The WebSocket client rejects with an ErrorEvent, not an Error ("Unexpected server response: 403"): made a TlrError
 * that says what was refused. Since Kubernetes 1.35 (AuthorizePodWebsocketUpgradeCreatePermission) a WebSocket exec
 * needs create on pods/exec as well as get.
 */
function execFailure(err: unknown, what: string, pod: string): TlrError {
  const message = err instanceof Error ? err.message
    : typeof (err as { message?: unknown } | null)?.message === 'string' ? (err as { message: string }).message : String(err);
  const forbidden = /\b403\b/.test(message);
  return new TlrError(
    'E_FETCH',
    `${what}: exec into reader pod ${pod} failed: ${message || 'no message'}` +
      (forbidden ? '; exec over WebSocket needs get and create on pods/exec in the namespace (Kubernetes 1.35 checks both)' : ''),
    { cause: err instanceof Error ? err : undefined },
  );
}
