/**
 * `tlr fetch` and `tlr results` on the real cluster, as a user runs them: from this machine (the API server through
 * loopback), as a ServiceAccount bound to the ClusterRole config/ ships for them (`tlr-fetch`, `tlr-results`), against
 * a run Tekton ran. The reader pod starts
 * on the node holding the volume, the files arrive verified (sha256 equal to the producer's sealed reference), the
 * pod is gone afterwards (1 GiB); a file changed after sealing is refused and nothing is written under its name.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256File } from '../support/file-digest.js';
import { connectCluster, testNamespace, type E2eCluster } from '../support/node/e2e-cluster.js';
import { create, referenceOf, report, succeeded, taskRunOf, waitDone, type RunObject } from '../support/node/runs.js';
import { setNamespaceConfig } from '../support/node/tlr-config.js';
import { claimOf, runOnClaim } from '../support/node/volume-pod.js';
import { tlr } from '../support/node/tlr-cli.js';

let cluster: E2eCluster;

test.before(async () => {
  cluster = await connectCluster();
});

test.after.always(async () => {
  await cluster?.release();
});

const MIB = 1024 * 1024;

function pipelineRun(sizeMiB: number): string {
  return `apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  generateName: fetch-
spec:
  pipelineSpec:
    resultWorkspace:
      name: results
    results:
      - name: artifact
        value: $(tasks.build.results.artifact)
    tasks:
      - name: build
        taskSpec:
          results:
            - name: artifact
              type: stringReference
            - name: notes
              type: stringReference
          steps:
            - name: write
              image: docker.io/library/busybox:1.35
              script: |
                #!/bin/sh
                set -eu
                head -c ${sizeMiB * MIB} /dev/urandom > "$(results.artifact.path)"
                seq 1 1000 > "$(results.notes.path)"
`;
}

/**
 * A fresh ServiceAccount holding what `config/202-user-clusterroles.yaml` ships for users (`tlr-fetch`, or
 * `tlr-results`), bound in the namespace; or, with `execVerbs`, the tlr-fetch rules with other pods/exec verbs (a
 * hand-written Role). A kubeconfig with its token.
 */
async function fetcherKubeconfig(ns: string, dir: string, access: { clusterRole: string } | { execVerbs: readonly string[] } = { clusterRole: 'tlr-fetch' }): Promise<string> {
  await cluster.kubectl(['-n', ns, 'create', 'serviceaccount', 'fetcher']);
  if ('clusterRole' in access) {
    await cluster.kubectl(['-n', ns, 'create', 'rolebinding', 'tlr-fetch', `--clusterrole=${access.clusterRole}`, `--serviceaccount=${ns}:fetcher`]);
  } else {
    const role = {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'tlr-fetch', namespace: ns },
      rules: [
        { apiGroups: ['tekton.dev'], resources: ['pipelineruns'], verbs: ['get'] },
        { apiGroups: ['tekton.dev'], resources: ['taskruns'], verbs: ['list'] },
        { apiGroups: [''], resources: ['pods'], verbs: ['create', 'get', 'delete'] },
        { apiGroups: [''], resources: ['pods/exec'], verbs: access.execVerbs },
      ],
    };
    await cluster.kubectl(['-n', ns, 'apply', '-f', '-'], { input: JSON.stringify(role) });
    await cluster.kubectl(['-n', ns, 'create', 'rolebinding', 'tlr-fetch', '--role=tlr-fetch', `--serviceaccount=${ns}:fetcher`]);
  }
  const token = (await cluster.kubectl(['-n', ns, 'create', 'token', 'fetcher'])).stdout.trim();
  const current = cluster.kubeConfig.getCurrentCluster();
  if (!current) throw new Error('the admin kubeconfig names no cluster');
  const file = join(dir, 'fetcher.kubeconfig');
  await writeFile(file, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'fetcher',
    clusters: [{ name: 'c', cluster: { server: current.server, ...(current.caData ? { 'certificate-authority-data': current.caData } : { 'certificate-authority': current.caFile }) } }],
    users: [{ name: 'fetcher', user: { token } }],
    contexts: [{ name: 'fetcher', context: { cluster: 'c', user: 'fetcher', namespace: ns } }],
  }));
  return file;
}

/**
 * A namespace of the test's own, a scratch directory removed afterwards, and a run of pipelineRun(sizeMiB) that
 * Succeeded (the test fails with the cluster's report otherwise). `before` runs in the namespace before the run.
 */
async function finishedRun(t: ExecutionContext, sizeMiB: number, before?: (ns: string) => Promise<void>): Promise<{ ns: string; dir: string; name: string; run: RunObject }> {
  const ns = await testNamespace(t, cluster, 'fetch');
  const dir = await mkdtemp(join(tmpdir(), 'tlr-fetch-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await before?.(ns);
  const name = await create(cluster, ns, pipelineRun(sizeMiB));
  const run = await waitDone(cluster, ns, 'pipelinerun', name);
  t.is(succeeded(run)?.status, 'True', `${succeeded(run)?.message ?? ''}\n${await report(cluster, ns)}`);
  return { ns, dir, name, run };
}

test('tlr fetch -o -: one result as its bytes, several as a tar stream, each as the producer sealed it', async (t) => {
  const { ns, dir, name, run } = await finishedRun(t, 1);
  const build = await taskRunOf(cluster, ns, run, 'build');
  const kubeconfig = await fetcherKubeconfig(ns, dir);

  const one = join(dir, 'artifact.bin');
  const single = await tlr(['fetch', name, 'build.artifact', '-n', ns, '-o', '-'], kubeconfig, one);
  t.is(single.code, 0, single.stderr);
  t.is(await sha256File(one), referenceOf(build, 'artifact')?.sha256 ?? 'no reference', 'stdout carries exactly the sealed bytes');
  t.regex(single.stderr, /build\.artifact\t1048576\tsha256:/, 'the summary goes to stderr');

  const bundle = join(dir, 'bundle.tar');
  const several = await tlr(['fetch', name, 'build.artifact', 'build.notes', '-n', ns, '-o', '-'], kubeconfig, bundle);
  t.is(several.code, 0, several.stderr);
  const unpacked = join(dir, 'unpacked');
  await mkdir(unpacked);
  const untar = spawnSync('tar', ['-xf', bundle, '-C', unpacked], { encoding: 'utf8' });
  t.is(untar.status, 0, untar.stderr);
  t.deepEqual((await readdir(unpacked)).sort(), ['build.artifact', 'build.notes']);
  for (const result of ['artifact', 'notes']) {
    t.is(await sha256File(join(unpacked, `build.${result}`)), referenceOf(build, result)?.sha256 ?? 'no reference', `build.${result} in the tar`);
  }
});

test('tlr fetch of 1 GiB as a ServiceAccount with the documented permissions: every result arrives verified, the reader pod is gone', async (t) => {
  // 1 GiB on a 2 GiB volume (the default 1Gi would not hold it on a driver that enforces capacity).
  const { ns, dir, name, run } = await finishedRun(t, 1024, (namespace) => setNamespaceConfig(t, cluster, namespace, { size: '2Gi' }));
  const build = await taskRunOf(cluster, ns, run, 'build');

  const kubeconfig = await fetcherKubeconfig(ns, dir);
  const out = join(dir, 'out');
  const fetched = await tlr(['fetch', name, '-n', ns, '-o', out], kubeconfig);
  t.is(fetched.code, 0, fetched.stderr);
  t.deepEqual((await readdir(out)).sort(), ['artifact', 'build.artifact', 'build.notes'], fetched.stdout);
  for (const [file, result] of [['build.artifact', 'artifact'], ['artifact', 'artifact'], ['build.notes', 'notes']] as const) {
    const reference = referenceOf(build, result);
    t.is((await stat(join(out, file))).size, reference?.size ?? -1, file);
    t.is(await sha256File(join(out, file)), reference?.sha256 ?? 'no reference', file);
  }
  t.is((await stat(join(out, 'build.artifact'))).size, 1024 * MIB);
  const pods = await cluster.kubectl(['-n', ns, 'get', 'pods', '-l', 'app.kubernetes.io/managed-by=tekton-large-results', '-o', 'name']);
  t.is(pods.stdout.trim(), '', 'the reader pod was deleted');

  // The same 1 GiB on a terminal (a pseudo-terminal by script(1)): a progress bar; Ctrl-C typed in the middle.
  const typed = join(dir, 'typed');
  const session = await onTerminal(['fetch', name, 'build.artifact', '-n', ns, '-o', typed], kubeconfig, join(typed, 'build.artifact.partial'));
  t.is(session.code, 130, session.output);
  t.regex(session.output, /build\.artifact \[[^\]]*\] +\d+% \| [\d.]+ (?:B|[KMG]iB) \/ 1\.0 GiB \| [\d.]+ [KMG]iB\/s \| ETA \d+[smh]/, 'the bar: bytes, rate, ETA');
  t.regex(session.output, /SIGINT: stopping; removing the reader pod and the partial file/);
  t.regex(session.output, new RegExp(`PipelineRun ${ns}/${name}: interrupted; reader pod ${ns}/tlr-fetch-[0-9a-f]+ deleted; no partial file kept`));
  t.deepEqual(await readdir(typed), [], 'no partial file, no file');
  const after = await cluster.kubectl(['-n', ns, 'get', 'pods', '-l', 'app.kubernetes.io/managed-by=tekton-large-results', '-o', 'name']);
  t.is(after.stdout.trim(), '', 'the reader pod was deleted');
});

/**
 * `tlr` on a pseudo-terminal (script(1)), as a person at a terminal runs it; once `partial` has bytes in it, Ctrl-C
 * is typed (the terminal turns it into SIGINT for the foreground process). Everything the terminal showed.
 */
async function onTerminal(args: readonly string[], kubeconfig: string, partial: string): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, 'dist/src/cli/main.js', ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], { env: { ...process.env, KUBECONFIG: kubeconfig, TERM: 'xterm', COLUMNS: '160' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && child.exitCode === null) {
    const size = await stat(partial).then((s) => s.size, () => 0);
    if (size > 16 * MIB) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 500)); // a redraw or two of the bar
  child.stdin.write('\x03');
  const code = await closed;
  return { code, output };
}

test('tlr fetch of a run whose result PVC was deleted fails at once with the reason; without get on PVCs, from the reader pod\'s scheduling', async (t) => {
  const { ns, dir, name, run } = await finishedRun(t, 1);
  const claim = claimOf(await taskRunOf(cluster, ns, run, 'build'));
  // Deleted as a retention policy or a person deletes it. It may stay Terminating a while (pvc-protection): either
  // way no pod can mount it again.
  await cluster.kubectl(['-n', ns, 'delete', 'pvc', claim, '--wait=false']);
  const gone = `(?:not found: it was deleted|being deleted since \\S+: no new pod may mount it)`;

  const kubeconfig = await fetcherKubeconfig(ns, dir);
  const out = join(dir, 'out');
  const fetched = await tlr(['fetch', name, '-n', ns, '-o', out, '--timeout', '600'], kubeconfig);
  t.is(fetched.code, 1, fetched.stdout + fetched.stderr);
  t.regex(fetched.stderr, new RegExp(`PersistentVolumeClaim ${ns}/${claim} \\(the result volume of PipelineRun ${ns}/${name}\\): ${gone}`));
  t.notRegex(fetched.stderr, /started reader pod/, 'no reader pod was started for it');
  t.log(fetched.stderr.trim());

  // A hand-written Role without get on persistentvolumeclaims: the reader pod is made, and its scheduling says why.
  await cluster.kubectl(['-n', ns, 'delete', 'rolebinding', 'tlr-fetch']);
  await cluster.kubectl(['-n', ns, 'delete', 'serviceaccount', 'fetcher']);
  const older = await fetcherKubeconfig(ns, dir, { execVerbs: ['get', 'create'] });
  const fallback = await tlr(['fetch', name, '-n', ns, '-o', out, '--timeout', '600'], older);
  t.is(fallback.code, 1, fallback.stdout + fallback.stderr);
  t.regex(fallback.stderr, new RegExp(`reader pod ${ns}/tlr-fetch-[0-9a-f]+: cannot be scheduled: .*persistentvolumeclaim "${claim}" (?:not found|is being deleted).*; the result volume was deleted`));
  t.deepEqual(await readdir(out).catch(() => []), []);
  const pods = await cluster.kubectl(['-n', ns, 'get', 'pods', '-l', 'app.kubernetes.io/managed-by=tekton-large-results', '-o', 'name']);
  t.is(pods.stdout.trim(), '', 'the reader pod was deleted');
});

test('tlr results lists the run\'s results with the sizes and digests sealed, as a ServiceAccount that may only read runs', async (t) => {
  const { ns, dir, name, run } = await finishedRun(t, 1);
  const build = await taskRunOf(cluster, ns, run, 'build');
  // No pod, no exec: the shipped tlr-results ClusterRole (get on pipelineruns, list on taskruns) is enough.
  const kubeconfig = await fetcherKubeconfig(ns, dir, { clusterRole: 'tlr-results' });
  const listed = await tlr(['results', name], kubeconfig);
  t.is(listed.code, 0, listed.stderr);
  const artifact = referenceOf(build, 'artifact');
  const notes = referenceOf(build, 'notes');
  t.regex(listed.stdout, /^NAME +STORAGE +SIZE +SHA256\n/);
  t.regex(listed.stdout, new RegExp(`\\nbuild\\.artifact +reference +1\\.0 MiB +${artifact?.sha256 ?? 'none'}\\n`));
  t.regex(listed.stdout, new RegExp(`\\nbuild\\.notes +reference +3\\.8 KiB +${notes?.sha256 ?? 'none'}\\n`));
  t.regex(listed.stdout, new RegExp(`\\nartifact +reference +1\\.0 MiB +${artifact?.sha256 ?? 'none'}\\n`), 'the pipeline result');
  t.regex(listed.stderr, new RegExp(`PipelineRun ${ns}/${name}: 3 result\\(s\\); result volume: PersistentVolumeClaim ${claimOf(build)}`));
  const json = await tlr(['results', name, '-o', 'json'], kubeconfig);
  t.is(json.code, 0, json.stderr);
  t.like(JSON.parse(json.stdout), {
    pipelineRun: `${ns}/${name}`,
    volume: `PersistentVolumeClaim ${claimOf(build)}`,
    results: [{ name: 'build.artifact', storage: 'reference', size: MIB, sha256: artifact?.sha256 }],
  });
  const missing = await tlr(['results', 'no-such-run'], kubeconfig);
  t.is(missing.code, 1);
  t.regex(missing.stderr, new RegExp(`PipelineRun ${ns}/no-such-run: not found`));
});

test('tlr fetch of a result changed after sealing: refused with both digests, nothing written under its name', async (t) => {
  const { ns, dir, name, run } = await finishedRun(t, 1);
  // No task of the run can change it any more (test/e2e-cluster/isolation.test.ts); a pod mounting the claim can.
  const build = await taskRunOf(cluster, ns, run, 'build');
  await runOnClaim(cluster, ns, claimOf(build), `echo x >> /volume/${run.metadata.uid}/build/artifact`);

  const out = join(dir, 'out');
  const fetched = await tlr(['fetch', name, 'build.artifact', '-n', ns, '-o', out], cluster.kubeConfigPath);
  t.is(fetched.code, 1, fetched.stdout + fetched.stderr);
  t.regex(fetched.stderr, /build\.artifact/);
  t.regex(fetched.stderr, /sha256|size/i);
  t.deepEqual(await readdir(out).catch(() => []), [], 'no file, not even a partial one');
});

test('tlr fetch without get on pods/exec (the pre-1.35 habit): a clear refusal naming the permission, no stack trace, no file', async (t) => {
  const { ns, dir, name } = await finishedRun(t, 1);
  const kubeconfig = await fetcherKubeconfig(ns, dir, { execVerbs: ['create'] });
  const out = join(dir, 'out');
  const fetched = await tlr(['fetch', name, 'build.notes', '-n', ns, '-o', out], kubeconfig);
  t.is(fetched.code, 1, fetched.stdout + fetched.stderr);
  t.regex(fetched.stderr, /result build\.notes: exec into reader pod .* failed: .*403.*get and create on pods\/exec/, fetched.stderr);
  t.notRegex(fetched.stderr, /\n\s+at /, 'no stack trace');
  t.deepEqual(await readdir(out).catch(() => []), []);
  const pods = await cluster.kubectl(['-n', ns, 'get', 'pods', '-l', 'app.kubernetes.io/managed-by=tekton-large-results', '-o', 'name']);
  t.is(pods.stdout.trim(), '', 'the reader pod was deleted');
});
