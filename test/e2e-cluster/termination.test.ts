/**
 * The seal step's termination message on the real cluster (stock Tekton v1.15.0): the kubelet keeps 12288 bytes of
 * termination messages per pod, split among its containers, and cuts each at its share; Tekton then drops every
 * result of the message and the run still succeeds. The largest set of reference results the rewrite accepts in one
 * task (its computed message just under the share of the pod's computed containers) runs to Succeeded with every
 * reference published, in a pod of the containers computed; one result more is refused at admission, with the numbers.
 */
import test from 'ava';
import { parse } from 'yaml';
import type { PipelineRun } from '../../src/api/tekton.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { containerMessageBudget, podContainers, sealMessageBytes } from '../../src/core/termination-budget.js';
import { connectCluster, testNamespace, type E2eCluster } from '../support/node/e2e-cluster.js';
import { get, referenceOf, report, succeeded, taskRunOf, waitDone } from '../support/node/runs.js';
let cluster: E2eCluster;

test.before(async () => {
  cluster = await connectCluster();
});

test.after.always(async () => {
  await cluster?.release();
});

const config = parseConfig({});
const featureFlags = parseFeatureFlags({});

/** Whether the rewrite (as the webhook runs it, default config and flags) accepts the run. */
function accepted(names: readonly string[]): boolean {
  try {
    rewritePipelineRun(parse(run(names)) as PipelineRun, { config, featureFlags });
    return true;
  } catch {
    return false;
  }
}

/** `count` result names as long as the rewrite accepts them. */
function fittingNames(count: number): string[] {
  const names = (p: number): string[] => Array.from({ length: count }, (_, i) => `r${i}-${'x'.repeat(p)}`);
  let pad = 0;
  while (accepted(names(pad + 1))) pad += 1;
  return names(pad);
}

function run(names: readonly string[]): string {
  return `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  generateName: many-results-
spec:
  pipelineSpec:
    resultWorkspace:
      name: results
    tasks:
      - name: build
        taskSpec:
          results:
${names.map((n) => `            - name: ${n}\n              storage: reference`).join('\n')}
          steps:
            - name: write
              image: docker.io/library/busybox:1.35
              script: |
                #!/bin/sh
${names.map((n) => `                echo ${n} > "$(results.${n}.path)"`).join('\n')}
`;
}

test('the most references the rewrite accepts in one task all reach Tekton; one more is refused at admission', async (t) => {
  const ns = await testNamespace(t, cluster, 'termination');
  const names = fittingNames(10);
  const rewritten = rewritePipelineRun(parse(run(names)) as PipelineRun, { config, featureFlags }).object;
  const predicted = podContainers(rewritten.spec.pipelineSpec?.tasks?.[0]?.taskSpec ?? {});
  const budget = containerMessageBudget(predicted.total);
  const computed = sealMessageBytes('build', names, config.maxResultSize, featureFlags)?.bytes ?? 0;
  t.true(computed > budget - 2 * names.length && computed <= budget, `computed ${computed} bytes for ${budget}`);
  const { stdout } = await cluster.kubectl(['-n', ns, 'create', '-f', '-', '-o', 'jsonpath={.metadata.name}'], { input: run(names) });
  const done = await waitDone(cluster, ns, 'pipelinerun', stdout.trim());
  t.is(succeeded(done)?.status, 'True', `${succeeded(done)?.message ?? ''}\n${await report(cluster, ns)}`);
  const producer = await taskRunOf(cluster, ns, done, 'build');
  t.deepEqual(names.filter((n) => referenceOf(producer, n) === undefined), [], 'every reference published');
  const podName = (producer as { status?: { podName?: string } }).status?.podName ?? '';
  const pod = await get<{ spec: { containers: unknown[]; initContainers?: unknown[] } }>(cluster, ns, 'pod', podName);
  t.deepEqual(
    { containers: pod.spec.containers.length, init: pod.spec.initContainers?.length ?? 0 },
    { containers: predicted.steps + predicted.sidecars, init: predicted.init },
    'the containers the rewrite counts are the pod\'s',
  );

  const refused = await cluster.kubectl(['-n', ns, 'create', '-f', '-'], { input: run([...names, 'one-more']), allowFailure: true });
  t.not(refused.code, 0);
  t.regex(refused.stderr, new RegExp(`its 11 results stored by reference put \\d+ bytes into its tlr-seal step's termination message .*over the ${budget} bytes Tekton gets from it: the kubelet keeps`));
});
