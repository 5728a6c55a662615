/**
 * Standalone TaskRuns on the real cluster (stock Tekton v1.15.0): a TaskRun that names a stored Task by `taskRef`
 * opts in exactly as `tlr render run.yaml task.yaml` says — the admission webhook reads the Task (as it does for a
 * PipelineRun's) and inlines it — so the Task's `tlr.dev/reference-results` alone makes its result travel by
 * reference, far over the 4 KiB a classic result may take. Opted in with a Task that does not exist, it is refused
 * by `kubectl create` with the Task's name.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { connectCluster, testNamespace, type E2eCluster } from '../support/node/e2e-cluster.js';
import { referenceOf, report, succeeded, waitDone } from '../support/node/runs.js';

let cluster: E2eCluster;

test.before(async () => {
  cluster = await connectCluster();
});

test.after.always(async () => {
  await cluster?.release();
});

const COUNT = 20_000; // `seq 1 20000`: 108,894 bytes
const VALUE = `${Array.from({ length: COUNT }, (_, i) => String(i + 1)).join('\n')}\n`;

const TASK = `apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: numbers
  annotations:
    tlr.dev/reference-results: list
spec:
  results:
    - name: list
  steps:
    - name: write
      image: docker.io/library/busybox:1.35
      script: |
        #!/bin/sh
        seq 1 ${COUNT} > "$(results.list.path)"
`;

function taskRun(task: string, annotations = ''): string {
  return `apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  generateName: numbers-
${annotations}spec:
  taskRef:
    name: ${task}
`;
}

test('a TaskRun naming a stored Task that stores a result by reference runs with it stored by reference', async (t) => {
  const ns = await testNamespace(t, cluster, 'taskrun');
  await cluster.kubectl(['-n', ns, 'apply', '-f', '-'], { input: TASK });
  const { stdout } = await cluster.kubectl(['-n', ns, 'create', '-f', '-', '-o', 'jsonpath={.metadata.name}'], { input: taskRun('numbers') });
  const done = await waitDone(cluster, ns, 'taskrun', stdout.trim());
  t.is(succeeded(done)?.status, 'True', `${succeeded(done)?.message ?? ''}\n${await report(cluster, ns)}`);
  const reference = referenceOf(done, 'list');
  t.truthy(reference, 'the result is a reference');
  t.is(reference?.size, Buffer.byteLength(VALUE));
  t.is(reference?.sha256, createHash('sha256').update(VALUE).digest('hex'), 'the bytes the step wrote, sealed');
  const spec = (done as { spec?: { taskRef?: unknown; taskSpec?: { steps?: Array<{ name?: string }> } } }).spec;
  t.is(spec?.taskRef, undefined, 'the Task was inlined at admission');
  t.true((spec?.taskSpec?.steps ?? []).some((s) => s.name === 'tlr-seal'));
});

test('an opted-in TaskRun whose Task does not exist is refused at admission, naming it', async (t) => {
  const ns = await testNamespace(t, cluster, 'taskrun');
  const refused = await cluster.kubectl(['-n', ns, 'create', '-f', '-'], {
    input: taskRun('no-such-task', '  annotations:\n    tlr.dev/reference-results: list\n'),
    allowFailure: true,
  });
  t.not(refused.code, 0);
  t.regex(refused.stderr, /spec\.taskRef: the run opts in .*Task "no-such-task" was not found/);
});
