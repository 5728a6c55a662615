/**
 * The common pipeline shape on the real cluster, under Tekton's default `coschedule: workspaces`: every task shares a
 * source workspace (a volumeClaimTemplate), one produces a result far over 4 KiB by reference, another reads it.
 * Before, this was refused at admission (a provisioned result volume would be each task's second PVC, which Tekton's
 * affinity assistant refuses); now the results go on the shared volume, under the run's directory: the run
 * succeeds with one PVC, `kubectl create` shows the warning saying so, and `tlr fetch` reads the result back. What
 * the warning says it gives up is true too: a task mounting the shared volume can change a sealed result, and the
 * consumer then refuses it rather than use it.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectCluster, testNamespace, type E2eCluster } from '../support/node/e2e-cluster.js';
import { tlr } from '../support/node/tlr-cli.js';
import { createWithWarnings, referenceOf, report, resultOf, succeeded, taskRunOf, waitDone } from '../support/node/runs.js';

let cluster: E2eCluster;

test.before(async () => {
  cluster = await connectCluster();
});

test.after.always(async () => {
  await cluster?.release();
});

const COUNT = 30_000; // `seq 1 30000`: 168,894 bytes

/** fetch-source (not ours) → build (a reference result) → [meddle] → report, all on the shared `source` workspace. */
function pipelineRun(meddle: boolean): string {
  const meddler = !meddle ? '' : `
      - name: meddle
        runAfter: [build]
        workspaces:
          - name: src
            workspace: source
        taskSpec:
          workspaces:
            - name: src
          steps:
            - name: change
              image: docker.io/library/busybox:1.35
              script: |
                #!/bin/sh
                echo changed >> "$(workspaces.src.path)/$(context.pipelineRun.uid)/build/numbers"`;
  return `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  generateName: shared-
spec:
  workspaces:
    - name: source
      volumeClaimTemplate:
        spec:
          accessModes: [ReadWriteOnce]
          resources:
            requests:
              storage: 1Gi
  pipelineSpec:
    workspaces:
      - name: source
    tasks:
      - name: fetch-source
        workspaces:
          - name: output
            workspace: source
        taskSpec:
          workspaces:
            - name: output
          steps:
            - name: clone
              image: docker.io/library/busybox:1.35
              script: |
                #!/bin/sh
                echo 'main() {}' > "$(workspaces.output.path)/main.c"
      - name: build
        runAfter: [fetch-source]
        workspaces:
          - name: src
            workspace: source
        taskSpec:
          workspaces:
            - name: src
          results:
            - name: numbers
              storage: reference
          steps:
            - name: build
              image: docker.io/library/busybox:1.35
              script: |
                #!/bin/sh
                test -s "$(workspaces.src.path)/main.c"
                seq 1 ${COUNT} > "$(results.numbers.path)"${meddler}
      - name: report
        runAfter: [${meddle ? 'meddle' : 'build'}]
        workspaces:
          - name: src
            workspace: source
        params:
          - name: numbers
            value: $(tasks.build.results.numbers)
        taskSpec:
          workspaces:
            - name: src
          params:
            - name: numbers
          results:
            - name: sha256
          steps:
            - name: digest
              image: docker.io/library/busybox:1.35
              script: |
                #!/bin/sh
                set -eu
                cat > /tmp/numbers <<'TLR_END'
                $(params.numbers)
                TLR_END
                sha256sum /tmp/numbers | cut -d' ' -f1 | tr -d '\\n' > "$(results.sha256.path)"
`;
}

const VALUE = `${Array.from({ length: COUNT }, (_, i) => String(i + 1)).join('\n')}\n`;
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

test('the tasks share a source volumeClaimTemplate: the result goes on it, the run succeeds with one PVC, tlr fetch reads it back', async (t) => {
  const ns = await testNamespace(t, cluster, 'shared');
  const { name, warnings } = await createWithWarnings(cluster, ns, pipelineRun(false));
  t.regex(warnings, /tasks store results by reference and share workspace "source" \(a volumeClaimTemplate\).*the results are stored on it/s, warnings);
  const run = await waitDone(cluster, ns, 'pipelinerun', name);
  t.is(succeeded(run)?.status, 'True', `${succeeded(run)?.message ?? ''}\n${await report(cluster, ns)}`);
  const build = await taskRunOf(cluster, ns, run, 'build');
  const reference = referenceOf(build, 'numbers');
  t.is(reference?.size, Buffer.byteLength(VALUE));
  t.is(reference?.sha256, sha256(VALUE), 'the bytes the step wrote, sealed');
  // The consumer's heredoc adds one newline to the value: its sha256 is that of the value plus "\n".
  t.is(resultOf(await taskRunOf(cluster, ns, run, 'report'), 'sha256'), sha256(`${VALUE}\n`), 'the consumer got the value, byte-exact');
  const pvcs = await cluster.kubectl(['-n', ns, 'get', 'pvc', '-o', 'jsonpath={range .items[*]}{.metadata.name}{"\\n"}{end}']);
  t.is(pvcs.stdout.trim().split('\n').length, 1, `one PVC, the source's: ${pvcs.stdout}`);

  const dir = await mkdtemp(join(tmpdir(), 'tlr-shared-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const fetched = await tlr(['fetch', name, 'build.numbers', '-n', ns, '-o', dir], cluster.kubeConfigPath);
  t.is(fetched.code, 0, fetched.stderr);
  t.is(await readFile(join(dir, 'build.numbers'), 'utf8'), VALUE, 'tlr fetch of a result on a shared volumeClaimTemplate volume');
});

test('what the warning says it gives up: a task mounting the shared volume changes a sealed result, and the consumer refuses it', async (t) => {
  const ns = await testNamespace(t, cluster, 'shared');
  const { name } = await createWithWarnings(cluster, ns, pipelineRun(true));
  const run = await waitDone(cluster, ns, 'pipelinerun', name);
  t.is(succeeded(run)?.status, 'False', 'the run fails');
  const consumer = await taskRunOf(cluster, ns, run, 'report');
  t.is(succeeded(consumer)?.reason, 'InitContainerFailed', await report(cluster, ns));
  const described = await cluster.kubectl(['-n', ns, 'describe', 'pod', consumer.status?.podName ?? '']);
  t.regex(described.stdout, /does not match its reference/, 'the changed value is refused, not used');
});
