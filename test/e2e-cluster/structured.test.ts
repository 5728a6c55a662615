/**
 * Object and array results stored by reference on the real cluster (stock Tekton v1.15.0, the kubelet, containerd).
 * The producer declares them as Tekton does (`type: object` with `properties`, `type: array`) and writes JSON far over
 * the 4 KiB a classic result may take; consumers keep Tekton's `$(tasks.t.results.r.key)` and `[i]` in a script, in
 * env, in args and through a param. Each consumer step hashes what it received: the hash must be that of the element
 * as Tekton's own JSON parser would give it. A value that is not what its declaration says fails the producer's seal
 * step, and a key the value lacks fails the consumer before its command runs, each saying so in the step's log.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tlr } from '../support/node/tlr-cli.js';
import { connectCluster, testNamespace, type E2eCluster } from '../support/node/e2e-cluster.js';
import { createWithWarnings, failedStepLog, pipelineRunYaml, referenceOf, report, resultOf, type RunObject, succeeded, taskRunOf, waitDone } from '../support/node/runs.js';

let cluster: E2eCluster;

test.before(async () => {
  cluster = await connectCluster();
});

test.after.always(async () => {
  await cluster?.release();
});

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const b64 = (text: Buffer | string): string => Buffer.from(text).toString('base64');

/** Text no shell or kubelet may touch, escaped in the JSON as any JSON writer would: quotes, $(…), CRLF, non-ASCII. */
const HOSTILE = `it's "q" \\ $(HOME) $(params.v) $$(X) \`id\` $(touch /tmp/pwned)\r\n--flag=1 [[tlr:v1:x]] é ☃ 😀\n`;
const NOTES = HOSTILE.repeat(300); // ~30 KiB: far over Tekton's 4 KiB per result
const IMAGE = { url: 'registry.local/app', digest: `sha256:${'ab'.repeat(32)}`, notes: NOTES };
const FILES = ['a.txt', HOSTILE, 'x'.repeat(20_000)];
// Written with escapes where JSON allows them (\u00e9, \/), as producers' JSON writers do.
const IMAGE_JSON = JSON.stringify(IMAGE, null, 1).replace(/é/g, '\\u00e9').replace(/\//g, '\\/');
const FILES_JSON = JSON.stringify(FILES);

const run = pipelineRunYaml;

function producer(image: string, files: string): string {
  return `
      - name: produce
        taskSpec:
          results:
            - name: image
              type: object
              storage: reference
              properties:
                url: {type: string}
                digest: {type: string}
                notes: {type: string}
            - name: files
              type: array
              storage: reference
          steps:
            - name: write
              image: docker.io/library/busybox:1.35
              script: |
                #!/bin/sh
                set -eu
                printf '%s' '${b64(image)}' | base64 -d > "$(results.image.path)"
                printf '%s' '${b64(files)}' | base64 -d > "$(results.files.path)"`;
}

// Each step writes the sha256 of what it received into a result (`sum FILE` hashes stdin into it).
const SUM = `sum() { sha256sum | cut -c1-64 | tr -d '\\n' > "$1"; }`;
const CONSUME = `
      - name: consume
        params:
          - name: digest
            value: $(tasks.produce.results.image.digest)
        taskSpec:
          params:
            - name: digest
          results:
            - name: script-url
            - name: script-file
            - name: env-notes
            - name: args-file
            - name: param-digest
            - name: whole
          steps:
            - name: script
              image: docker.io/library/busybox:1.35
              script: |
                #!/bin/sh
                ${SUM}
                cat <<'EOF' | sum "$(results.script-url.path)"
                $(tasks.produce.results.image.url)
                EOF
                cat <<'EOF' | sum "$(results.script-file.path)"
                $(tasks.produce.results.files[1])
                EOF
                cat <<'EOF' | sum "$(results.whole.path)"
                $(tasks.produce.results.image)
                EOF
            - name: env
              image: docker.io/library/busybox:1.35
              env:
                - name: NOTES
                  value: $(tasks.produce.results.image.notes)
                - name: PARAM_DIGEST
                  value: $(params.digest)
              script: |
                #!/bin/sh
                ${SUM}
                printf '%s' "$NOTES" | sum "$(results.env-notes.path)"
                printf '%s' "$PARAM_DIGEST" | sum "$(results.param-digest.path)"
            - name: args
              image: docker.io/library/busybox:1.35
              command: [sh, -c, 'printf "%s" "$1" | sha256sum | cut -c1-64 | tr -d "\\n" > "$0"']
              args: ["$(results.args-file.path)", "$(tasks.produce.results.files[2])"]`;

const createRun = (ns: string, yaml: string): Promise<{ name: string; warnings: string }> => createWithWarnings(cluster, ns, yaml);

test('elements of object and array results reach scripts, env, args and params byte-exact, as Tekton would parse them', async (t) => {
  const ns = await testNamespace(t, cluster, 'structured');
  const { name } = await createRun(ns, run('structured', producer(IMAGE_JSON, FILES_JSON) + CONSUME));
  const done = await waitDone(cluster, ns, 'pipelinerun', name);
  t.is(succeeded(done)?.status, 'True', `${succeeded(done)?.message ?? ''}\n${await report(cluster, ns)}`);
  const produced = await taskRunOf(cluster, ns, done, 'produce');
  t.is(referenceOf(produced, 'image')?.sha256, sha256(IMAGE_JSON), 'the object is sealed as written');
  t.is(referenceOf(produced, 'files')?.size, Buffer.byteLength(FILES_JSON));
  const consumer = await taskRunOf(cluster, ns, done, 'consume');
  // A here-document's body ends with the newline after the value.
  t.is(resultOf(consumer, 'script-url'), sha256(`${IMAGE.url}\n`), 'script: .url');
  t.is(resultOf(consumer, 'script-file'), sha256(`${FILES[1] ?? ''}\n`), 'script: [1], escapes decoded');
  t.is(resultOf(consumer, 'whole'), sha256(`${IMAGE_JSON}\n`), 'script: the whole JSON text');
  t.is(resultOf(consumer, 'env-notes'), sha256(NOTES), 'env: .notes (30 KiB)');
  t.is(resultOf(consumer, 'param-digest'), sha256(IMAGE.digest), 'a param carrying .digest, in env');
  t.is(resultOf(consumer, 'args-file'), sha256(FILES[2] ?? ''), 'args: [2]');
});

test('a value that is not what its declaration says fails the producer’s seal step, naming the result and where', async (t) => {
  const ns = await testNamespace(t, cluster, 'structured-bad');
  const { name } = await createRun(ns, run('bad-shape', producer('{"url":"u","digest":"d"}', '["a", 2]') + `
      - name: consume
        taskSpec:
          steps:
            - name: s
              image: docker.io/library/busybox:1.35
              script: echo '$(tasks.produce.results.image.url)'`));
  const done = await waitDone(cluster, ns, 'pipelinerun', name);
  t.is(succeeded(done)?.status, 'False');
  const produced: RunObject = await taskRunOf(cluster, ns, done, 'produce');
  const { step, log } = await failedStepLog(cluster, ns, produced);
  t.is(step, 'tlr-seal', await report(cluster, ns));
  t.regex(log, /Result "image" \(.*\/image\), declared an object, lacks the declared property "notes"/);
  t.regex(log, /Result "files" \(.*\/files\), declared an array, expected a string .*found "2" in element \[1\]/);
});

test('a key the value lacks is warned about at admission and fails the consumer before its command runs', async (t) => {
  const ns = await testNamespace(t, cluster, 'structured-key');
  const { name, warnings } = await createRun(ns, run('missing-key', producer(IMAGE_JSON, FILES_JSON) + `
      - name: consume
        taskSpec:
          steps:
            - name: s
              image: docker.io/library/busybox:1.35
              env:
                - name: TAG
                  value: $(tasks.produce.results.image.tag)
              script: echo COMMAND-RAN`));
  t.regex(warnings, /names key "tag", which is not one of the declared properties of result "image" of task "produce" \(digest, notes, url\)/);
  const done = await waitDone(cluster, ns, 'pipelinerun', name);
  t.is(succeeded(done)?.status, 'False');
  const consumer = await taskRunOf(cluster, ns, done, 'consume');
  const { step, log } = await failedStepLog(cluster, ns, consumer);
  t.is(step, 's', await report(cluster, ns));
  t.regex(log, /result "image" of task "produce" \(.*\/image\) has no key "tag"; found keys "url", "digest", "notes"/);
  t.notRegex(log, /COMMAND-RAN/);
});

test('a pipeline result naming an element carries the reference out; tlr fetch gives exactly that element, tlr results lists it', async (t) => {
  const ns = await testNamespace(t, cluster, 'structured-out');
  const results = `
    results:
      - name: notes
        value: $(tasks.produce.results.image.notes)
      - name: file
        value: "$(tasks.produce.results.files[1])"
      - name: both
        type: object
        value: {url: "$(tasks.produce.results.image.url)", big: "$(tasks.produce.results.files[2])"}`;
  const yaml = run('structured-out', producer(IMAGE_JSON, FILES_JSON)).replace('    tasks:', `${results}\n    tasks:`);
  const { name } = await createRun(ns, yaml);
  const done = await waitDone(cluster, ns, 'pipelinerun', name);
  t.is(succeeded(done)?.status, 'True', `${succeeded(done)?.message ?? ''}\n${await report(cluster, ns)}`);
  const recorded = ((done.status as { results?: Array<{ name: string; value: unknown }> }).results ?? []);
  const produced = await taskRunOf(cluster, ns, done, 'produce');
  // The run records the whole value's reference (what Tekton holds) and, in its annotation, which element of it.
  t.is(recorded.find((r) => r.name === 'notes')?.value, resultOf(produced, 'image'), 'the pipeline result is the image result\'s reference');
  const elements = (done.metadata as { annotations?: Record<string, string> }).annotations?.['tlr.dev/pipeline-result-elements'];
  t.deepEqual(JSON.parse(elements ?? '{}'), { notes: '.notes', file: '[1]', 'both.url': '.url', 'both.big': '[2]' });
  const dir = await mkdtemp(join(tmpdir(), 'tlr-structured-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const fetched = await tlr(['fetch', name, 'notes', 'file', 'both.url', 'both.big', '-n', ns, '-o', dir], cluster.kubeConfigPath);
  t.is(fetched.code, 0, fetched.stderr);
  t.is(sha256(await readFile(join(dir, 'notes'))), sha256(NOTES), '.notes: 30 KiB, its escapes decoded');
  t.is(sha256(await readFile(join(dir, 'file'))), sha256(FILES[1] ?? ''), '[1]: the hostile text, byte-exact');
  t.is(await readFile(join(dir, 'both.url'), 'utf8'), IMAGE.url, 'an object pipeline result: each key by its name');
  t.is(sha256(await readFile(join(dir, 'both.big'))), sha256(FILES[2] ?? ''));
  t.deepEqual((await readdir(dir)).sort(), ['both.big', 'both.url', 'file', 'notes'], 'no whole value or partial file left beside the elements');
  const listed = await tlr(['results', name, '-n', ns, '-o', 'json'], cluster.kubeConfigPath);
  t.is(listed.code, 0, listed.stderr);
  const rows = (JSON.parse(listed.stdout) as { results: Array<{ name: string; storage: string; element?: string; size?: number }> }).results;
  t.like(rows.find((r) => r.name === 'notes'), { storage: 'reference', element: '.notes', size: Buffer.byteLength(IMAGE_JSON) });
  t.like(rows.find((r) => r.name === 'both.big'), { storage: 'reference', element: '[2]', size: Buffer.byteLength(FILES_JSON) });
});
