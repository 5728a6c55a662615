/**
 * No task can create, alter, replace or delete anything in another task's result directory, whatever its uid (root
 * here, Tekton's default for these images), on the real cluster: the mounts the rewrite asks for (src/core/layout.ts)
 * are the kubelet's to enforce. Each attack is a task of the same run, written as an attacker would:
 * - a producer running after the victim, as root, searches its whole file system for the victim's file and tries to
 *   reach it through its own mount (`..`, the paths the victim used);
 * - a task that consumes the victim's result by path and produces its own tries every way of changing the file;
 * and the last task checks that what it receives is exactly what the victim sealed.
 */
import test from 'ava';
import { connectCluster, testNamespace, type E2eCluster } from '../support/node/e2e-cluster.js';
import { create, referenceOf, report, resultOf, succeeded, taskRunOf, waitDone } from '../support/node/runs.js';

let cluster: E2eCluster;

test.before(async () => {
  cluster = await connectCluster();
});

test.after.always(async () => {
  await cluster?.release();
});

const ROOT = `
          stepTemplate:
            securityContext:
              runAsUser: 0`;

const RUN = `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  generateName: isolation-
spec:
  pipelineSpec:
    resultWorkspace:
      name: results
    tasks:
      - name: victim
        taskSpec:
          results:
            - name: blob
              type: stringReference
          steps:
            - name: write
              image: docker.io/library/busybox:1.35
              script: |
                #!/bin/sh
                set -eu
                seq 1 20000 > "$(results.blob.path)"
      - name: attacker
        runAfter: [victim]
        taskSpec:${ROOT}
          results:
            - name: loot
              type: stringReference
            - name: found
            - name: mounts
          steps:
            - name: attack
              image: docker.io/library/busybox:1.35
              script: |
                #!/bin/sh
                set -u
                # Every file named blob anywhere this task can see (the victim's is /tlr/results/victim/blob on the volume).
                find / \\( -path /proc -o -path /sys \\) -prune -o -name blob -print 2>/dev/null > "$(results.found.path)"
                # What is mounted under /tlr (mount points, the 5th field): only this task's own directory.
                awk '{ print $5 }' /proc/self/mountinfo | grep '^/tlr' | sort > "$(results.mounts.path)"
                # Through its own mount, as the victim named it: lands in this container's own file system, if anywhere.
                echo forged > /tlr/results/attacker/../victim/blob 2>/dev/null || true
                mkdir -p /tlr/results/victim 2>/dev/null && echo forged > /tlr/results/victim/blob
                echo mine > "$(results.loot.path)"
      - name: meddler
        runAfter: [attacker]
        params:
          - name: blob
            value: $(tasks.victim.results.blob.path)
        taskSpec:${ROOT}
          params:
            - name: blob
          results:
            - name: attempts
            - name: readonly
            - name: own
              type: stringReference
          steps:
            - name: meddle
              image: docker.io/library/busybox:1.35
              script: |
                #!/bin/sh
                set -u
                f="$(params.blob)"
                attempt() { name=$1; shift; if "$@" 2>>/tmp/errors; then echo "$name=CHANGED"; else echo "$name=refused"; fi; }
                {
                  attempt append sh -c "echo forged >> '$f'"
                  attempt truncate sh -c ": > '$f'"
                  attempt chmod chmod 0666 "$f"
                  attempt rename mv "$f" "$f.moved"
                  attempt remove rm "$f"
                  attempt create sh -c "echo forged > '\${f%/*}/other'"
                  attempt mkdir mkdir /tlr/results/evil
                } > "$(results.attempts.path)"
                grep -c 'Read-only file system' /tmp/errors > "$(results.readonly.path)"
                seq 1 5000 > "$(results.own.path)"
      - name: check
        runAfter: [meddler]
        params:
          - name: own
            value: $(tasks.meddler.results.own)
        taskSpec:
          params:
            - name: own
          results:
            - name: blobsha
            - name: ownsize
          steps:
            - name: check
              image: docker.io/library/busybox:1.35
              script: |
                #!/bin/sh
                set -eu
                sha256sum "$(tasks.victim.results.blob.path)" | cut -d' ' -f1 | tr -d '\\n' > "$(results.blobsha.path)"
                wc -c <<'TLR_OWN_END' | tr -d ' \\n' > "$(results.ownsize.path)"
                $(params.own)
                TLR_OWN_END
`;

test('no task of a run can reach or change another task\'s result, as root: not a producer after it, not a consumer of it', async (t) => {
  const ns = await testNamespace(t, cluster, 'isolation');
  const name = await create(cluster, ns, RUN);
  const run = await waitDone(cluster, ns, 'pipelinerun', name);
  t.is(succeeded(run)?.status, 'True', `${succeeded(run)?.message ?? ''}\n${await report(cluster, ns)}`);

  const victim = referenceOf(await taskRunOf(cluster, ns, run, 'victim'), 'blob');
  t.truthy(victim, 'the victim sealed its result');

  const attacker = await taskRunOf(cluster, ns, run, 'attacker');
  t.is(resultOf(attacker, 'found')?.trim(), '', "no file of the victim's anywhere in the attacker's file system");
  t.is(resultOf(attacker, 'mounts')?.trim(), '/tlr/results/attacker', "the only mount under /tlr is the attacker's own directory");

  const meddler = await taskRunOf(cluster, ns, run, 'meddler');
  const attempts = resultOf(meddler, 'attempts')?.trim().split('\n') ?? [];
  t.deepEqual(attempts, ['append', 'truncate', 'chmod', 'rename', 'remove', 'create', 'mkdir'].map((a) => `${a}=refused`));
  t.is(resultOf(meddler, 'readonly')?.trim(), '7', 'each refused by the kernel: Read-only file system');

  const check = await taskRunOf(cluster, ns, run, 'check');
  t.is(resultOf(check, 'blobsha'), victim?.sha256, "the last task read exactly the victim's sealed bytes");
  // seq 1 5000 is 23,893 bytes, and the heredoc adds a line break.
  t.is(resultOf(check, 'ownsize'), '23894', "the meddler's own result, written through its own mount, arrived whole");
});

/**
 * A task that fails before its seal step leaves what its earlier steps wrote in /tekton/results, and Tekton lets a
 * `finally` task use it. The forger reads the victim's file (it consumes it by path), writes a reference to it as its
 * own result, and fails in its next step: the finally task must not receive the victim's bytes as the forger's result.
 * (A step that fails itself gets no results recorded by Tekton v1.15.0: the finally task is then skipped.)
 */
const ALIAS = `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  generateName: alias-
spec:
  pipelineSpec:
    resultWorkspace:
      name: results
    tasks:
      - name: victim
        taskSpec:
          results:
            - name: blob
              type: stringReference
          steps:
            - name: write
              image: docker.io/library/busybox:1.35
              script: |
                #!/bin/sh
                seq 1 20000 > "$(results.blob.path)"
      - name: forger
        runAfter: [victim]
        taskSpec:
          results:
            - name: loot
              type: stringReference
          steps:
            - name: forge
              image: docker.io/library/busybox:1.35
              script: |
                #!/bin/sh
                f="$(tasks.victim.results.blob.path)"
                sum=$(sha256sum "$f" | cut -d' ' -f1)
                size=$(wc -c < "$f" | tr -d ' ')
                # Spelt so the rewrite does not see the result's path (it would point it at the volume).
                out=/tekton/results; out="$out/loot"
                printf '[[tlr:v1:sha256=%s:size=%s:path=%s/victim/blob]]' "$sum" "$size" "$(context.pipelineRun.uid)" > "$out"
            # Tekton records what the forge step left (its entrypoint reads /tekton/results after each step); this step
            # fails, so the seal step never runs to replace it.
            - name: fail
              image: docker.io/library/busybox:1.35
              script: |
                #!/bin/sh
                exit 1
    finally:
      - name: report
        params:
          - name: loot
            value: $(tasks.forger.results.loot)
        taskSpec:
          params:
            - name: loot
          steps:
            - name: show
              image: docker.io/library/busybox:1.35
              script: |
                #!/bin/sh
                wc -c <<'TLR_LOOT_END'
                $(params.loot)
                TLR_LOOT_END
`;

test("a task that fails before sealing cannot hand a finally task another task's file as its own result", async (t) => {
  const ns = await testNamespace(t, cluster, 'isolation');
  const name = await create(cluster, ns, ALIAS);
  const run = await waitDone(cluster, ns, 'pipelinerun', name);
  t.is(succeeded(run)?.status, 'False', 'the run fails (the forger failed)');
  const forger = await taskRunOf(cluster, ns, run, 'forger');
  t.regex(resultOf(forger, 'loot') ?? '', /victim\/blob\]\]$/, `Tekton recorded the forged reference: ${await report(cluster, ns)}`);
  const finallyRun = await taskRunOf(cluster, ns, run, 'report');
  t.is(succeeded(finallyRun)?.reason, 'InitContainerFailed', await report(cluster, ns));
  const pod = await cluster.kubectl(['-n', ns, 'get', 'pod', finallyRun.status?.podName ?? '', '-o', 'jsonpath={.status.initContainerStatuses[?(@.name=="tlr-substitute")].state.terminated.message}']);
  t.regex(pod.stdout, /result "loot" of task "forger" is a reference to [0-9a-f-]+\/victim\/blob, expected its own file [0-9a-f-]+\/forger\/loot/, pod.stdout);
});
