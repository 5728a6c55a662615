/**
 * The shapes of the Tekton objects the rewrite reads: exactly the fields of src/api/tekton.ts (and the few the
 * rewrite reads beyond them), typed as Tekton's Go types decode them. Param and result values are Tekton's
 * ParamValue (a string, a list or a mapping), which the rewrite only walks, so any value is taken.
 */
import { ANY, BOOLEAN, listOf, mapOf, object, STRING, type Shape } from './shape.js';

const STRINGS = listOf(STRING, 'a list of strings');

const OBJECT_META = object('object metadata (a mapping)', {
  name: STRING,
  generateName: STRING,
  namespace: STRING,
  uid: STRING,
  labels: mapOf(STRING, 'labels (a mapping of strings)'),
  annotations: mapOf(STRING, 'annotations (a mapping of strings)'),
  ownerReferences: listOf(object('an owner reference (a mapping)', { kind: STRING }), 'a list of owner references'),
});

const PARAM = object('a param (a mapping with name and value)', { name: STRING, value: ANY });
const PARAMS = listOf(PARAM, 'a list of params');
const PARAM_SPEC = object('a param declaration (a mapping with name)', { name: STRING, type: STRING, description: STRING, default: ANY });
const ENV_VAR = object('an environment variable (a mapping with name)', { name: STRING, value: STRING });

const STEP_FIELDS = {
  name: STRING,
  image: STRING,
  script: STRING,
  command: STRINGS,
  args: STRINGS,
  env: listOf(ENV_VAR, 'a list of environment variables'),
  workingDir: STRING,
  stdoutConfig: object('a stdoutConfig (a mapping)', { path: STRING }),
  stderrConfig: object('a stderrConfig (a mapping)', { path: STRING }),
  params: PARAMS,
};
const STEP = object('a step (a mapping)', STEP_FIELDS);
const SIDECAR = object('a sidecar (a mapping)', STEP_FIELDS);

const TASK_SPEC_FIELDS = {
  params: listOf(PARAM_SPEC, 'a list of param declarations'),
  results: listOf(object('a result declaration (a mapping with name)', { name: STRING, type: STRING, description: STRING, storage: STRING, value: ANY }), 'a list of result declarations'),
  steps: listOf(STEP, 'a list of steps'),
  sidecars: listOf(SIDECAR, 'a list of sidecars'),
  stepTemplate: object('a stepTemplate (a mapping)', { image: STRING, env: listOf(ENV_VAR, 'a list of environment variables') }),
  workspaces: listOf(object('a workspace declaration (a mapping with name)', { name: STRING, mountPath: STRING, readOnly: BOOLEAN, optional: BOOLEAN, description: STRING }), 'a list of workspace declarations'),
};
export const TASK_SPEC = object('a task spec (a mapping)', TASK_SPEC_FIELDS);
const EMBEDDED_TASK = object('an embedded task spec (a mapping)', {
  ...TASK_SPEC_FIELDS,
  metadata: object('embedded metadata (a mapping)', { labels: mapOf(STRING, 'labels (a mapping of strings)'), annotations: mapOf(STRING, 'annotations (a mapping of strings)') }),
});

const TASK_REF = object('a taskRef (a mapping)', { name: STRING, kind: STRING, apiVersion: STRING, resolver: STRING, params: PARAMS });
const PIPELINE_TASK = object('a pipeline task (a mapping with name and taskRef or taskSpec)', {
  name: STRING,
  taskRef: TASK_REF,
  taskSpec: EMBEDDED_TASK,
  params: PARAMS,
  matrix: object('a matrix (a mapping)', {
    params: PARAMS,
    include: listOf(object('a matrix include (a mapping)', { name: STRING, params: PARAMS }), 'a list of matrix includes'),
  }),
  when: listOf(object('a when expression (a mapping)', { input: STRING, operator: STRING, values: STRINGS, cel: STRING }), 'a list of when expressions'),
  workspaces: listOf(object('a workspace binding (a mapping with name)', { name: STRING, workspace: STRING, subPath: STRING }), 'a list of workspace bindings'),
});
const PIPELINE_TASKS = listOf(PIPELINE_TASK, 'a list of pipeline tasks');

export const PIPELINE_SPEC = object('a pipeline spec (a mapping)', {
  tasks: PIPELINE_TASKS,
  finally: PIPELINE_TASKS,
  params: listOf(PARAM_SPEC, 'a list of param declarations'),
  results: listOf(object('a pipeline result (a mapping with name and value)', { name: STRING, value: ANY }), 'a list of pipeline results'),
  workspaces: listOf(object('a workspace declaration (a mapping with name)', { name: STRING, optional: BOOLEAN, description: STRING }), 'a list of workspace declarations'),
  resultWorkspace: ANY, // checked, with its own message, by the conversion
});

const WORKSPACE_BINDINGS = listOf(
  object('a workspace binding (a mapping with name)', {
    name: STRING,
    subPath: STRING,
    persistentVolumeClaim: object('a persistentVolumeClaim (a mapping with claimName)', { claimName: STRING, readOnly: BOOLEAN }),
    volumeClaimTemplate: object('a volumeClaimTemplate (a mapping)', {}),
  }),
  'a list of workspace bindings',
);
const POD_TEMPLATE = object('a pod template (a mapping)', { securityContext: object('a pod securityContext (a mapping)', {}) });

const KIND_SPECS: Readonly<Record<string, Shape>> = {
  PipelineRun: object('a PipelineRun spec (a mapping)', {
    pipelineRef: object('a pipelineRef (a mapping)', { name: STRING, resolver: STRING, params: PARAMS }),
    pipelineSpec: PIPELINE_SPEC,
    params: PARAMS,
    workspaces: WORKSPACE_BINDINGS,
    status: STRING,
    taskRunTemplate: object('a taskRunTemplate (a mapping)', { podTemplate: POD_TEMPLATE }),
  }),
  TaskRun: object('a TaskRun spec (a mapping)', { taskRef: TASK_REF, taskSpec: TASK_SPEC, params: PARAMS, workspaces: WORKSPACE_BINDINGS, podTemplate: POD_TEMPLATE }),
  Pipeline: PIPELINE_SPEC,
  Task: TASK_SPEC,
};

/** The shape of a Tekton object of `kind` (metadata and spec; `spec` is required for the kinds the rewrite reads). */
export function objectShape(kind: string): { metadata: Shape; spec: Shape | undefined } {
  return { metadata: OBJECT_META, spec: KIND_SPECS[kind] };
}
