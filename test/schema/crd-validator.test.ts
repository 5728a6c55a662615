import test from 'ava';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TlrError } from '../../src/errors.js';
import { createCrdValidator, type CrdValidator, type SchemaProblem } from '../../src/schema/crd-validator.js';
import { loadCrdValidator } from '../../src/schema/load-crds.js';
import { parseYamlDocuments } from '../../src/yaml/documents.js';
import { CRD_DIR } from './tekton-release.js';

const tekton = loadCrdValidator(CRD_DIR);

async function problems(obj: unknown): Promise<SchemaProblem[]> {
  return (await tekton).validate(obj);
}

function pipelineRun(spec: unknown): unknown {
  return { apiVersion: 'tekton.dev/v1', kind: 'PipelineRun', metadata: { name: 'run' }, spec };
}

function task(spec: unknown, apiVersion = 'tekton.dev/v1'): unknown {
  return { apiVersion, kind: 'Task', metadata: { name: 'task' }, spec };
}

test('an unknown field in a PipelineRun spec is refused', async (t) => {
  const obj = pipelineRun({ pipelineRef: { name: 'p' }, resultWorkspace: { name: 'results' } });
  t.deepEqual(await problems(obj), [{ path: 'spec.resultWorkspace', message: 'unknown field "resultWorkspace"' }]);
});

test('an unknown top-level field is refused', async (t) => {
  const obj = { ...(pipelineRun({ pipelineRef: { name: 'p' } }) as object), extra: 1 };
  t.deepEqual(await problems(obj), [{ path: 'extra', message: 'unknown field "extra"' }]);
});

test('the CRD checks nothing inside an embedded pipelineSpec: it is x-kubernetes-preserve-unknown-fields', async (t) => {
  // Unknown fields, wrong types and unknown result types inside spec.pipelineSpec all pass the CRD; only Tekton's
  // own webhook (which decodes with DisallowUnknownFields and then validates) refuses them on a cluster.
  const obj = pipelineRun({
    pipelineSpec: {
      resultWorkspace: { name: 'results' },
      tasks: [
        {
          name: 'produce',
          taskSpec: {
            unknownTaskField: true,
            results: [{ name: 'big', type: 'stringReference', storage: 'reference' }],
            steps: [{ name: 's', image: 'alpine', args: 'x', bogus: 1 }],
          },
        },
      ],
    },
  });
  t.deepEqual(await problems(obj), []);
});

test('the CRD checks nothing inside a TaskRun embedded taskSpec either', async (t) => {
  const obj = {
    apiVersion: 'tekton.dev/v1',
    kind: 'TaskRun',
    metadata: { generateName: 'tr-' },
    spec: { taskSpec: { steps: [{ image: 'alpine', args: 'x', unknown: 1 }], results: [{ name: 'r', type: 7 }] } },
  };
  t.deepEqual(await problems(obj), []);
});

test('a step of a Task is checked: unknown fields and wrong types', async (t) => {
  const obj = task({ steps: [{ name: 's', image: 'alpine', args: 'x', resultWorkspace: 'w' }] });
  t.deepEqual(await problems(obj), [
    { path: 'spec.steps[0].resultWorkspace', message: 'unknown field "resultWorkspace"' },
    { path: 'spec.steps[0].args', message: 'expected array, found string' },
  ]);
});

test('an item of the wrong type is reported at its index', async (t) => {
  const obj = task({ steps: [{ name: 's', image: 'alpine' }, { name: 't', image: 'alpine', args: ['ok', { a: 1 }] }] });
  t.deepEqual(await problems(obj), [{ path: 'spec.steps[1].args[1]', message: 'expected string, found object' }]);
});

test('a result type the CRD has no enum for (stringReference) passes the CRD, in v1 and v1beta1', async (t) => {
  const spec = { results: [{ name: 'r', type: 'stringReference' }], steps: [{ name: 's', image: 'alpine' }] };
  t.deepEqual(await problems(task(spec)), []);
  t.deepEqual(await problems(task(spec, 'tekton.dev/v1beta1')), []);
});

test('a result type of the wrong JSON type is refused', async (t) => {
  const spec = { results: [{ name: 'r', type: 1 }], steps: [{ name: 's', image: 'alpine' }] };
  t.deepEqual(await problems(task(spec)), [{ path: 'spec.results[0].type', message: 'expected string, found integer' }]);
});

test('x-kubernetes-int-or-string accepts integers and strings only', async (t) => {
  const sidecar = (port: unknown): unknown =>
    task({ steps: [{ name: 's', image: 'a' }], sidecars: [{ name: 'c', readinessProbe: { httpGet: { port } } }] });
  t.deepEqual(await problems(sidecar(8080)), []);
  t.deepEqual(await problems(sidecar('http')), []);
  t.deepEqual(await problems(sidecar(true)), [
    { path: 'spec.sidecars[0].readinessProbe.httpGet.port', message: 'expected integer or string, found boolean' },
  ]);
});

test('quantities are checked against their pattern', async (t) => {
  const obj = task({ steps: [{ name: 's', image: 'a', computeResources: { limits: { cpu: '500m', memory: 'lots' } } }] });
  t.deepEqual(await problems(obj), [
    { path: 'spec.steps[0].computeResources.limits.memory', message: 'expected a quantity such as "500m", "2" or "1Gi", found "lots"' },
  ]);
});

test('int32 fields refuse numbers out of range and non-integers', async (t) => {
  const sidecar = (containerPort: unknown): unknown =>
    task({ steps: [{ name: 's', image: 'a' }], sidecars: [{ name: 'c', ports: [{ containerPort }] }] });
  t.deepEqual(await problems(sidecar(8080)), []);
  t.deepEqual(await problems(sidecar(3_000_000_000)), [
    { path: 'spec.sidecars[0].ports[0].containerPort', message: 'expected a 32-bit integer (-2147483648 to 2147483647), found 3000000000' },
  ]);
  t.deepEqual(await problems(sidecar(1.5)), [
    { path: 'spec.sidecars[0].ports[0].containerPort', message: 'expected integer, found number' },
  ]);
});

test('a null field is pruned as the apiserver prunes it (YAML `emptyDir:`)', async (t) => {
  const obj = {
    apiVersion: 'tekton.dev/v1',
    kind: 'TaskRun',
    metadata: { name: 'tr' },
    spec: { taskRef: { name: 't' }, timeout: null, workspaces: [{ name: 'w', emptyDir: null }] },
  };
  t.deepEqual(await problems(obj), []);
});

test('a null list item is refused', async (t) => {
  t.deepEqual(await problems(task({ steps: [null] })), [{ path: 'spec.steps[0]', message: 'expected object, found null' }]);
});

test('metadata needs a string name or generateName; labels and annotations are string maps', async (t) => {
  const obj = {
    apiVersion: 'tekton.dev/v1',
    kind: 'Task',
    metadata: { namespace: 3, labels: { 'app.kubernetes.io/version': 1.5 }, annotations: 'x' },
    spec: {},
  };
  t.deepEqual(await problems(obj), [
    { path: 'metadata.name', message: 'missing required field "name" (or "generateName")' },
    { path: 'metadata.namespace', message: 'expected string, found integer' },
    { path: 'metadata.labels[app.kubernetes.io/version]', message: 'expected string, found number' },
    { path: 'metadata.annotations', message: 'expected object (a map of strings), found string' },
  ]);
  t.deepEqual(await problems({ apiVersion: 'tekton.dev/v1', kind: 'Task', metadata: { generateName: 't-' } }), []);
  t.deepEqual(await problems({ apiVersion: 'tekton.dev/v1', kind: 'Task', metadata: { name: 7 } }), [
    { path: 'metadata.name', message: 'expected string, found integer' },
  ]);
});

test('an apiVersion/kind no CRD serves is a single problem', async (t) => {
  t.deepEqual(await problems({ apiVersion: 'tekton.dev/v1alpha1', kind: 'Task', metadata: { name: 'x' } }), [
    { path: 'kind', message: 'no CustomResourceDefinition serves kind "Task" in version "tekton.dev/v1alpha1"' },
  ]);
  t.deepEqual(await problems({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: 1 }), [
    { path: 'kind', message: 'no CustomResourceDefinition serves kind "ConfigMap" in version "v1"' },
  ]);
  t.deepEqual(await problems(['not', 'an', 'object']), [
    { path: '', message: 'expected a Kubernetes object (a mapping with apiVersion and kind), found array' },
  ]);
});

test('serves tells which apiVersion/kind pairs have a CRD', async (t) => {
  const validator = await tekton;
  t.true(validator.serves('tekton.dev/v1', 'PipelineRun'));
  t.true(validator.serves('tekton.dev/v1beta1', 'CustomRun'));
  t.true(validator.serves('tekton.dev/v1alpha1', 'StepAction'));
  t.false(validator.serves('tekton.dev/v1', 'CustomRun'));
  t.false(validator.serves('v1', 'Pod'));
});

test('validate never mutates its input', async (t) => {
  const obj = task({ steps: [{ image: 'a', script: null }, null], extra: { a: null } });
  const before = structuredClone(obj);
  await problems(obj);
  t.deepEqual(obj, before);
});

async function taskCrd(): Promise<unknown[]> {
  const text = await readFile(join(CRD_DIR, '300-task.yaml'), 'utf8');
  return parseYamlDocuments(text, '300-task.yaml').map((d) => d.object);
}

test('missing required fields: Tekton webhook round trip by default, the bare CRD on request', async (t) => {
  const crds = await taskCrd();
  const unnamedStep = task({ steps: [{ image: 'alpine', env: [{ value: 'x' }] }] });
  t.deepEqual(createCrdValidator(crds).validate(unnamedStep), []);
  t.deepEqual(createCrdValidator(crds, { webhookRoundTrip: false }).validate(unnamedStep), [
    { path: 'spec.steps[0].name', message: 'missing required field "name"' },
    { path: 'spec.steps[0].env[0].name', message: 'missing required field "name"' },
  ]);
});

test('a missing required list or untyped field stays an error even with the webhook round trip', async (t) => {
  const validator: CrdValidator = await tekton;
  const obj = {
    apiVersion: 'tekton.dev/v1',
    kind: 'TaskRun',
    metadata: { name: 'tr' },
    spec: { taskRef: { name: 't' }, params: [{ name: 'p' }] },
  };
  t.deepEqual(validator.validate(obj), [{ path: 'spec.params[0].value', message: 'missing required field "value"' }]);
});

test('createCrdValidator refuses what is not a CustomResourceDefinition', (t) => {
  const error = t.throws(() => createCrdValidator([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }]), {
    instanceOf: TlrError,
  });
  t.is(error?.code, 'E_SCHEMA');
  t.is(error?.message, 'c: expected an apiextensions.k8s.io/v1 CustomResourceDefinition');
});

test('createCrdValidator refuses two CRDs serving the same kind', async (t) => {
  const crds = await taskCrd();
  const error = t.throws(() => createCrdValidator([...crds, ...crds]), { instanceOf: TlrError });
  t.is(error?.message, 'two CustomResourceDefinitions serve tekton.dev/v1beta1 Task');
});

test('loadCrdValidator on a missing directory is E_INPUT', async (t) => {
  const error = await t.throwsAsync(loadCrdValidator(join(CRD_DIR, 'nope')), { instanceOf: TlrError });
  t.is(error?.code, 'E_INPUT');
  t.true(error?.message.startsWith(`${join(CRD_DIR, 'nope')}: cannot list the CRD directory`));
});
