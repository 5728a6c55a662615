import test from 'ava';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { parseConfig, type Config } from '../../src/core/config.js';
import { TlrError } from '../../src/errors.js';
import type { AdmissionRequest, Operation } from '../../src/webhook/admission-review.js';
import { admitPod } from '../../src/webhook/pod-admission.js';
import type { Container, Pod } from '../../src/webhook/tekton-pod.js';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, tempDir } from '../init/temp-volume.js';
import { applyPatch, deepFreeze, patchOf } from './apply-patch.js';

const POD = parse(readFileSync('test/webhook/fixtures/tekton-consumer-pod.yaml', 'utf8')) as Pod;
const REFS =
  '[[tlr:v1:sha256=2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae:size=3:path=6f1f8e0e-2b7a-4f57-9a43-6f0d3c9a1b22/build/sbom]]';
const RUN_DIR = '6f1f8e0e-2b7a-4f57-9a43-6f0d3c9a1b22';

const settings = { config: (ns: string): Config => parseConfig({ initImage: 'registry.example/tlr-init:v9' }, ns) };
const brokenSettings = {
  config: (): Config => {
    throw new TlrError('E_CONFIG', 'config key "initImage": expected an image reference, found ""');
  },
};

function request(pod: unknown, operation: Operation = 'CREATE'): AdmissionRequest {
  return deepFreeze({
    uid: randomUUID(),
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    namespace: 'ci',
    operation,
    object: structuredClone(pod),
  });
}

/** A copy of the fixture pod with `edit` applied to it. */
function podWith(edit: (pod: Pod & { spec: NonNullable<Pod['spec']> }) => void): Pod {
  const pod = structuredClone(POD) as Pod & { spec: NonNullable<Pod['spec']> };
  edit(pod);
  return pod;
}

const steps = (pod: Pod): Container[] => pod.spec?.containers ?? [];

const EXPECTED_CONTAINER = {
  name: 'tlr-substitute',
  image: 'registry.example/tlr-init:v9',
  command: ['tlr-init'],
  args: ['substitute', '--root', '/tlr/results', '--scripts', '/tekton/scripts', '--max-substituted', String(1024 ** 3)],
  env: [
    { name: 'TLR_REFS', value: REFS },
    { name: 'TLR_RUN_DIR', value: RUN_DIR },
  ],
  volumeMounts: [
    { name: 'ws-4hbdk', mountPath: '/tlr/results', readOnly: true },
    { name: 'tekton-internal-scripts', mountPath: '/tekton/scripts' },
  ],
  resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { cpu: '1', memory: '256Mi' } },
  securityContext: {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    seccompProfile: { type: 'RuntimeDefault' },
  },
  terminationMessagePolicy: 'FallbackToLogsOnError',
};

test('a Tekton consumer pod gets the substitute init container after Tekton’s own', (t) => {
  const req = request(POD);
  const review = admitPod(req, settings);
  t.is(review.response.uid, req.uid);
  t.true(review.response.allowed);
  const ops = patchOf(review);
  t.deepEqual(ops, [{ op: 'add', path: '/spec/initContainers/-', value: EXPECTED_CONTAINER }]);
  const pod = applyPatch(req.object as Pod, ops);
  t.deepEqual(pod.spec?.initContainers?.map((c) => c.name), ['prepare', 'place-scripts', 'tlr-substitute']);
  t.deepEqual(pod, { ...POD, spec: { ...POD.spec, initContainers: [...(POD.spec?.initContainers ?? []), EXPECTED_CONTAINER] } });
});

test('tlr-init runs the init container as built: flags and env reach `tlr-init substitute`', async (t) => {
  const [add] = patchOf(admitPod(request(POD), settings));
  const container = (add as { value: Container }).value;
  t.deepEqual(container.command, ['tlr-init']);
  // The container's mounts, mapped onto temp directories.
  const base = await tempDir(t, 'tlr-webhook-');
  const mounts: Record<string, string> = { '/tlr/results': join(base, 'volume'), '/tekton/scripts': join(base, 'scripts') };
  await mkdir(join(base, 'volume', RUN_DIR, 'build'), { recursive: true });
  await mkdir(join(base, 'scripts'));
  await writeFile(join(base, 'volume', RUN_DIR, 'build', 'sbom'), 'foo');
  await writeFile(join(base, 'scripts', 'script-0-9l9zj'), `#!/bin/sh\ncat <<'EOF'\n${REFS}\nEOF\n`, { mode: 0o755 });
  const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? '']));
  const run = await runCli((container.args ?? []).map((a) => mounts[a] ?? a), env);
  t.is(run.code, 0, run.stderr);
  t.is(await readFile(join(base, 'scripts', 'script-0-9l9zj'), 'utf8'), "#!/bin/sh\ncat <<'EOF'\nfoo\nEOF\n");
});

test('the elements of structured results a task uses (TLR_SELECTORS) reach the init container with the references', (t) => {
  const selectors = 'build/sbom.name build/sbom[0]';
  const pod = podWith((p) => {
    for (const step of steps(p)) step.env = [...(step.env ?? []), { name: 'TLR_REF_LABELS', value: 'build/sbom' }, { name: 'TLR_SELECTORS', value: selectors }];
  });
  const [add] = patchOf(admitPod(request(pod), settings));
  const container = (add as { value: Container }).value;
  t.deepEqual(container.env?.map((e) => e.name), ['TLR_REFS', 'TLR_RUN_DIR', 'TLR_REF_LABELS', 'TLR_SELECTORS']);
  t.is(container.env?.find((e) => e.name === 'TLR_SELECTORS')?.value, selectors);
});

test('the webhook is idempotent: a pod that has the init container is allowed unchanged', (t) => {
  const first = request(POD);
  const patched = applyPatch(first.object, patchOf(admitPod(first, settings)));
  const again = admitPod(request(patched), settings);
  t.true(again.response.allowed);
  t.is(again.response.patch, undefined);
});

test('the init container runs as the user and group the steps run as', (t) => {
  const podLevel = podWith((pod) => (pod.spec.securityContext = { runAsUser: 1001, runAsGroup: 1002, fsGroup: 1002 }));
  const [add] = patchOf(admitPod(request(podLevel), settings));
  t.like((add as { value: Container }).value.securityContext, { runAsNonRoot: true, runAsUser: 1001, runAsGroup: 1002 });

  const stepLevel = podWith((pod) => {
    for (const step of steps(pod)) step.securityContext = { runAsUser: 0 };
  });
  const [root] = patchOf(admitPod(request(stepLevel), settings));
  t.like((root as { value: Container }).value.securityContext, { runAsNonRoot: false, runAsUser: 0 });
});

test('the result mount keeps its volume and subPath, read-only, at the configured mount path', (t) => {
  const pod = podWith((p) => {
    for (const step of steps(p)) {
      step.volumeMounts = step.volumeMounts?.map((m) => (m.name === 'ws-4hbdk' ? { ...m, mountPath: '/results/', subPath: 'runs', readOnly: false } : m));
    }
  });
  const custom = { config: (ns: string): Config => parseConfig({ mountPath: '/results' }, ns) };
  const [add] = patchOf(admitPod(request(pod), custom));
  const container = (add as { value: Container }).value;
  t.deepEqual(container.volumeMounts?.[0], { name: 'ws-4hbdk', mountPath: '/results/', subPath: 'runs', readOnly: true });
  t.deepEqual(container.args, ['substitute', '--root', '/results', '--scripts', '/tekton/scripts', '--max-substituted', String(1024 ** 3)]);
});

test('the per-pod substitution limit (config key maxSubstitutedSize, per namespace too) reaches the init container', (t) => {
  const custom = { config: (ns: string): Config => parseConfig({ maxSubstitutedSize: '256Mi', 'namespace.ci.maxSubstitutedSize': '64Mi' }, ns) };
  const [add] = patchOf(admitPod(request(POD), custom));
  const args = (add as { value: Container }).value.args ?? [];
  t.is(args[args.indexOf('--max-substituted') + 1], String(64 * 1024 ** 2));
});

test('a consumer without scripts (results used by path only) gets an empty scripts directory, so its references are still verified', (t) => {
  const pod = podWith((p) => {
    p.spec.initContainers = p.spec.initContainers?.filter((c) => c.name !== 'place-scripts');
    p.spec.volumes = p.spec.volumes?.filter((v) => v.name !== 'tekton-internal-scripts');
    for (const step of steps(p)) {
      step.volumeMounts = step.volumeMounts?.filter((m) => m.name !== 'tekton-internal-scripts');
      step.args = step.args?.map((a) => (a.startsWith('/tekton/scripts/') ? 'jq' : a));
    }
  });
  const req = request(pod);
  const ops = patchOf(admitPod(req, settings));
  const patched = applyPatch(req.object as Pod, ops);
  t.deepEqual(patched.spec?.volumes?.at(-1), { name: 'tlr-empty-scripts', emptyDir: {} });
  t.deepEqual(patched.spec?.initContainers?.at(-1)?.volumeMounts?.[1], { name: 'tlr-empty-scripts', mountPath: '/tekton/scripts' });
});

const DENIAL_START =
  'Pod ci/build-1-scan-pod (TaskRun ci/build-1-scan) is labelled tlr.dev/consumer, so it needs the tlr-substitute init ' +
  'container to verify and substitute reference results, but it cannot be added: expected ';
const DENIAL_END =
  ', found none. Without it the steps would run with reference tokens instead of values; the pod must come from a ' +
  'TaskRun rewritten by Tekton Large Results (tlr render shows the expected task)';

const refusals: Array<{ name: string; edit: (pod: Pod & { spec: NonNullable<Pod['spec']> }) => void; expected: string }> = [
  {
    name: 'no step carries TLR_RUN_DIR',
    edit: (pod) => {
      for (const step of steps(pod)) step.env = step.env?.filter((e) => e.name !== 'TLR_RUN_DIR');
    },
    expected: 'a step container (step-*) with env TLR_REFS and TLR_RUN_DIR (set by the rewrite\'s stepTemplate)',
  },
  {
    name: 'no result volume mount',
    edit: (pod) => {
      for (const step of steps(pod)) step.volumeMounts = step.volumeMounts?.filter((m) => m.name !== 'ws-4hbdk');
    },
    expected: 'a step container mounting the result workspace at /tlr/results (config mountPath)',
  },
  {
    name: 'the steps run scripts but the scripts volume is missing',
    edit: (pod) => {
      pod.spec.volumes = pod.spec.volumes?.filter((v) => v.name !== 'tekton-internal-scripts');
    },
    expected: 'volume "tekton-internal-scripts" (mounted at /tekton/scripts) in spec.volumes',
  },
  {
    name: 'no env and no mount',
    edit: (pod) => {
      for (const step of steps(pod)) {
        step.env = [];
        step.volumeMounts = step.volumeMounts?.filter((m) => m.name !== 'ws-4hbdk');
      }
    },
    expected:
      'a step container (step-*) with env TLR_REFS and TLR_RUN_DIR (set by the rewrite\'s stepTemplate); ' +
      'a step container mounting the result workspace at /tlr/results (config mountPath)',
  },
];

for (const { name, edit, expected } of refusals) {
  test(`a labelled pod is denied when ${name}`, (t) => {
    const req = request(podWith(edit));
    const review = admitPod(req, settings);
    t.is(review.response.uid, req.uid);
    t.false(review.response.allowed);
    t.is(review.response.patch, undefined);
    t.deepEqual(review.response.status, { code: 422, reason: 'Invalid', message: `${DENIAL_START}${expected}${DENIAL_END}` });
  });
}

test('an invalid configuration fails consumer pods with an internal error (500)', (t) => {
  const review = admitPod(request(POD), brokenSettings);
  t.false(review.response.allowed);
  t.deepEqual(review.response.status, {
    code: 500,
    reason: 'InternalError',
    message:
      'cannot add the tlr-substitute init container to Pod ci/build-1-scan-pod (TaskRun ci/build-1-scan): the Tekton Large ' +
      'Results configuration is invalid: config key "initImage": expected an image reference, found ""',
  });
});

test('pods without the consumer label, other operations and other kinds pass untouched', (t) => {
  const unlabelled = podWith((pod) => {
    delete pod.metadata?.labels?.['tlr.dev/consumer'];
  });
  for (const req of [
    request(unlabelled),
    request(POD, 'UPDATE'),
    request(POD, 'DELETE'),
    deepFreeze({ ...request(POD), kind: { group: 'tekton.dev', version: 'v1', kind: 'TaskRun' } }),
  ]) {
    t.deepEqual(admitPod(req, brokenSettings).response, { uid: req.uid, allowed: true });
  }
});

// Reference values in args, command and env: the steps that carry a declared token run the exec helper.

/** The fixture pod with its second step given `env`/`args` holding the declared reference, as Tekton writes them. */
function podWithValueStep(edit: (step: Container) => void = () => undefined): Pod {
  return podWith((pod) => {
    const step = pod.spec.containers?.[1] as Container;
    step.env = [...(step.env ?? []), { name: 'PARAM_SBOM', value: REFS }];
    edit(step);
  });
}

function admittedValueStep(): { pod: Pod; after: Pod } {
  const pod = podWithValueStep();
  const review = admitPod(request(pod), settings);
  if (!review.response.allowed) throw new Error(review.response.status?.message);
  return { pod, after: applyPatch(pod, patchOf(review)) };
}

test('a step whose env carries a reference runs the exec helper in its command’s place; the others are untouched', (t) => {
  const { pod, after } = admittedValueStep();
  const [show, count] = steps(after);
  t.deepEqual(show, steps(pod)[0], 'a step without a value is left as Tekton made it');
  const args = count?.args ?? [];
  const sep = args.indexOf('--');
  t.deepEqual(args.slice(sep - 2), ['-entrypoint', '/tekton/tlr-exec/tlr-exec', '--', '--root', '/tlr/results', '--', '/tekton/scripts/script-1-xk7wq']);
  t.deepEqual(args.slice(0, sep - 2), (steps(pod)[1]?.args ?? []).slice(0, sep - 2), "Tekton's flags kept");
  t.deepEqual(count?.command, ['/tekton/bin/entrypoint']);
  t.deepEqual(count?.volumeMounts?.at(-1), { name: 'tlr-exec', mountPath: '/tekton/tlr-exec', readOnly: true });
});

test('the init container installs the helper into an emptyDir the wrapped steps mount read-only', (t) => {
  const { after } = admittedValueStep();
  t.deepEqual(after.spec?.volumes?.at(-1), { name: 'tlr-exec', emptyDir: { sizeLimit: '16Mi' } });
  const init = after.spec?.initContainers?.at(-1);
  t.deepEqual(init?.args?.slice(-2), ['--install-exec', '/tekton/tlr-exec']);
  t.deepEqual(init?.volumeMounts?.at(-1), { name: 'tlr-exec', mountPath: '/tekton/tlr-exec' });
});

test('a reference in args (the step’s command and args follow Tekton’s --) is found too; TLR_REFS itself does not count', (t) => {
  const withArg = podWith((pod) => {
    const step = pod.spec.containers?.[1] as Container;
    step.args = [...(step.args ?? []), '--sbom', `x${REFS}y`];
  });
  const after = applyPatch(withArg, patchOf(admitPod(request(withArg), settings)));
  t.true(steps(after)[1]?.args?.includes('/tekton/tlr-exec/tlr-exec'));
  t.deepEqual(steps(after)[1]?.args?.slice(-4), ['--', '/tekton/scripts/script-1-xk7wq', '--sbom', `x${REFS}y`]);
  // The fixture itself: both steps carry TLR_REFS (the stepTemplate's) and nothing else: nobody is wrapped.
  t.false(JSON.stringify(applyPatch(POD, patchOf(admitPod(request(POD), settings)))).includes('tlr-exec'));
});

test('a step without a command (Tekton put the image’s in TEKTON_PLATFORM_COMMANDS) gets -entrypoint and --platform-commands', (t) => {
  const pod = podWithValueStep((step) => {
    const args = step.args ?? [];
    const at = args.indexOf('-entrypoint');
    step.args = [...args.slice(0, at), '-breakpoint_on_failure', '--when_expressions', '[{"input":"a","operator":"in","values":["a"]}]', ...args.slice(at + 2), 'arg1'];
    step.env = [...(step.env ?? []), { name: 'TEKTON_PLATFORM_COMMANDS', value: '{"linux/amd64":["/bin/app"]}' }];
  });
  const after = applyPatch(pod, patchOf(admitPod(request(pod), settings)));
  const args = steps(after)[1]?.args ?? [];
  t.deepEqual(args.slice(args.indexOf('-breakpoint_on_failure'), args.indexOf('-entrypoint')), ['-breakpoint_on_failure', '--when_expressions', '[{"input":"a","operator":"in","values":["a"]}]']);
  t.deepEqual(args.slice(args.indexOf('-entrypoint')), ['-entrypoint', '/tekton/tlr-exec/tlr-exec', '--', '--root', '/tlr/results', '--platform-commands', '--', 'arg1']);
  t.is(args.filter((a) => a === '-entrypoint').length, 1);
});

test('a stdout path spelt like a flag does not mislead the parse of Tekton’s flags', (t) => {
  const pod = podWithValueStep((step) => {
    step.args = ['-stdout_path', '-entrypoint', '-post_file', '/tekton/run/1/out', '-entrypoint', '/bin/app', '--', 'a'];
  });
  const args = steps(applyPatch(pod, patchOf(admitPod(request(pod), settings))))[1]?.args;
  t.deepEqual(args, ['-stdout_path', '-entrypoint', '-post_file', '/tekton/run/1/out', '-entrypoint', '/tekton/tlr-exec/tlr-exec', '--', '--root', '/tlr/results', '--', '/bin/app', 'a']);
});

test('a workingDir carrying a reference goes to the helper ($ kept from the kubelet); the initializer no longer creates the token-named directory', (t) => {
  const dir = `/workspace/source/$(HOME)/${REFS}`;
  const pod = podWith((pod) => {
    const step = pod.spec.containers?.[1] as Container;
    step.workingDir = dir;
    (pod.spec.containers?.[0] as Container).workingDir = '/workspace/source/plain';
    pod.spec.initContainers = [
      ...(pod.spec.initContainers ?? []),
      { name: 'working-dir-initializer', image: 'ghcr.io/tektoncd/pipeline/workingdirinit:v1.15.0', command: ['/ko-app/workingdirinit'], args: ['/workspace/source/plain', dir], workingDir: '/workspace' },
    ];
  });
  const after = applyPatch(pod, patchOf(admitPod(request(pod), settings)));
  const [plain, moved] = steps(after);
  t.is(moved?.workingDir, undefined, 'the container starts where the image says');
  const args = moved?.args ?? [];
  t.deepEqual(args.slice(args.indexOf('-entrypoint')), [
    '-entrypoint', '/tekton/tlr-exec/tlr-exec', '--', '--root', '/tlr/results', '--workdir', `/workspace/source/$$(HOME)/${REFS}`, '--', '/tekton/scripts/script-1-xk7wq',
  ]);
  t.is(plain?.workingDir, '/workspace/source/plain', 'a step without a value keeps its workingDir');
  t.false(plain?.args?.includes('--workdir'));
  const initializer = after.spec?.initContainers?.find((c) => c.name === 'working-dir-initializer');
  t.deepEqual(initializer?.args, ['/workspace/source/plain'], 'only the directory naming the token is dropped');
  // Alone, the initializer keeps no args at all (and then creates nothing).
  const alone = podWith((pod) => {
    (pod.spec.containers?.[1] as Container).workingDir = REFS;
    pod.spec.initContainers = [...(pod.spec.initContainers ?? []), { name: 'working-dir-initializer', image: 'w', args: [REFS] }];
  });
  const afterAlone = applyPatch(alone, patchOf(admitPod(request(alone), settings)));
  t.deepEqual(afterAlone.spec?.initContainers?.find((c) => c.name === 'working-dir-initializer')?.args, []);
  t.true(steps(afterAlone)[1]?.args?.includes('--workdir'));
});

test('a stepTemplate workingDir by value (every step has it) moves for every step; a relative stdoutConfig.path with it is refused', (t) => {
  const shared = podWith((pod) => {
    for (const step of pod.spec.containers ?? []) step.workingDir = `/workspace/${REFS}`;
    pod.spec.initContainers = [...(pod.spec.initContainers ?? []), { name: 'working-dir-initializer', image: 'w', args: [`/workspace/${REFS}`] }];
  });
  const after = applyPatch(shared, patchOf(admitPod(request(shared), settings)));
  for (const step of steps(after)) {
    t.is(step.workingDir, undefined, step.name);
    const args = step.args ?? [];
    t.is(args[args.indexOf('--workdir') + 1], `/workspace/${REFS}`, step.name);
  }
  t.deepEqual(after.spec?.initContainers?.find((c) => c.name === 'working-dir-initializer')?.args, []);

  for (const [flag, field] of [['-stdout_path', 'stdoutConfig.path'], ['-stderr_path', 'stderrConfig.path']]) {
    const relative = podWith((pod) => {
      const step = pod.spec.containers?.[1] as Container;
      step.workingDir = `/workspace/${REFS}`;
      step.args = [flag as string, 'out/log.txt', ...(step.args ?? [])];
    });
    t.regex(
      refusal(relative),
      new RegExp(`container "step-count": its workingDir carries a reference result, which the exec helper enters only after Tekton's entrypoint has opened ${field?.replace('.', '\\.')} "out/log\\.txt"; expected an absolute`),
    );
    const absolute = podWith((pod) => {
      const step = pod.spec.containers?.[1] as Container;
      step.workingDir = `/workspace/${REFS}`;
      step.args = [flag as string, '/tekton/results/log', ...(step.args ?? [])];
    });
    t.true(admitPod(request(absolute), settings).response.allowed);
  }
});

test('values in args and env turned off (config valuesInArgsAndEnv: "false"): a pod carrying one is refused, naming the key', (t) => {
  const off = { config: (ns: string): Config => parseConfig({ initImage: 'registry.example/tlr-init:v9', valuesInArgsAndEnv: 'false' }, ns) };
  const review = admitPod(request(podWithValueStep()), off);
  t.false(review.response.allowed);
  t.regex(review.response.status?.message ?? '', /container "step-count" carries a reference result in its args, command, env or workingDir, but values there are turned off on this cluster \(config key valuesInArgsAndEnv: "false"\)/);
});

const refusal = (pod: Pod): string => admitPod(request(pod), settings).response.status?.message ?? '';

test('a step that is not Tekton’s shape (no entrypoint, or no --) is refused rather than run with tokens', (t) => {
  const own = podWithValueStep((step) => (step.command = ['/bin/app']));
  t.regex(refusal(own), /container "step-count": expected command \[\/tekton\/bin\/entrypoint\] \(Tekton's entrypoint\), found \["\/bin\/app"\]/);
  t.regex(refusal(podWithValueStep((step) => (step.args = ['-post_file', '/x', '-entrypoint', '/bin/app']))), /found no --/);
  // stdoutConfig.path "--": Tekton's entrypoint cuts its flags at the first --, and so does the webhook.
  t.regex(refusal(podWithValueStep((step) => (step.args = ['-stdout_path', '--', '-entrypoint', '/bin/app', '--', 'a']))), /flag -stdout_path has no value before Tekton's --/);
});

test('a step whose TLR_REFS differs from the others, or an empty TLR_REFS, is refused: its values would go unverified', (t) => {
  const differs = podWith((pod) => {
    const step = pod.spec.containers?.[1] as Container;
    step.env = (step.env ?? []).map((e) => (e.name === 'TLR_REFS' ? { name: 'TLR_REFS', value: '' } : e));
  });
  t.regex(refusal(differs), /expected .*the same TLR_REFS in every step container as in "step-show", found another in "step-count"/);
  const empty = podWith((pod) => {
    for (const step of pod.spec.containers ?? []) step.env = (step.env ?? []).map((e) => (e.name === 'TLR_REFS' ? { name: 'TLR_REFS', value: ' ' } : e));
  });
  t.regex(refusal(empty), /a non-empty TLR_REFS in step container "step-show"/);
});
