/**
 * What the controller's cache keeps of an opted-in run: what retention and its Events read (identity, labels, our
 * annotations, the completion status), not the run's spec or the rest of its status, whose size is the pipeline's.
 */
import test from 'ava';
import type { PipelineRun } from '../../src/api/tekton.js';
import { cachedRun } from '../../src/controller/controller.js';
import { isDone } from '../../src/controller/reconciler.js';

const RUN = {
  apiVersion: 'tekton.dev/v1',
  kind: 'PipelineRun',
  metadata: {
    name: 'r', namespace: 'ci', uid: 'u-1', resourceVersion: '42', generation: 1,
    labels: { 'tlr.dev/opted-in': 'true' },
    annotations: { 'tlr.dev/result-volume': 'template', 'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(100_000) },
    managedFields: [{ manager: 'kubectl', fieldsV1: { f: 'x'.repeat(10_000) } }],
    ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'o', uid: 'o-1' }],
  },
  spec: { pipelineSpec: { tasks: Array.from({ length: 50 }, (_, i) => ({ name: `t${i}`, taskSpec: { steps: [{ name: 's', image: 'bash', script: 'x'.repeat(2000) }] } })) } },
  status: {
    startTime: '2026-12-02T10:00:00Z', completionTime: '2026-12-02T10:05:00Z',
    conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded' }],
    pipelineSpec: { tasks: [] }, childReferences: [{ name: 'r-t0' }], provenance: {},
  },
} as unknown as PipelineRun;

test('the cache keeps identity, labels, our annotations and the completion status; drops the spec, managedFields, last-applied and the rest of the status', (t) => {
  const kept = cachedRun(RUN);
  t.deepEqual(kept, {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    metadata: {
      name: 'r', namespace: 'ci', uid: 'u-1', resourceVersion: '42', generation: 1,
      labels: { 'tlr.dev/opted-in': 'true' },
      annotations: { 'tlr.dev/result-volume': 'template' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'o', uid: 'o-1' }],
    },
    spec: {},
    status: { startTime: '2026-12-02T10:00:00Z', completionTime: '2026-12-02T10:05:00Z', conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded' }] },
  } as unknown as PipelineRun);
  t.true(isDone(kept), 'retention still sees it finished');
  t.true(JSON.stringify(kept).length < 1024, `${JSON.stringify(kept).length} bytes of ${JSON.stringify(RUN).length}`);
  // A run not started yet has no status: none is made up.
  t.is(cachedRun({ ...RUN, status: undefined }).status, undefined);
});
