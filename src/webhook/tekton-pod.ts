/**
 * What the Pod webhook reads from a TaskRun pod built by Tekton (pkg/pod at v1.15): step containers `step-<name>`
 * whose env carries our stepTemplate's TLR_REFS / TLR_RUN_DIR and which mount the result workspace at the config's
 * `mountPath`, and the scripts volume `place-scripts` writes and steps mount read-only at /tekton/scripts.
 */
import { posix } from 'node:path';
import { ENV_REFS, ENV_RUN_DIR, INIT_ENV } from '../api/names.js';
import type { ObjectMeta } from '../api/tekton.js';

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
  [key: string]: unknown;
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  subPath?: string;
  subPathExpr?: string;
  [key: string]: unknown;
}

export interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  [key: string]: unknown;
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: EnvVar[];
  volumeMounts?: VolumeMount[];
  securityContext?: SecurityContext;
  [key: string]: unknown;
}

export interface Pod {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: {
    initContainers?: Container[];
    containers?: Container[];
    volumes?: Array<{ name: string; [key: string]: unknown }>;
    securityContext?: SecurityContext;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

/** Tekton's scripts directory and the name of the volume Tekton mounts there. */
export const SCRIPTS_DIR = '/tekton/scripts';
export const TEKTON_SCRIPTS_VOLUME = 'tekton-internal-scripts';
const STEP_PREFIX = 'step-';

/** The parts of a consumer pod the init container is built from. */
export interface ConsumerPod {
  /** TLR_REFS, TLR_RUN_DIR and TLR_VIEW (when set), as the step carries them. */
  readonly env: readonly EnvVar[];
  /** The step's mount of the result workspace (volume, path, subPath). */
  readonly resultMount: VolumeMount;
  /** The volume Tekton's scripts live in; undefined when no step or sidecar has a script (no scripts volume). */
  readonly scriptsVolume: string | undefined;
  /** The user and group the steps run as, when the pod or the step fixes them. */
  readonly runAs: { readonly user?: number; readonly group?: number };
}

export type ConsumerPodReading = { readonly pod: ConsumerPod } | { readonly missing: readonly string[] };

/** Reads a consumer pod; lists everything missing (each item says what was expected) when it cannot be used. */
export function readConsumerPod(pod: Pod, mountPath: string): ConsumerPodReading {
  const steps = (pod.spec?.containers ?? []).filter((c) => typeof c?.name === 'string' && c.name.startsWith(STEP_PREFIX));
  const missing: string[] = [];
  const envStep = steps.find((c) => envOf(c, ENV_REFS) && envOf(c, ENV_RUN_DIR));
  if (!envStep) {
    missing.push(`a step container (${STEP_PREFIX}*) with env ${ENV_REFS} and ${ENV_RUN_DIR} (set by the rewrite's stepTemplate)`);
  }
  const volumes = new Set((pod.spec?.volumes ?? []).map((v) => v.name));
  const resultMount = steps.flatMap((c) => c.volumeMounts ?? []).find((m) => samePath(m.mountPath, mountPath));
  if (!resultMount || !volumes.has(resultMount.name)) {
    missing.push(
      resultMount
        ? `volume "${resultMount.name}" (mounted by a step at ${mountPath}) in spec.volumes`
        : `a step container mounting the result workspace at ${mountPath} (config mountPath)`,
    );
  }
  if (envStep) missing.push(...refsProblems(steps, envStep));
  const scripts = scriptsVolume(pod, volumes);
  if (scripts.missing !== undefined) missing.push(scripts.missing);
  if (!envStep || !resultMount || missing.length > 0) return { missing };
  return {
    pod: {
      env: INIT_ENV.map((name) => envOf(envStep, name))
        .filter((e) => e !== undefined)
        .map(copyEnv),
      resultMount,
      scriptsVolume: scripts.name,
      runAs: runAsOf(envStep, pod),
    },
  };
}

/**
 * Every step carries the stepTemplate's TLR_REFS (the rewrite refuses a step setting its own): one that differs, or
 * an empty one, would have its values go unverified.
 */
function refsProblems(steps: readonly Container[], envStep: Container): string[] {
  const expected = envOf(envStep, ENV_REFS)?.value;
  if (typeof expected !== 'string' || expected.trim() === '') {
    return [`a non-empty ${ENV_REFS} in step container "${envStep.name}" (the references the task uses), found it empty`];
  }
  return steps
    .filter((c) => envOf(c, ENV_REFS)?.value !== expected || envOf(c, ENV_REFS)?.valueFrom !== undefined)
    .map((c) => `the same ${ENV_REFS} in every step container as in "${envStep.name}", found another in "${c.name}"`);
}

function envOf(container: Container, name: string): EnvVar | undefined {
  return container.env?.find((e) => e?.name === name);
}

function copyEnv(env: EnvVar): EnvVar {
  return {
    name: env.name,
    ...(env.value !== undefined ? { value: env.value } : {}),
    ...(env.valueFrom !== undefined ? { valueFrom: env.valueFrom } : {}),
  };
}

function samePath(a: unknown, b: string): boolean {
  return typeof a === 'string' && posix.normalize(a).replace(/\/+$/, '') === posix.normalize(b).replace(/\/+$/, '');
}

/**
 * The volume mounted at /tekton/scripts by any container (Tekton's place-scripts and script steps), which must be in
 * spec.volumes. None mounted: fine only if no container runs a script from there (Tekton adds the volume exactly when
 * a step or sidecar has a script); otherwise the pod cannot be substituted and is refused.
 */
function scriptsVolume(pod: Pod, volumes: ReadonlySet<string>): { name?: string; missing?: string } {
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  const mounts = containers.flatMap((c) => c?.volumeMounts ?? []).filter((m) => samePath(m.mountPath, SCRIPTS_DIR));
  const mount = mounts.find((m) => m.name === TEKTON_SCRIPTS_VOLUME) ?? mounts[0];
  if (mount) {
    if (volumes.has(mount.name)) return { name: mount.name };
    return { missing: `volume "${mount.name}" (mounted at ${SCRIPTS_DIR}) in spec.volumes` };
  }
  const usesScripts = containers.some((c) => [...(c?.command ?? []), ...(c?.args ?? [])].some((a) => typeof a === 'string' && a.includes(`${SCRIPTS_DIR}/`)));
  if (usesScripts) return { missing: `the scripts volume mounted at ${SCRIPTS_DIR} (steps run scripts from there)` };
  return {};
}

function runAsOf(step: Container, pod: Pod): { user?: number; group?: number } {
  const user = step.securityContext?.runAsUser ?? pod.spec?.securityContext?.runAsUser;
  const group = step.securityContext?.runAsGroup ?? pod.spec?.securityContext?.runAsGroup;
  return { ...(typeof user === 'number' ? { user } : {}), ...(typeof group === 'number' ? { group } : {}) };
}
