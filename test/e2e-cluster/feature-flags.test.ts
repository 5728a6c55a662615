/**
 * Tekton's feature flags on the real cluster (stock Tekton v1.15.0), as an admin sets them: a field Tekton admits
 * only under `enable-api-fields: alpha` is refused in an opted-in run by `kubectl create` with the field and the flag
 * (Tekton's own webhook refuses the same field in a plain run, so the gate is Tekton's, not ours); and under
 * `disable-inline-spec: pipeline` an opted-in run the rewrite would inline a stored Task into is refused naming the
 * flag, where a plain run of the same Pipeline is admitted. In each case `tlr validate --feature-flags` given the
 * cluster's ConfigMap (`kubectl get -o yaml`) prints the very message `kubectl create` printed: the CLI predicts the
 * cluster. Server-side dry runs (admission without storing), so no pod starts. The flags are put back afterwards.
 */
import test from 'ava';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectCluster, testNamespace, type E2eCluster } from '../support/node/e2e-cluster.js';
import { featureFlags, setFeatureFlags } from '../support/node/tekton-flags.js';
import { TEKTON_NAMESPACE } from '../support/node/tekton.js';
import { tlr } from '../support/node/tlr-cli.js';

let cluster: E2eCluster;
let original: Record<string, string> = {};

const KEYS = ['enable-api-fields', 'disable-inline-spec'] as const;

test.before(async () => {
  cluster = await connectCluster();
  original = await featureFlags(cluster);
});

test.after.always(async () => {
  // Put back what the admin had (a key that was absent is removed again).
  if (cluster) await setFeatureFlags(cluster, Object.fromEntries(KEYS.map((k) => [k, original[k] ?? null])));
  await cluster?.release();
});

/** The cluster's feature-flags ConfigMap as `kubectl get -o yaml` prints it, in a file for `tlr --feature-flags`. */
async function clusterFlagsFile(): Promise<string> {
  const { stdout } = await cluster.kubectl(['-n', TEKTON_NAMESPACE, 'get', 'configmap', 'feature-flags', '-o', 'yaml']);
  const file = join(await mkdtemp(join(tmpdir(), 'tlr-flags-')), 'feature-flags.yaml');
  await writeFile(file, stdout);
  return file;
}

async function fileWith(name: string, text: string): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'tlr-run-')), name);
  await writeFile(file, text);
  return file;
}

/** A run whose producer captures its standard output into the result (stdoutConfig, alpha in v1.15.0). */
function stdoutRun(optedIn: boolean): string {
  return `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: capture
spec:
  pipelineSpec:
${optedIn ? '    resultWorkspace:\n      name: results\n' : ''}    tasks:
      - name: lint
        taskSpec:
          results:
            - name: report
${optedIn ? '              storage: reference\n' : ''}          steps:
            - name: lint
              image: docker.io/library/busybox:1.35
              stdoutConfig:
                path: $(results.report.path)
              script: |
                #!/bin/sh
                seq 1 10
`;
}

/**
 * The message of `tlr validate`'s first error (`file:line:col: error: Kind name: path: ` dropped: the file has no
 * namespace, the cluster's message names the run's, and the CLI locates a field of a stored Task in the Task's own
 * file, by its own path, where the webhook names the run's inlined path).
 */
function firstError(stderr: string): string {
  return /: error: \S+ \S+(?:, run by \S+ \S+)?: \S+: (.*)/.exec(stderr)?.[1] ?? `(no error in: ${stderr})`;
}

test('stdoutConfig under Tekton’s default beta: kubectl create refuses the opted-in run naming the field and the flag, as tlr validate predicts; under alpha it is admitted', async (t) => {
  const ns = await testNamespace(t, cluster, 'flags');
  await setFeatureFlags(cluster, { 'enable-api-fields': 'beta' });
  const refused = await cluster.kubectl(['-n', ns, 'create', '--dry-run=server', '-f', '-'], { input: stdoutRun(true), allowFailure: true });
  t.not(refused.code, 0);
  t.regex(refused.stderr, /spec\.pipelineSpec\.tasks\[0\]\.taskSpec\.steps\[0\]\.stdoutConfig: step stdout stream support \(stdoutConfig\) needs Tekton's feature flag enable-api-fields: alpha, and the feature flags in use have "beta"/);
  // The same field in a plain run: Tekton's own webhook refuses it; the gate is Tekton's.
  const plain = await cluster.kubectl(['-n', ns, 'create', '--dry-run=server', '-f', '-'], { input: stdoutRun(false), allowFailure: true });
  t.not(plain.code, 0);
  t.regex(plain.stderr, /stdout stream support.*enable-api-fields.*alpha/s);

  const predicted = await tlr(['validate', '--feature-flags', await clusterFlagsFile(), await fileWith('run.yaml', stdoutRun(true))]);
  t.is(predicted.code, 1);
  t.regex(predicted.stderr, /error: PipelineRun \S+: spec\.pipelineSpec\.tasks\[0\]\.taskSpec\.steps\[0\]\.stdoutConfig: /, 'an embedded spec: the run\'s own path');
  t.true(refused.stderr.includes(firstError(predicted.stderr)), `tlr validate said:\n${predicted.stderr}\nkubectl create said:\n${refused.stderr}`);

  await setFeatureFlags(cluster, { 'enable-api-fields': 'alpha' });
  const admitted = await cluster.kubectl(['-n', ns, 'create', '--dry-run=server', '-f', '-', '-o', 'json'], { input: stdoutRun(true) });
  const stored = JSON.parse(admitted.stdout) as { metadata?: { annotations?: Record<string, string> } };
  t.truthy(stored.metadata?.annotations?.['tlr.dev/rewritten'], 'admitted, rewritten');
  const clean = await tlr(['validate', '--feature-flags', await clusterFlagsFile(), await fileWith('run.yaml', stdoutRun(true))]);
  t.is(clean.code, 0, clean.stderr);
});

/** A stored Pipeline running a stored Task; opted in (`-ref`) by the Task's annotation alone, as catalog Tasks are. */
function stored(name: string, optedIn: boolean): string {
  return `apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: ${name}
spec:
  tasks:
    - name: gen
      taskRef:
        name: ${name}
---
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: ${name}
${optedIn ? '  annotations:\n    tlr.dev/reference-results: list\n' : ''}spec:
  results:
    - name: list
  steps:
    - name: write
      image: docker.io/library/busybox:1.35
      script: |
        #!/bin/sh
        seq 1 100 > "$(results.list.path)"
`;
}
const refRun = (pipeline: string): string => `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: numbers
spec:
  pipelineRef:
    name: ${pipeline}
`;

test('disable-inline-spec: pipeline: an opted-in run whose stored Task the rewrite would inline is refused naming the flag, as tlr validate predicts; the plain run is admitted', async (t) => {
  const ns = await testNamespace(t, cluster, 'flags');
  await cluster.kubectl(['-n', ns, 'apply', '-f', '-'], { input: `${stored('numbers-ref', true)}---\n${stored('numbers', false)}` });
  await setFeatureFlags(cluster, { 'disable-inline-spec': 'pipeline' });
  const refused = await cluster.kubectl(['-n', ns, 'create', '--dry-run=server', '-f', '-'], { input: refRun('numbers-ref'), allowFailure: true });
  t.not(refused.code, 0);
  t.regex(refused.stderr, /spec\.pipelineSpec\.tasks\[0\]\.taskSpec: the rewrite inlines the stored Task here .*disable-inline-spec: "pipeline", so Tekton refuses an embedded spec in a pipeline/);
  const plain = await cluster.kubectl(['-n', ns, 'create', '--dry-run=server', '-f', '-'], { input: refRun('numbers'), allowFailure: true });
  t.is(plain.code, 0, plain.stderr);

  const files = await Promise.all([fileWith('run.yaml', refRun('numbers-ref')), fileWith('stored.yaml', stored('numbers-ref', true))]);
  const predicted = await tlr(['validate', '--feature-flags', await clusterFlagsFile(), ...files]);
  t.is(predicted.code, 1);
  t.true(refused.stderr.includes(firstError(predicted.stderr)), `tlr validate said:\n${predicted.stderr}\nkubectl create said:\n${refused.stderr}`);
  t.regex(predicted.stderr, /stored\.yaml:\d+:\d+: error: Task numbers-ref, run by PipelineRun numbers: spec: the rewrite inlines the stored Task here/, 'located in the Task the user wrote');
});
