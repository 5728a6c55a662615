/**
 * The parts of Tekton's v1 API the rewrite reads. Every interface keeps an index signature so fields we do not model
 * survive a clone-and-edit untouched.
 */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata?: ObjectMeta;
  spec?: Record<string, unknown>;
  [key: string]: unknown;
}

export type ParamValue = string | string[] | Record<string, string>;

export interface Param {
  name: string;
  value: ParamValue;
  [key: string]: unknown;
}

export interface ParamSpec {
  name: string;
  type?: 'string' | 'array' | 'object';
  description?: string;
  default?: ParamValue;
  [key: string]: unknown;
}

export interface TaskResult {
  name: string;
  type?: string;
  description?: string;
  value?: unknown;
  /** TEP-0086 form: `storage: reference`. Not valid Tekton: translated away by `convert`. */
  storage?: string;
  [key: string]: unknown;
}

export interface EnvVar {
  name: string;
  value?: string;
  [key: string]: unknown;
}

export interface Step {
  name?: string;
  image?: string;
  script?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  workingDir?: string;
  stdoutConfig?: { path?: string };
  stderrConfig?: { path?: string };
  params?: Param[];
  ref?: unknown;
  [key: string]: unknown;
}

/** A task's stepTemplate: Step fields without name and script. */
export interface StepTemplate {
  image?: string;
  env?: EnvVar[];
  [key: string]: unknown;
}

export interface WorkspaceDeclaration {
  name: string;
  mountPath?: string;
  readOnly?: boolean;
  optional?: boolean;
  description?: string;
  [key: string]: unknown;
}

export interface TaskSpec {
  params?: ParamSpec[];
  results?: TaskResult[];
  steps?: Step[];
  sidecars?: Step[];
  stepTemplate?: StepTemplate;
  workspaces?: WorkspaceDeclaration[];
  [key: string]: unknown;
}

/** A PipelineTask's embedded `taskSpec`: TaskSpec fields inline plus `metadata`. */
export interface EmbeddedTask extends TaskSpec {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
}

export interface TaskRef {
  name?: string;
  kind?: string;
  apiVersion?: string;
  resolver?: string;
  params?: Param[];
  [key: string]: unknown;
}

export interface WhenExpression {
  input?: string;
  operator?: string;
  values?: string[];
  cel?: string;
  [key: string]: unknown;
}

export interface WorkspacePipelineTaskBinding {
  name: string;
  workspace?: string;
  subPath?: string;
  [key: string]: unknown;
}

export interface PipelineTask {
  name: string;
  taskRef?: TaskRef;
  taskSpec?: EmbeddedTask;
  pipelineRef?: unknown;
  pipelineSpec?: unknown;
  params?: Param[];
  matrix?: { params?: Param[]; include?: Array<{ params?: Param[] }> };
  when?: WhenExpression[];
  workspaces?: WorkspacePipelineTaskBinding[];
  [key: string]: unknown;
}

export interface PipelineResult {
  name: string;
  value: ParamValue;
  [key: string]: unknown;
}

export interface PipelineSpec {
  tasks?: PipelineTask[];
  finally?: PipelineTask[];
  params?: ParamSpec[];
  results?: PipelineResult[];
  workspaces?: Array<{ name: string; optional?: boolean; description?: string; [key: string]: unknown }>;
  /** TEP-0086 form: `resultWorkspace: {name}`. Not valid Tekton: translated away by `convert`. */
  resultWorkspace?: { name?: string; [key: string]: unknown };
  [key: string]: unknown;
}

export interface WorkspaceBinding {
  name: string;
  subPath?: string;
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  volumeClaimTemplate?: Record<string, unknown>;
  emptyDir?: unknown;
  configMap?: unknown;
  secret?: unknown;
  projected?: unknown;
  csi?: unknown;
  [key: string]: unknown;
}

export interface PipelineRunSpec {
  pipelineRef?: { name?: string; resolver?: string; params?: Param[]; [key: string]: unknown };
  pipelineSpec?: PipelineSpec;
  params?: Param[];
  workspaces?: WorkspaceBinding[];
  status?: string;
  [key: string]: unknown;
}

export interface TaskRunSpec {
  taskRef?: TaskRef;
  taskSpec?: TaskSpec;
  params?: Param[];
  workspaces?: WorkspaceBinding[];
  [key: string]: unknown;
}

export interface PipelineRun extends KubeObject {
  kind: 'PipelineRun';
  spec: PipelineRunSpec;
}
export interface Pipeline extends KubeObject {
  kind: 'Pipeline';
  spec: PipelineSpec;
}
export interface Task extends KubeObject {
  kind: 'Task';
  spec: TaskSpec;
}
export interface TaskRun extends KubeObject {
  kind: 'TaskRun';
  spec: TaskRunSpec;
}

export const TEKTON_API_VERSIONS = ['tekton.dev/v1', 'tekton.dev/v1beta1'] as const;

export function isTektonApiVersion(apiVersion: unknown): boolean {
  return (TEKTON_API_VERSIONS as readonly unknown[]).includes(apiVersion);
}

/** A Tekton object of `kind` (any served Tekton apiVersion), from an untyped value such as an admission request's. */
export function isTektonKind(value: unknown, kind: string): value is KubeObject {
  const o = value as { apiVersion?: unknown; kind?: unknown } | null | undefined;
  return isTektonApiVersion(o?.apiVersion) && o?.kind === kind;
}

/** `Kind namespace/name` (or `Kind name`), the way messages name an object. */
export function describeObject(obj: KubeObject): string {
  const meta: Record<string, unknown> = typeof obj.metadata === 'object' && obj.metadata !== null ? obj.metadata : {};
  // A name Kubernetes would refuse (spaces, slashes...) is quoted, so the message still reads as "Kind namespace/name".
  const text = (value: unknown): string | undefined => (typeof value !== 'string' || value === '' ? undefined : /^[A-Za-z0-9._-]+$/.test(value) ? value : JSON.stringify(value));
  const generateName = text(meta.generateName);
  const name = text(meta.name) ?? (generateName !== undefined ? `${generateName}*` : '<unnamed>');
  const namespace = text(meta.namespace);
  return `${text(obj.kind) ?? 'object'} ${namespace !== undefined ? `${namespace}/` : ''}${name}`;
}
