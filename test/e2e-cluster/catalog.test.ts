/**
 * Public catalog Tasks, as published but for their images, consume reference results on the real cluster exactly as
 * they consume the same values inline (test/catalog/on-cluster.ts says how: each step runs the recorder, which logs
 * what it was started with, and the by-reference run's records must equal the inline run's). The eight Tasks
 * (test/fixtures/catalog/, copied from tektoncd/catalog) cover where the catalog puts params: the hardening pattern's
 * env (git-clone, buildah), the stepTemplate's env and a workingDir (ansible-runner), args after an absolute command
 * (kn), a relative command with an array param beside the string (curl), ten params in one argument
 * (kubeconfig-creator), and a whole script, its #! line included (openshift-client-python: Tekton picks a script's
 * interpreter at pod creation, so the value's #!/usr/bin/python must survive the rewrite's preamble mark), and a step
 * that names no command (gogit: Tekton looks the image's entrypoint up in the registry, test/support/node/oci-registry.ts,
 * and tlr-exec runs it from TEKTON_PLATFORM_COMMANDS).
 * `node dist/test/catalog/run-on-cluster.js <catalog>` runs the whole catalog the same way.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { taskSpecIn } from '../catalog/catalog.js';
import { runOnce, runPlan } from '../catalog/cluster-runner.js';
import { parseRecord, planFor, type Plan } from '../catalog/on-cluster.js';
import { connectCluster, testNamespace, type E2eCluster } from '../support/node/e2e-cluster.js';

let cluster: E2eCluster;

test.before(async () => {
  cluster = await connectCluster();
});

test.after.always(async () => {
  await cluster?.release();
});

const options = { config: parseConfig({}), featureFlags: parseFeatureFlags({}) };

function plan(task: string): Plan {
  const spec = taskSpecIn(readFileSync(fileURLToPath(new URL(`../../../test/fixtures/catalog/${task}.yaml`, import.meta.url)), 'utf8'));
  if (spec === undefined) throw new Error(`test/fixtures/catalog/${task}.yaml holds no Task`);
  return planFor(task, spec, options);
}

/**
 * Each Task: the params that must go in by reference, every string param (one in an image, a mount path, a Secret's
 * name takes a copy: src/core/copies.ts).
 */
const CASES: ReadonlyArray<{ task: string; fed: readonly string[] }> = [
  // gitInitImage is the step's image, userHome a volumeMount's mountPath: both through copies.
  { task: 'git-clone', fed: ['url', 'revision', 'refspec', 'submodules', 'depth', 'sslVerify', 'crtFileName', 'subdirectory', 'sparseCheckoutDirectories', 'deleteExisting', 'httpProxy', 'httpsProxy', 'noProxy', 'verbose', 'gitInitImage', 'userHome'] },
  { task: 'buildah', fed: ['IMAGE', 'BUILDER_IMAGE', 'STORAGE_DRIVER', 'DOCKERFILE', 'CONTEXT', 'TLSVERIFY', 'FORMAT', 'BUILD_EXTRA_ARGS', 'PUSH_EXTRA_ARGS', 'SKIP_PUSH'] },
  { task: 'ansible-runner', fed: ['project-dir', 'user-home', 'image'] },
  { task: 'kn-apply', fed: ['KN_IMAGE', 'SERVICE', 'IMAGE'] },
  { task: 'curl', fed: ['url', 'curl-image'] },
  // Ten params in one argument (a JSON document): ten values of 5.4 KiB in one string, under Linux's 128 KiB.
  { task: 'kubeconfig-creator', fed: ['name', 'url', 'username', 'password', 'cadata', 'clientKeyData', 'clientCertificateData', 'namespace', 'token', 'insecure'] },
  // script: $(params.SCRIPT), fed its default, a Python script: it must run under /usr/bin/python, not Tekton's /bin/sh.
  { task: 'openshift-client-python', fed: ['SCRIPT'] },
  // A step naming no command: Tekton looks its image's entrypoint up in the test registry (gogit-image, a copy, names it).
  { task: 'gogit', fed: ['provider', 'repo', 'username', 'token', 'pull_request_number', 'gogit-image'] },
];

for (const { task, fed } of CASES) {
  test(`catalog ${task}: every step gets the reference values exactly as it gets them inline`, async (t) => {
    const p = plan(task);
    t.is(p.notRun, undefined);
    t.deepEqual([...p.fed.keys()].sort(), [...fed].sort(), `params fed by reference; given inline: ${JSON.stringify([...p.inline])}`);
    const namespace = await testNamespace(t, cluster, 'catalog');
    const outcome = await runPlan(cluster, namespace, p);
    t.is(outcome.verdict, 'same', [...outcome.details, ...outcome.steps.map((s) => `step ${s.step}: ${s.verdict} ${s.details.join('; ')}`)].join('\n'));
    t.true(outcome.steps.length > 0 && outcome.steps.every((s) => s.verdict === 'same'));
  });
}

// The comparison could pass with both runs wrong the same way: here the bytes themselves, where git-clone reads them.
test('catalog git-clone by reference: PARAM_URL holds the fed value byte for byte, over 4 KiB with quotes, ${HOME} and CRLF', async (t) => {
  const p = plan('git-clone');
  const namespace = await testNamespace(t, cluster, 'catalog');
  const ran = await runOnce(cluster, namespace, p, true);
  t.truthy(ran.taskRun, ran.refused ?? JSON.stringify(ran.run?.status?.conditions));
  const record = parseRecord(ran.logs.get('clone') ?? '');
  const url = p.fed.get('url') ?? '';
  t.true(url.length > 4096 && url.includes('\r\n') && url.includes('${HOME}') && url.includes('\''));
  t.is(record?.env.get('PARAM_URL')?.toString('utf8'), url);
  // The pod carried references, not the value: the TaskRun Tekton made holds no byte of it.
  t.false(JSON.stringify(ran.taskRun).includes(url.slice(0, 200)));
});

// gogit's one step has args and no command: what runs is the image's entrypoint, which Tekton looked up in the registry.
interface PodStep { name: string; image: string; args?: string[]; env?: Array<{ name: string; value?: string }> }

async function podStep(namespace: string, pod: string, container: string): Promise<PodStep | undefined> {
  const object = JSON.parse((await cluster.kubectl(['-n', namespace, 'get', 'pod', pod, '-o', 'json'])).stdout) as { spec: { containers: PodStep[] } };
  return object.spec.containers.find((c) => c.name === container);
}

function recordedArgv(log: string | undefined): string[] {
  return (parseRecord(log ?? '')?.argv ?? []).map((a) => a.toString('utf8'));
}

test('catalog gogit by reference: the image entrypoint Tekton looked up runs through tlr-exec, with the token byte for byte', async (t) => {
  const p = plan('gogit');
  const namespace = await testNamespace(t, cluster, 'catalog');
  const ran = await runOnce(cluster, namespace, p, true);
  t.truthy(ran.taskRun, ran.refused ?? JSON.stringify(ran.run?.status?.conditions));
  const step = await podStep(namespace, ran.names.names.at(-1) ?? '', 'step-gogit');
  if (step === undefined) return t.fail('no step-gogit container in the pod');
  t.regex(step.image, /^10\.250\.0\.2:5000\/tlr-test\/recorder@sha256:[0-9a-f]{64}$/, 'Tekton resolved the image by digest');
  const platforms = (step.env ?? []).find((e) => e.name === 'TEKTON_PLATFORM_COMMANDS');
  t.deepEqual(JSON.parse(platforms?.value ?? '{}'), { 'linux/amd64': ['/tlr-recorder'] });
  t.true((step.args ?? []).includes('--platform-commands'), JSON.stringify(step.args));
  const argv = recordedArgv(ran.logs.get('gogit'));
  t.is(argv[0], '/tlr-recorder');
  const token = p.fed.get('token') ?? '';
  t.true(token.length > 4096);
  t.is(argv[argv.indexOf('--token') + 1], token);
});
