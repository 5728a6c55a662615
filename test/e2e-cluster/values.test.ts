/**
 * Reference values in steps' env, args and command on the real cluster (stock Tekton v1.15.0, the kubelet, containerd):
 * the Pod webhook runs the steps that carry one through tlr-exec, which puts the verified bytes in at the step's turn.
 * Each consumer step hashes what it received; the hash must be the producer's sealed sha256: byte-exact through env,
 * through args, in a `FROM scratch` image (no shell, only /jq), and for an empty value.
 * A value too large for Linux fails that step before its command runs, saying so in the step's log.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { connectCluster, testNamespace, type E2eCluster } from '../support/node/e2e-cluster.js';
import { createWithWarnings, failedStepLog, get, pipelineRunYaml, referenceOf, report, resultOf, type RunObject, succeeded, taskRunOf, waitDone } from '../support/node/runs.js';
import { enableAlphaFields } from '../support/node/tekton-flags.js';

let cluster: E2eCluster;

test.before(async () => {
  cluster = await connectCluster();
  await enableAlphaFields(cluster); // stdoutConfig, for the scratch image's step (no shell to write a result)
});

test.after.always(async () => {
  await cluster?.release();
});

/** Bytes no shell or kubelet may touch: quotes, $(…) in the kubelet's and Tekton's syntax, CRLF, non-UTF-8, newlines. */
const HOSTILE = Buffer.concat([
  Buffer.from(`it's "q" \\ $(HOME) $(params.v) $$(X) \`id\` $(touch /tmp/pwned)\r\n--flag=1 [[tlr:v1:x]]\n`),
  Buffer.from([0xff, 0xfe, 0x80, 0xc3, 0x28]),
  Buffer.from('\n\n'),
]);
/** Over Tekton's 4 KiB, well under Linux's 128 KiB per string. */
const COPIES = 200;
const VALUE = Buffer.concat(Array.from({ length: COPIES }, () => HOSTILE));
const NOTE = `'"$(x)\``;
const ITEMS = 2000;
const DOC = `{"items":[${Array.from({ length: ITEMS }, (_, i) => `{"id":${i},"note":${JSON.stringify(NOTE)}}`).join(',')}]}`;
const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const b64 = (text: Buffer | string): string => Buffer.from(text).toString('base64');

// The producer builds the values from small pieces: Tekton's place-scripts passes a script in one argument, so a
// script holding the values themselves would be over Linux's 128 KiB per argument.
const PRODUCE = `
      - name: produce
        taskSpec:
          results:
            - name: value
              storage: reference
            - name: doc
              storage: reference
            - name: empty
              storage: reference
          steps:
            - name: write
              image: docker.io/library/busybox:1.35
              script: |
                #!/bin/sh
                set -eu
                printf '%s' '${b64(HOSTILE)}' | base64 -d > /tmp/piece
                i=0; while [ $i -lt ${COPIES} ]; do cat /tmp/piece; i=$((i + 1)); done > "$(results.value.path)"
                printf '%s' '${b64(JSON.stringify(NOTE))}' | base64 -d > /tmp/note
                {
                  printf '{"items":['
                  i=0; while [ $i -lt ${ITEMS} ]; do
                    [ $i -gt 0 ] && printf ','
                    printf '{"id":%d,"note":' $i; cat /tmp/note; printf '}'
                    i=$((i + 1))
                  done
                  printf ']}'
                } > "$(results.doc.path)"
                : > "$(results.empty.path)"`;

// The step names its command: a step without one needs Tekton to look the image's up in its registry, and this
// cluster has none (the helper's --platform-commands path is tested in test/init/exec-helper.test.ts).
const JQ_ARGS = ['--join-output', '--null-input', 'env.DOC | fromjson | .items | length'];

const CONSUME = `
      - name: consume
        params:
          - name: value
            value: $(tasks.produce.results.value)
          - name: empty
            value: $(tasks.produce.results.empty)
        taskSpec:
          params:
            - name: value
            - name: empty
          results:
            - name: env-sha256
            - name: args-sha256
            - name: template-sha256
            - name: count
            - name: empty
          stepTemplate:
            env:
              - name: FROM_TEMPLATE
                value: $(params.value)
          steps:
            - name: env
              image: docker.io/library/busybox:1.35
              env:
                - name: VALUE
                  value: $(params.value)
              script: |
                #!/bin/sh
                printf '%s' "$VALUE" | sha256sum | cut -c1-64 | tr -d '\\n' > "$(results.env-sha256.path)"
                printf '%s' "$FROM_TEMPLATE" | sha256sum | cut -c1-64 | tr -d '\\n' > "$(results.template-sha256.path)"
            - name: args
              image: docker.io/library/busybox:1.35
              command: [sh, -c, 'printf "%s" "$1" | sha256sum | cut -c1-64 | tr -d "\\n" > "$0"']
              args: ["$(results.args-sha256.path)", "$(params.value)"]
            - name: scratch
              image: ghcr.io/jqlang/jq:1.7.1
              command: [/jq]
              env:
                - name: DOC
                  value: $(tasks.produce.results.doc)
              args: ${JSON.stringify(JQ_ARGS)}
              stdoutConfig:
                path: $(results.count.path)
            - name: empty
              image: docker.io/library/busybox:1.35
              env:
                - name: EMPTY
                  value: $(params.empty)
              script: |
                #!/bin/sh
                [ "\${EMPTY+set}" = set ] && [ -z "$EMPTY" ] && printf set-and-empty > "$(results.empty.path)"`;

const run = pipelineRunYaml;

const createRun = (ns: string, yaml: string): Promise<{ name: string; warnings: string }> => createWithWarnings(cluster, ns, yaml);

test('values reach env, args, the stepTemplate’s env, a scratch image (no shell), and an empty value, byte-exact', async (t) => {
  const ns = await testNamespace(t, cluster, 'values');
  const { name, warnings } = await createRun(ns, run('values', PRODUCE + CONSUME));
  t.regex(warnings, /Warning: PipelineRun .*: pipeline task "consume": \$\(params\.value\) puts result "value" of task "produce" into the stepTemplate's env by value; Linux passes at most 131072 bytes per argument or environment variable, and this namespace accepts results up to 1073741824 bytes \(1 GiB\)/, 'kubectl shows the admission warning');
  const done = await waitDone(cluster, ns, 'pipelinerun', name);
  t.is(succeeded(done)?.status, 'True', `${succeeded(done)?.message ?? ''}\n${await report(cluster, ns)}`);
  const producer = await taskRunOf(cluster, ns, done, 'produce');
  t.is(referenceOf(producer, 'value')?.sha256, sha256(VALUE));
  t.is(referenceOf(producer, 'value')?.size, VALUE.length);
  t.is(referenceOf(producer, 'doc')?.sha256, sha256(DOC));
  const consumer = await taskRunOf(cluster, ns, done, 'consume');
  t.is(resultOf(consumer, 'env-sha256'), sha256(VALUE), 'env: byte-exact');
  t.is(resultOf(consumer, 'template-sha256'), sha256(VALUE), "stepTemplate's env: byte-exact");
  t.is(resultOf(consumer, 'args-sha256'), sha256(VALUE), 'args: byte-exact');
  t.is(resultOf(consumer, 'count'), '2000', 'jq in a scratch image read the document from env');
  t.is(resultOf(consumer, 'empty'), 'set-and-empty', 'an empty value is an empty variable, not a missing one');

  // The pod as the webhook left it: the steps carrying values run the helper, read-only; the others as Tekton made them.
  const pod = await get<{ spec: { containers: Array<{ name: string; args: string[]; volumeMounts: Array<{ name: string; readOnly?: boolean }> }> } }>(
    cluster, ns, 'pod', consumer.status?.podName ?? '');
  const helper = (c: { args: string[] }): boolean => c.args.includes('/tekton/tlr-exec/tlr-exec');
  t.deepEqual(pod.spec.containers.filter(helper).map((c) => c.name), ['step-env', 'step-args', 'step-scratch', 'step-empty']);
  const scratch = pod.spec.containers.find((c) => c.name === 'step-scratch');
  const args = scratch?.args ?? [];
  t.deepEqual(args.slice(args.indexOf('-entrypoint')), ['-entrypoint', '/tekton/tlr-exec/tlr-exec', '--', '--root', '/tlr/results', '--', '/jq', ...JQ_ARGS]);
  t.true(scratch?.volumeMounts.some((m) => m.name === 'tlr-exec' && m.readOnly === true));
});

test('a value over Linux’s 128 KiB per variable fails that step before its command runs, with the sizes in its log', async (t) => {
  const ns = await testNamespace(t, cluster, 'values-big');
  const big = 200 * 1024;
  const yaml = run('too-big', `
      - name: produce
        taskSpec:
          results:
            - name: big
              storage: reference
          steps:
            - name: write
              image: docker.io/library/busybox:1.35
              script: |
                #!/bin/sh
                head -c ${big} /dev/zero | tr '\\0' x > "$(results.big.path)"
      - name: consume
        taskSpec:
          steps:
            - name: before
              image: docker.io/library/busybox:1.35
              script: echo BEFORE-RAN
            - name: use
              image: docker.io/library/busybox:1.35
              env:
                - name: BIG
                  value: $(tasks.produce.results.big)
              script: echo COMMAND-RAN`);
  const { name } = await createRun(ns, yaml);
  const done = await waitDone(cluster, ns, 'pipelinerun', name);
  t.is(succeeded(done)?.status, 'False');
  const consumer: RunObject = await taskRunOf(cluster, ns, done, 'consume');
  t.regex(succeeded(consumer)?.message ?? '', /"step-use" exited with code 1/, await report(cluster, ns));
  const { step, log } = await failedStepLog(cluster, ns, consumer);
  t.is(step, 'use');
  t.regex(log, new RegExp(`tlr-exec: error: environment variable BIG would take result "big" of task "produce", ${big} bytes; Linux passes at most 131072 bytes per argument or environment variable`));
  t.regex(log, /\$\(tasks\.produce\.results\.big\.path\)/, 'the way out is named');
  t.notRegex(log, /COMMAND-RAN/);
  const before = await cluster.kubectl(['-n', ns, 'logs', consumer.status?.podName ?? '', '-c', 'step-before']);
  t.regex(before.stdout, /BEFORE-RAN/, 'the steps before it ran as usual');
});

test('a workingDir carrying a value: the step runs in the directory it names (as root and as another user), and no directory named after the token is made', async (t) => {
  const ns = await testNamespace(t, cluster, 'values-workdir');
  const context = "pkg/it's app";
  // `$(HOME)` is not Tekton's: it stays in the workingDir as text, and the kubelet must not expand it either.
  const yaml = `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  generateName: workdir-
spec:
  workspaces:
    - name: source
      emptyDir: {}
  pipelineSpec:
    resultWorkspace:
      name: results
    workspaces:
      - name: source
    tasks:
      - name: produce
        taskSpec:
          results:
            - name: context
              storage: reference
          steps:
            - name: write
              image: docker.io/library/busybox:1.35
              script: |
                #!/bin/sh
                printf '%s' '${b64(context)}' | base64 -d > "$(results.context.path)"
      - name: build
        params:
          - name: CONTEXT
            value: $(tasks.produce.results.context)
        workspaces:
          - name: source
            workspace: source
        taskSpec:
          params:
            - name: CONTEXT
          workspaces:
            - name: source
          results:
            - name: cwd
            - name: user-cwd
            - name: token-dirs
          steps:
            - name: in-dir
              image: docker.io/library/busybox:1.35
              workingDir: $(workspaces.source.path)/$(HOME)/$(params.CONTEXT)
              script: |
                #!/bin/sh
                pwd | tr -d '\\n' > "$(results.cwd.path)"
            - name: as-user
              image: docker.io/library/busybox:1.35
              securityContext:
                runAsUser: 65532
              workingDir: $(workspaces.source.path)/by-user/$(params.CONTEXT)
              script: |
                #!/bin/sh
                printf '%s:%s' "$(pwd)" "$(stat -c %u .)" > "$(results.user-cwd.path)"
            - name: look
              image: docker.io/library/busybox:1.35
              script: |
                #!/bin/sh
                find / -xdev -name '*tlr:*' 2>/dev/null | wc -l | tr -d ' \\n' > "$(results.token-dirs.path)"
                find "$(workspaces.source.path)" -name '*tlr:*' | wc -l | tr -d ' \\n' >> "$(results.token-dirs.path)"
`;
  const { name, warnings } = await createRun(ns, yaml);
  t.regex(warnings, /\$\(params\.CONTEXT\) puts result "context" of task "produce" into workingDir by value; Linux takes paths of at most 4095 bytes \(PATH_MAX\)/);
  const done = await waitDone(cluster, ns, 'pipelinerun', name);
  t.is(succeeded(done)?.status, 'True', `${succeeded(done)?.message ?? ''}\n${await report(cluster, ns)}`);
  const consumer = await taskRunOf(cluster, ns, done, 'build');
  t.is(resultOf(consumer, 'cwd'), `/workspace/source/$(HOME)/${context}`);
  t.is(resultOf(consumer, 'user-cwd'), `/workspace/source/by-user/${context}:65532`, 'a non-root step: the directory is made as its user, on the workspace');
  t.is(resultOf(consumer, 'token-dirs'), '00', 'no directory named after the token, on the image or the workspace');
  const pod = await get<{ spec: { initContainers: Array<{ name: string; args?: string[] }>; containers: Array<{ name: string; workingDir?: string; args: string[] }> } }>(
    cluster, ns, 'pod', consumer.status?.podName ?? '');
  const inDir = pod.spec.containers.find((c) => c.name === 'step-in-dir');
  t.is(inDir?.workingDir, undefined);
  t.true(inDir?.args.includes('--workdir'));
  t.deepEqual(pod.spec.initContainers.find((c) => c.name === 'working-dir-initializer')?.args ?? [], []);
});
