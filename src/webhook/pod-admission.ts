/**
 * Admission of consumer Pods (mutating, CREATE only; the webhook configuration's objectSelector matches our
 * `tlr.dev/consumer` label (`Exists`), so it never sees, and can never block, anything else; a pod without the label
 * that reaches it anyway is allowed untouched). Pure: request in, AdmissionReview
 * out; no I/O, never mutates the request.
 *
 * Appends the `tlr-substitute` init container after Tekton's own (`prepare`, `place-scripts`): it mounts the result
 * volume read-only and /tekton/scripts read-write, verifies every referenced file and substitutes the values into the
 * scripts before any step starts. A labelled pod it cannot equip is refused (422): run without substitution, its
 * steps would see reference tokens instead of values.
 */
import { ENV_REFS, EXEC_DIR, INIT_CONTAINER_SUBSTITUTE, LABEL_CONSUMER, VOLUME_EXEC } from '../api/names.js';
import { describeObject } from '../api/tekton.js';
import type { Config } from '../core/config.js';
import { TlrError } from '../errors.js';
import {
  allow,
  allowWithPatch,
  deny,
  internalError,
  type AdmissionRequest,
  type AdmissionReviewResponse,
  type PatchOperation,
} from './admission-review.js';
import { carriesValues, declaredTokens, initializerArgsWithout, WORKING_DIR_INITIALIZER, wrapStep } from './exec-wrap.js';
import { podShapeProblems } from './pod-shape.js';
import { readConsumerPod, SCRIPTS_DIR, type ConsumerPod, type Container, type Pod, type SecurityContext } from './tekton-pod.js';

/** The exec helper's emptyDir holds one static binary (about 2.5 MB). */
export const EXEC_VOLUME_SIZE = '16Mi';

/** Our emptyDir standing in for /tekton/scripts in pods without scripts (consumers using results by path only). */
export const EMPTY_SCRIPTS_VOLUME = 'tlr-empty-scripts';

/**
 * Requests small enough not to raise the pod's (init containers count by their maximum, not their sum); limits set so
 * namespaces whose ResourceQuota requires them still admit the pod. No memory growth with result size (streaming);
 * one CPU is enough to hash at disk speed.
 */
export const SUBSTITUTE_RESOURCES = {
  requests: { cpu: '50m', memory: '64Mi' },
  limits: { cpu: '1', memory: '256Mi' },
} as const;

/** The answer when the pod needs nothing (not a labelled consumer pod, or already equipped); undefined otherwise. */
export function quickPodAnswer(request: AdmissionRequest): AdmissionReviewResponse | undefined {
  return consumerPodToEquip(request) ? undefined : allow(request.uid);
}

/** Answers one AdmissionReview request for a Pod. */
export function admitPod(request: AdmissionRequest, settings: { config(namespace: string): Config }): AdmissionReviewResponse {
  const { uid } = request;
  const pod = consumerPodToEquip(request);
  if (!pod) return allow(uid);
  const problems = podShapeProblems(pod);
  if (problems.length > 0) return deny(uid, `${describePod(pod, request.namespace ?? 'default')}: ${problems.join('; ')}`);

  const namespace = request.namespace ?? pod.metadata?.namespace ?? 'default';
  let config: Config;
  try {
    config = settings.config(namespace);
  } catch (error) {
    if (!(error instanceof TlrError)) throw error;
    return internalError(
      uid,
      `cannot add the ${INIT_CONTAINER_SUBSTITUTE} init container to ${describePod(pod, namespace)}: the Tekton Large ` +
        `Results configuration is invalid: ${error.message}`,
    );
  }
  const reading = readConsumerPod(pod, config.mountPath);
  if ('missing' in reading) {
    return deny(
      uid,
      `${describePod(pod, namespace)} is labelled ${LABEL_CONSUMER}, so it needs the ${INIT_CONTAINER_SUBSTITUTE} init ` +
        `container to verify and substitute reference results, but it cannot be added: expected ${reading.missing.join('; ')}, ` +
        `found none. Without it the steps would run with reference tokens instead of values; the pod must come from a ` +
        `TaskRun rewritten by Tekton Large Results (tlr render shows the expected task)`,
    );
  }
  const exec = execSteps(pod, reading.pod, config);
  if ('problem' in exec) return deny(uid, `${describePod(pod, namespace)}: ${exec.problem}`);
  return allowWithPatch(uid, patchOps(pod, reading.pod, config, exec.steps, exec.tokens));
}

/** A step to run through the exec helper: its index in spec.containers, its new args, whether it loses its workingDir. */
interface ExecStep {
  readonly index: number;
  readonly args: string[];
  readonly movedWorkingDir: boolean;
}

/**
 * The step containers whose args, command, env or workingDir carry a declared reference (exec-wrap.ts), each with its args
 * rewritten to run the helper; a problem when one cannot be (valuesInArgsAndEnv off, not Tekton's shape, no view).
 */
function execSteps(pod: Pod, consumer: ConsumerPod, config: Config): { steps: ExecStep[]; tokens: string[] } | { problem: string } {
  const tokens = declaredTokens(consumer.env.find((e) => e.name === ENV_REFS)?.value);
  const steps: ExecStep[] = [];
  for (const [index, container] of (pod.spec?.containers ?? []).entries()) {
    if (!container?.name?.startsWith('step-') || !carriesValues(container, tokens)) continue;
    if (!config.valuesInArgsAndEnv) {
      return {
        problem:
          `container "${container.name}" carries a reference result in its args, command, env or workingDir, but values there are ` +
          'turned off on this cluster (config key valuesInArgsAndEnv: "false"); the steps would see reference tokens ' +
          'instead of values. Use the value in a script or the result by path, or ask your admin to turn it on',
      };
    }
    if (!(container.volumeMounts ?? []).some((m) => m.name === consumer.resultMount.name && m.mountPath === consumer.resultMount.mountPath)) {
      return { problem: `container "${container.name}" carries a reference result in its args, command, env or workingDir but does not mount the result workspace at ${consumer.resultMount.mountPath}, where the values are read` };
    }
    const wrapped = wrapStep(container, config.mountPath, tokens);
    if ('problem' in wrapped) return { problem: `cannot put reference values into its args, command, env or workingDir: ${wrapped.problem}` };
    steps.push({ index, args: wrapped.args, movedWorkingDir: wrapped.movedWorkingDir });
  }
  return { steps, tokens };
}

/** The pod, when this request creates a labelled pod that has no substitute init container yet. */
function consumerPodToEquip(request: AdmissionRequest): Pod | undefined {
  const pod = request.object as Pod | null | undefined;
  if (request.operation !== 'CREATE' || request.kind.group !== '' || request.kind.kind !== 'Pod') return undefined;
  if (typeof pod !== 'object' || pod === null) return undefined;
  const labels: unknown = pod.metadata?.labels;
  if (typeof labels !== 'object' || labels === null || (labels as Record<string, unknown>)[LABEL_CONSUMER] === undefined) return undefined;
  const initContainers: unknown = pod.spec?.initContainers;
  if (Array.isArray(initContainers) && initContainers.some((c: unknown) => (c as Container | null)?.name === INIT_CONTAINER_SUBSTITUTE)) return undefined;
  return pod;
}

function describePod(pod: Pod, namespace: string): string {
  const taskRun = pod.metadata?.labels?.['tekton.dev/taskRun'];
  const described = describeObject({ apiVersion: 'v1', kind: 'Pod', metadata: { ...pod.metadata, namespace } });
  return `${described}${taskRun !== undefined ? ` (TaskRun ${namespace}/${taskRun})` : ''}`;
}

function patchOps(pod: Pod, consumer: ConsumerPod, config: Config, execSteps: readonly ExecStep[], tokens: readonly string[]): PatchOperation[] {
  const ops: PatchOperation[] = [];
  let hasVolumes = pod.spec?.volumes !== undefined;
  const addVolume = (volume: Record<string, unknown>): void => {
    ops.push(hasVolumes ? { op: 'add', path: '/spec/volumes/-', value: volume } : { op: 'add', path: '/spec/volumes', value: [volume] });
    hasVolumes = true;
  };
  const scriptsVolume = consumer.scriptsVolume ?? EMPTY_SCRIPTS_VOLUME;
  if (consumer.scriptsVolume === undefined) addVolume({ name: EMPTY_SCRIPTS_VOLUME, emptyDir: {} });
  if (execSteps.length > 0) {
    addVolume({ name: VOLUME_EXEC, emptyDir: { sizeLimit: EXEC_VOLUME_SIZE } });
    ops.push(...execStepOps(pod, execSteps, tokens));
  }
  const container = substituteContainer(consumer, scriptsVolume, config, execSteps.length > 0);
  ops.push(
    pod.spec?.initContainers
      ? { op: 'add', path: '/spec/initContainers/-', value: container }
      : { op: 'add', path: '/spec/initContainers', value: [container] },
  );
  return ops;
}

/**
 * The ops that run steps through the exec helper: new args, its mount, and for a workingDir that went to the helper,
 * the container's removed and the working-dir-initializer's args without it.
 */
function execStepOps(pod: Pod, execSteps: readonly ExecStep[], tokens: readonly string[]): PatchOperation[] {
  const ops: PatchOperation[] = [];
  for (const step of execSteps) {
    const mount = { name: VOLUME_EXEC, mountPath: EXEC_DIR, readOnly: true };
    const container = pod.spec?.containers?.[step.index];
    ops.push({ op: 'replace', path: `/spec/containers/${step.index}/args`, value: step.args });
    if (step.movedWorkingDir) ops.push({ op: 'remove', path: `/spec/containers/${step.index}/workingDir` });
    ops.push(
      container?.volumeMounts
        ? { op: 'add', path: `/spec/containers/${step.index}/volumeMounts/-`, value: mount }
        : { op: 'add', path: `/spec/containers/${step.index}/volumeMounts`, value: [mount] },
    );
  }
  if (execSteps.some((s) => s.movedWorkingDir)) {
    // With no args left it creates nothing (cmd/workingdirinit/main.go loops over its args) and exits 0.
    for (const [index, init] of (pod.spec?.initContainers ?? []).entries()) {
      const kept = init?.name === WORKING_DIR_INITIALIZER ? initializerArgsWithout(init, tokens) : undefined;
      if (kept !== undefined) ops.push({ op: 'replace', path: `/spec/initContainers/${index}/args`, value: kept });
    }
  }
  return ops;
}

/** The `tlr-substitute` init container for a consumer pod. */
export function substituteContainer(consumer: ConsumerPod, scriptsVolume: string, config: Config, installExec = false): Container {
  const { name, mountPath, subPath, subPathExpr } = consumer.resultMount;
  return {
    name: INIT_CONTAINER_SUBSTITUTE,
    image: config.initImage,
    command: ['tlr-init'],
    args: [
      'substitute', '--root', config.mountPath, '--scripts', SCRIPTS_DIR, '--max-substituted', String(config.maxSubstitutedSize),
      ...(installExec ? ['--install-exec', EXEC_DIR] : []),
    ],
    env: consumer.env.map((e) => ({ ...e })),
    volumeMounts: [
      { name, mountPath, ...(subPath !== undefined ? { subPath } : {}), ...(subPathExpr !== undefined ? { subPathExpr } : {}), readOnly: true },
      { name: scriptsVolume, mountPath: SCRIPTS_DIR },
      ...(installExec ? [{ name: VOLUME_EXEC, mountPath: EXEC_DIR }] : []),
    ],
    resources: { requests: { ...SUBSTITUTE_RESOURCES.requests }, limits: { ...SUBSTITUTE_RESOURCES.limits } },
    securityContext: securityContext(consumer.runAs),
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}

/**
 * Restricted-profile settings. When the pod or the step fixes a user (and group), the init container runs as the same
 * one, so it can replace the scripts Tekton wrote with their owner kept; a step fixed to run as root (uid 0) gets an
 * init container running as root too (runAsNonRoot would keep it from starting).
 */
function securityContext(runAs: ConsumerPod['runAs']): SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    readOnlyRootFilesystem: true,
    runAsNonRoot: runAs.user !== 0,
    ...(runAs.user !== undefined ? { runAsUser: runAs.user } : {}),
    ...(runAs.group !== undefined ? { runAsGroup: runAs.group } : {}),
    seccompProfile: { type: 'RuntimeDefault' },
  };
}
