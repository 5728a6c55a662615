/**
 * Copies on the real cluster (stock Tekton v1.15.0, the kubelet, containerd): a value stored by reference, used where
 * no step can put it in, comes from the copy the producer's seal step publishes (src/core/copies.ts) — the image the
 * kubelet pulls, a Secret's name the kubelet reads for env, a ConfigMap's name it mounts, a sidecar's env, a when
 * expression Tekton's controller evaluates, a sidecar's env with `$(HOME)` and `$$` in the value (the escaped copy:
 * the kubelet expands `$(VAR)` there) — while the same task takes a large value by reference as before. A value
 * too large for a copy fails the producer's seal step, naming the result and the config key, and nothing consumes it; a
 * finally task taking a copy runs only when its producer succeeded (its seal step ran).
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { connectCluster, testNamespace, type E2eCluster } from '../support/node/e2e-cluster.js';
import { create, failedStepLog, get, pipelineRunYaml, report, resultOf, succeeded, taskRunOf, waitDone } from '../support/node/runs.js';

let cluster: E2eCluster;

test.before(async () => {
  cluster = await connectCluster();
});

test.after.always(async () => {
  await cluster?.release();
});

const IMAGE = 'docker.io/library/busybox:1.35';
/** Over Tekton's 4 KiB per result: it can only travel by reference. */
const BIG = `${"it's big \"q\" $(x) `id`\n".repeat(300)}`;
/** For the sidecar's env, which the kubelet expands: `$(HOME)` and `$$` must arrive as written. */
const NOTE = 'n=$(HOME) $$ x';
const sha256 = (b: string): string => createHash('sha256').update(b).digest('hex');
const b64 = (text: string): string => Buffer.from(text).toString('base64');

const PRODUCE = `
      - name: produce
        taskSpec:
          results:
            - {name: image, storage: reference}
            - {name: secret, storage: reference}
            - {name: config, storage: reference}
            - {name: gate, storage: reference}
            - {name: note, storage: reference}
            - {name: big, storage: reference}
          steps:
            - name: write
              image: ${IMAGE}
              script: |
                #!/bin/sh
                set -eu
                printf '%s' '${IMAGE}' > "$(results.image.path)"
                printf '%s' app-token > "$(results.secret.path)"
                printf '%s' app-config > "$(results.config.path)"
                printf '%s' go > "$(results.gate.path)"
                printf '%s' '${NOTE}' > "$(results.note.path)"
                printf '%s' '${b64(BIG)}' | base64 -d > "$(results.big.path)"`;

// An unmodified catalog-style Task: its params go where Tekton puts them.
const CONSUME = `
      - name: consume
        when:
          - input: $(tasks.produce.results.gate)
            operator: in
            values: [go]
        params:
          - {name: image, value: $(tasks.produce.results.image)}
          - {name: secret, value: $(tasks.produce.results.secret)}
          - {name: config, value: $(tasks.produce.results.config)}
          - {name: gate, value: $(tasks.produce.results.gate)}
          - {name: note, value: $(tasks.produce.results.note)}
          - {name: big, value: $(tasks.produce.results.big)}
        taskSpec:
          params:
            - {name: image}
            - {name: secret}
            - {name: config}
            - {name: gate}
            - {name: note}
            - {name: big}
          results:
            - {name: token}
            - {name: setting}
            - {name: big-sha256}
          volumes:
            - name: conf
              configMap:
                name: $(params.config)
          sidecars:
            - name: side
              image: $(params.image)
              env:
                - {name: GATE, value: $(params.gate)}
                - {name: NOTE, value: $(params.note)}
              script: |
                #!/bin/sh
                echo "sidecar gate=$GATE"
                echo "sidecar note=$NOTE"
                sleep 3600
          steps:
            - name: use
              image: $(params.image)
              env:
                - name: TOKEN
                  valueFrom:
                    secretKeyRef: {name: $(params.secret), key: token}
                - {name: BIG, value: $(params.big)}
              volumeMounts:
                - {name: conf, mountPath: /conf}
              script: |
                #!/bin/sh
                set -eu
                printf '%s' "$TOKEN" > "$(results.token.path)"
                cat /conf/setting > "$(results.setting.path)"
                printf '%s' "$BIG" | sha256sum | cut -c1-64 | tr -d '\\n' > "$(results.big-sha256.path)"
      - name: not-go
        when:
          - input: $(tasks.produce.results.gate)
            operator: notin
            values: [go]
        taskSpec:
          steps:
            - {name: never, image: ${IMAGE}, script: "exit 1"}`;

test('a small value reaches an image, a Secret’s and a ConfigMap’s name, a sidecar and a when expression through its copy; a large one beside it by reference', async (t) => {
  const ns = await testNamespace(t, cluster, 'copies');
  await cluster.kubectl(['-n', ns, 'create', 'secret', 'generic', 'app-token', '--from-literal=token=s3cr3t']);
  await cluster.kubectl(['-n', ns, 'create', 'configmap', 'app-config', '--from-literal=setting=on']);
  const name = await create(cluster, ns, pipelineRunYaml('copies', PRODUCE + CONSUME));
  const done = await waitDone(cluster, ns, 'pipelinerun', name);
  t.is(succeeded(done)?.status, 'True', `${succeeded(done)?.message ?? ''}\n${await report(cluster, ns)}`);
  const consumer = await taskRunOf(cluster, ns, done, 'consume');
  t.is(resultOf(consumer, 'token'), 's3cr3t', "the Secret named by the value's copy");
  t.is(resultOf(consumer, 'setting'), 'on', "the ConfigMap named by the value's copy, mounted");
  t.is(resultOf(consumer, 'big-sha256'), sha256(BIG), 'the large value beside it, by reference, byte-exact');
  const pod = await get<{ spec: { containers: Array<{ name: string; image: string; env?: Array<{ name: string; value?: string }> }> } }>(
    cluster, ns, 'pod', consumer.status?.podName ?? '');
  t.is(pod.spec.containers.find((c) => c.name === 'step-use')?.image, IMAGE, 'the image the kubelet ran is the value');
  // The sidecar's image is not asserted on the pod: Tekton stops sidecars when the steps end by swapping their image
  // for its nop image. Its log shows it ran the value's image (a shell, its env).
  const sidecar = await cluster.kubectl(['-n', ns, 'logs', consumer.status?.podName ?? '', '-c', 'sidecar-side']);
  t.regex(sidecar.stdout, /^sidecar gate=go$/m, "the sidecar's env from the copy");
  t.true(sidecar.stdout.split('\n').includes(`sidecar note=${NOTE}`), `the kubelet gave back $(HOME) and $$ as written (the escaped copy): ${sidecar.stdout}`);
  const skipped = (done.status as { skippedTasks?: Array<{ name: string; reason?: string }> } | undefined)?.skippedTasks ?? [];
  t.deepEqual(skipped.map((s) => [s.name, s.reason]), [['not-go', 'When Expressions evaluated to false']], 'Tekton evaluated the when expressions on the value');
  const producer = await taskRunOf(cluster, ns, done, 'produce');
  t.is(resultOf(producer, 'tlr-copy-image'), IMAGE, 'the copy is a classic result of the producer');
  t.is(resultOf(producer, 'tlr-copy-big'), undefined, 'a value used only by reference has no copy');
});

test('a value too large for a copy fails the producer’s seal step, naming the result and maxCopySize; the consumer never runs', async (t) => {
  const ns = await testNamespace(t, cluster, 'copies-big');
  const name = await create(cluster, ns, pipelineRunYaml('copy-too-big', `
      - name: produce
        taskSpec:
          results:
            - {name: image, storage: reference}
          steps:
            - name: write
              image: ${IMAGE}
              script: |
                #!/bin/sh
                head -c 600 /dev/zero | tr '\\0' x > "$(results.image.path)"
      - name: consume
        params:
          - {name: image, value: $(tasks.produce.results.image)}
        taskSpec:
          params:
            - {name: image}
          steps:
            - {name: use, image: $(params.image), script: "echo COMMAND-RAN"}`));
  const done = await waitDone(cluster, ns, 'pipelinerun', name);
  t.is(succeeded(done)?.status, 'False');
  const producer = await taskRunOf(cluster, ns, done, 'produce');
  const { step, log } = await failedStepLog(cluster, ns, producer);
  t.is(step, 'tlr-seal', await report(cluster, ns));
  t.regex(log, /Result "image" is used where a copy of its value is needed .* a copy is at most 512 bytes \(config key maxCopySize\); found 600 bytes/);
  const taskRuns = await cluster.kubectl(['-n', ns, 'get', 'taskruns', '-o', 'name']);
  t.notRegex(taskRuns.stdout, /consume/, 'no consumer TaskRun was made');
});

test('a finally task taking a copy is skipped when its producer failed before sealing (a step had left a forged file under the copy’s name); it runs when the producer succeeded', async (t) => {
  const ns = await testNamespace(t, cluster, 'copies-finally');
  // The value only in the image, so the copy is all the task takes (a param carrying the reference would pass it too,
  // and Tekton skips a finally task whose result is missing before it looks at its when expressions).
  const consumer = (name: string, producer: string): string => `
      - name: ${name}
        taskSpec:
          steps:
            - {name: use, image: $(tasks.${producer}.results.image), script: "echo RAN"}`;
  const producer = (name: string, fail: boolean): string => `
      - name: ${name}
        taskSpec:
          results:
            - {name: image, storage: reference}
          steps:
            - name: write
              image: ${IMAGE}
              script: |
                #!/bin/sh
                printf '%s' '${IMAGE}' > "$(results.image.path)"
                ${fail ? "printf '%s' 'docker.io/library/forged:1' > /tekton/results/tlr-copy-image; exit 1" : 'true'}`;
  const name = await create(cluster, ns, `${pipelineRunYaml('copies-finally', producer('bad', true) + producer('good', false))}    finally:${consumer('fin-bad', 'bad')}${consumer('fin-good', 'good')}\n`);
  const done = await waitDone(cluster, ns, 'pipelinerun', name);
  t.is(succeeded(done)?.status, 'False', 'task "bad" failed');
  const skipped = (done.status as { skippedTasks?: Array<{ name: string; reason?: string }> } | undefined)?.skippedTasks ?? [];
  t.deepEqual(skipped.map((s) => [s.name, s.reason]), [['fin-bad', 'When Expressions evaluated to false']], await report(cluster, ns));
  const good = await taskRunOf(cluster, ns, done, 'fin-good');
  t.is(succeeded(good)?.status, 'True', 'the finally task of the producer that succeeded ran');
  const taskRuns = await cluster.kubectl(['-n', ns, 'get', 'taskruns', '-o', 'name']);
  t.notRegex(taskRuns.stdout, /fin-bad/, 'no TaskRun ran the forged image');
});
