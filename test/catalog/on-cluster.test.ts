/**
 * The catalog-on-the-cluster comparison itself (./on-cluster.ts), offline: what the recorder logs parses back to the
 * bytes; the comparison flags any byte of difference in argv, working directory, a declared env var or a script, and
 * nothing else (run names, uids and Tekton's random script suffixes aside); the plan feeds what the rewrite accepts
 * and says why the rest is given inline.
 */
import test from 'ava';
import type { EmbeddedTask } from '../../src/api/tekton.js';
import { DEFAULT_OPTIONS as options } from '../core/run-fixture.js';
import { normalizedImage, substituted } from './image-names.js';
import { asV1, differences, imagesOf, parseRecord, planFor, prerequisites, runOf, valueFor, type StepRecord } from './on-cluster.js';

/** What the recorder prints (test/cluster/node/cmd/tlr-recorder): base64 JSON of base64 fields, in 3000-char lines. */
function logOf(r: { argv: string[]; cwd: string; env: Record<string, string>; scripts?: Record<string, string> }): string {
  const b = (s: string): string => Buffer.from(s, 'latin1').toString('base64');
  const json = JSON.stringify({
    argv: r.argv.map(b), cwd: b(r.cwd), env: Object.fromEntries(Object.entries(r.env).map(([k, v]) => [k, b(v)])),
    scripts: Object.fromEntries(Object.entries(r.scripts ?? {}).map(([k, v]) => [b(k), b(v)])),
  });
  const encoded = Buffer.from(json).toString('base64');
  const lines = encoded.match(/.{1,3000}/g) ?? [];
  return ['some output before', 'tlr-recorder-begin', ...lines, 'tlr-recorder-end', ''].join('\n');
}

const VALUE = `it's "q"\r\n\${HOME} \xff\xfe${'z'.repeat(9000)}`;
const A = { names: ['pr-inline-abcde', 'pr-inline-abcde-use', 'pr-inline-abcde-use-pod'], uids: ['11111111-2222-3333-4444-555555555555'] };
const B = { names: ['pr-ref-fghij', 'pr-ref-fghij-use', 'pr-ref-fghij-use-pod'], uids: ['66666666-7777-8888-9999-000000000000'] };

function record(value: string, runName: string, suffix: string): StepRecord {
  const parsed = parseRecord(logOf({
    argv: ['/bin/sh', `/tekton/scripts/script-0-${suffix}`, value],
    cwd: '/workspace/source',
    env: { PARAM_URL: value, HOSTNAME: runName, RUN: `${runName}-use` },
    scripts: { [`/tekton/scripts/script-0-${suffix}`]: `#!/bin/sh\necho ${value}\n` },
  }));
  if (parsed === undefined) throw new Error('no record parsed');
  return parsed;
}

test('a record parses back to the exact bytes, over several log lines, non-UTF-8 included', (t) => {
  const r = record(VALUE, 'x', 'abcde');
  t.is(r.argv[2]?.toString('latin1'), VALUE);
  t.is(r.env.get('PARAM_URL')?.toString('latin1'), VALUE);
  t.is(r.cwd.toString(), '/workspace/source');
  t.is(parseRecord('no record here\n'), undefined);
});

test('records equal but for run names, uids and script suffixes compare equal', (t) => {
  t.deepEqual(differences(record(VALUE, A.names[0] ?? '', 'abcde'), record(VALUE, B.names[0] ?? '', 'zq9x1'), ['PARAM_URL', 'RUN'], A, B), []);
});

test('one byte of difference in a value is reported where it is: argv, declared env and script', (t) => {
  const other = `${VALUE.slice(0, 5000)}Z${VALUE.slice(5001)}`;
  const diff = differences(record(VALUE, 'a', 'abcde'), record(other, 'a', 'abcde'), ['PARAM_URL'], A, A);
  t.deepEqual(diff.map((d) => d.split(':')[0]), ['argv[2]', 'env PARAM_URL', 'script /tekton/scripts/script-0']);
  t.regex(diff[0] ?? '', /first difference at byte 5000/);
});

test('an env var the step does not declare is not compared; a declared one missing on one side is', (t) => {
  const a = record(VALUE, 'a', 'abcde');
  const b = record(VALUE, 'a', 'abcde');
  t.deepEqual(differences(a, b, ['HOSTNAME_NOT_DECLARED'], A, A), []);
  const noEnv: StepRecord = { ...b, env: new Map() };
  t.deepEqual(differences(a, noEnv, ['PARAM_URL'], A, A), ['env PARAM_URL: missing by reference']);
});

const TASK: EmbeddedTask = {
  params: [{ name: 'url' }, { name: 'image' }, { name: 'subdir' }, { name: 'shell', default: '/bin/bash' }, { name: 'list', type: 'array' }],
  workspaces: [{ name: 'source' }],
  steps: [
    { name: 'clone', image: '$(params.image)', workingDir: '$(workspaces.source.path)/$(params.subdir)', env: [{ name: 'PARAM_URL', value: '$(params.url)' }], script: '#!$(params.shell)\necho "$PARAM_URL"\n' },
    { name: 'list', image: 'x', command: ['echo'], args: ['$(params.list[*])'] },
  ],
};

test('the plan feeds every string param the rewrite accepts, gives the rest inline with the reason, and sizes values by use', (t) => {
  const plan = planFor('t', TASK, options);
  t.is(plan.notRun, undefined);
  t.deepEqual([...plan.fed.keys()], ['url', 'image', 'subdir', 'shell']);
  t.regex(plan.inline.get('list')?.message ?? '', /array/);
  t.is(plan.inline.get('list')?.site, 'not a string param');
  t.true((plan.fed.get('url')?.length ?? 0) > 4096, 'over Tekton\'s 4 KiB per result');
  t.is(plan.fed.get('image'), '10.250.0.2:5000/tlr-test/recorder:1', 'an image param names the recorder (it takes a copy)');
  t.true((plan.fed.get('subdir')?.length ?? 0) < 255 && !(plan.fed.get('subdir') ?? '').includes('/'), 'a workingDir value is one short path component');
  t.is(plan.fed.get('shell'), '/bin/bash', 'a param naming the program keeps its default');
  t.is(valueFor(TASK, { name: 'url' }), plan.fed.get('url') ?? '-');
});

test('a param that is part of an image name is fed a name piece; the run gives the recorder the image name built around it', (t) => {
  const spec: EmbeddedTask = {
    params: [{ name: 'registry', default: 'quay.io' }, { name: 'version' }, { name: 'flavour', default: 'alpine' }],
    steps: [
      { name: 's', image: '$(params.registry)/tools/go:$(params.version)-$(params.flavour)', script: 'go version' },
      { name: 'u', image: 'golang:$(params.version)', script: 'go env' },
      { name: 'v', image: 'busybox', script: 'true' },
    ],
  };
  const plan = planFor('t', spec, options);
  t.deepEqual([...plan.fed.keys()], ['registry', 'version', 'flavour']);
  t.is(plan.fed.get('version'), 'tlr-v1');
  t.deepEqual(imagesOf(plan), ['docker.io/tlr-v0/tools/go:tlr-v1-tlr-v2', 'docker.io/library/golang:tlr-v1']);
  const steps = (runOf(plan, true).spec.pipelineSpec?.tasks?.at(-1)?.taskSpec?.steps ?? []) as Array<{ image?: string; imagePullPolicy?: string }>;
  t.deepEqual(steps.map((s) => [s.image, s.imagePullPolicy]), [
    ['$(params.registry)/tools/go:$(params.version)-$(params.flavour)', 'IfNotPresent'],
    ['golang:$(params.version)', 'IfNotPresent'],
    ['localhost/tlr-test/recorder:1', undefined],
  ]);
});

test('an image part is not fed where Tekton would look the image up (a step naming no command) or the name would not be one', (t) => {
  const plan = planFor('t', {
    params: [{ name: 'version' }, { name: 'odd' }],
    steps: [{ name: 's', image: 'golang:$(params.version)' }, { name: 'u', image: 'x@sha256:$(params.odd)', script: 'true' }],
  }, options);
  t.deepEqual([...plan.fed.keys()], []);
  t.regex(plan.inline.get('version')?.message ?? '', /step "s", which names no command: Tekton's controller asks the image's registry/);
  t.regex(plan.inline.get('odd')?.message ?? '', /no image reference with the values in/);
});

test('image names as containerd names them', (t) => {
  t.is(normalizedImage('golang:1.22'), 'docker.io/library/golang:1.22');
  t.is(normalizedImage('bitnami/kubectl'), 'docker.io/bitnami/kubectl:latest');
  t.is(normalizedImage('index.docker.io/alpine/git:v2'), 'docker.io/alpine/git:v2');
  t.is(normalizedImage('localhost:5000/a/b:c'), 'localhost:5000/a/b:c');
  t.is(normalizedImage('gcr.io/kaniko-project/executor:v1.9.0'), 'gcr.io/kaniko-project/executor:v1.9.0');
  t.is(normalizedImage('Upper/case:1'), undefined);
  t.is(normalizedImage('a@sha256:00'), undefined);
  t.is(normalizedImage('a:bad tag'), undefined);
  t.is(substituted("x/$(params.a):$(inputs.params.b)-$(params['c'])", new Map([['a', 'p'], ['b', 'q'], ['c', 'r']])), 'x/p:q-r');
  t.is(substituted('x:$(params.a)', new Map()), undefined);
});

test('both runs: the images are the recorder (a fed image param names it), the params are the values inline or references by reference', (t) => {
  const plan = planFor('t', TASK, options);
  const inline = JSON.stringify(runOf(plan, false));
  const byRef = runOf(plan, true);
  const tasks = (byRef.spec.pipelineSpec?.tasks ?? []);
  t.deepEqual(tasks.map((x) => x.name), ['gen0', 'use']);
  const use = tasks.at(-1);
  t.deepEqual(use?.params?.find((p) => p.name === 'url')?.value, '$(tasks.gen0.results.v0)');
  t.true(inline.includes(JSON.stringify(plan.fed.get('url') ?? '-').slice(1, -1)));
  t.deepEqual(((use?.taskSpec?.steps ?? []) as Array<{ image?: string }>).map((s) => s.image), ['$(params.image)', 'localhost/tlr-test/recorder:1']);
});

test('a step that names no command runs the recorder from the test registry, for Tekton to look its entrypoint up', (t) => {
  const plan = planFor('t', { steps: [{ name: 'build', image: 'x', args: ['$(params.p)'] }, { name: 'other', image: 'x', script: 'echo' }], params: [{ name: 'p' }] }, options);
  t.is(plan.notRun, undefined);
  t.deepEqual([...plan.fed.keys()], ['p']);
  const steps = (runOf(plan, true).spec.pipelineSpec?.tasks?.at(-1)?.taskSpec?.steps ?? []) as Array<{ image?: string }>;
  t.deepEqual(steps.map((s) => s.image), ['10.250.0.2:5000/tlr-test/recorder:1', 'localhost/tlr-test/recorder:1']);
});

test('a task needing more references than one producer can seal gets several producers, fewer per producer with copies', (t) => {
  const params = Array.from({ length: 19 }, (_, i) => ({ name: `p${i}` }));
  const plan = planFor('t', { params, steps: [{ name: 's', image: 'x', script: params.map((p) => `echo $(params.${p.name})`).join('\n') }] }, options);
  t.is(plan.notRun, undefined);
  t.is(plan.fed.size, 19);
  t.deepEqual((runOf(plan, true).spec.pipelineSpec?.tasks ?? []).map((x) => x.name), ['gen0', 'gen1', 'use']);
  const names = Array.from({ length: 12 }, (_, i) => ({ name: `s${i}` }));
  const copied = planFor('t', { params: names, steps: [{ name: 's', image: 'x', script: 'true', env: names.map((p) => ({ name: p.name, valueFrom: { secretKeyRef: { name: `$(params.${p.name})`, key: 'k' } } })) }] }, options);
  t.is(copied.notRun, undefined, 'every producer\'s references and copies fit its seal step\'s message');
  // A reference and a copy take 435 bytes of a producer's 2300: five a producer (twelve references alone fit one).
  t.deepEqual((runOf(copied, true).spec.pipelineSpec?.tasks ?? []).map((x) => x.name), ['gen0', 'gen1', 'gen2', 'use']);
});

test('the Secrets and ConfigMaps a Task reads are named as Tekton names them with the values fed, with the keys it reads', (t) => {
  const spec = {
    params: [{ name: 'secret', default: 'git-creds' }, { name: 'key', default: 'GITHUB_TOKEN' }, { name: 'cm' }],
    steps: [{
      name: 's', image: 'x', script: 'true',
      env: [
        { name: 'A', valueFrom: { secretKeyRef: { name: '$(params.secret)', key: '$(params.key)' } } },
        { name: 'B', valueFrom: { configMapKeyRef: { name: '$(params.cm)', key: 'conf' } } },
        { name: 'C', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      ],
      envFrom: [{ secretRef: { name: 'git-creds' } }],
    }],
    volumes: [{ name: 'v', secret: { secretName: 'tls', items: [{ key: 'ca.crt', path: 'ca' }] } }, { name: 'e', emptyDir: {} }],
  } as unknown as EmbeddedTask;
  // The params naming them are fed (they take copies): each a short name the objects are created under.
  t.deepEqual(prerequisites(planFor('t', spec, options)), [
    { kind: 'Secret', name: 'tlr-v0', keys: ['tlr-v1'] },
    { kind: 'ConfigMap', name: 'tlr-v2', keys: ['conf'] },
    { kind: 'Secret', name: 'git-creds', keys: [] },
    { kind: 'Secret', name: 'tls', keys: ['ca.crt'] },
  ]);
});

test('a v1beta1 container\'s resources become computeResources, as Tekton converts them; nothing else changes', (t) => {
  const spec = { steps: [{ name: 's', image: 'x', resources: { limits: { cpu: '1' } } }, { name: 'u', image: 'y' }] } as unknown as EmbeddedTask;
  t.deepEqual(asV1(spec).steps, [{ name: 's', image: 'x', computeResources: { limits: { cpu: '1' } } }, { name: 'u', image: 'y' }] as unknown as EmbeddedTask['steps']);
  t.truthy((spec.steps?.[0] as Record<string, unknown>).resources, 'the input is not changed');
});

test('a Task declaring PipelineResources is not run: Tekton removed them', (t) => {
  const plan = planFor('t', { params: [{ name: 'p' }], resources: { outputs: [{ name: 'image', type: 'image' }] }, steps: [{ name: 's', image: 'x', script: 'echo $(params.p)' }] }, options);
  t.regex(plan.notRun ?? '', /PipelineResources/);
});

test('the recorder replaces every image, the stepTemplate\'s when it names one, and is never pulled', (t) => {
  const plan = planFor('t', { params: [{ name: 'p' }], stepTemplate: { image: 'a', env: [] }, steps: [{ name: 's', image: 'x', imagePullPolicy: 'Always', script: 'echo $(params.p)' }] }, options);
  const spec = runOf(plan, false).spec.pipelineSpec?.tasks?.[0]?.taskSpec as unknown as { stepTemplate: { image: string }; steps: Array<{ image: string; imagePullPolicy: string }> };
  t.is(spec.stepTemplate.image, 'localhost/tlr-test/recorder:1');
  t.deepEqual(spec.steps.map((s) => [s.image, s.imagePullPolicy]), [['localhost/tlr-test/recorder:1', 'IfNotPresent']]);
});

test('a param not fed keeps its default as Tekton applies it: not passed, so a default naming $(params.X) stays the Task’s', (t) => {
  const spec = {
    params: [{ name: 'image', default: '$(params.IMAGE)' }, { name: 'endpoint' }, { name: 'flag', default: 'true' }],
    steps: [{ name: 's', image: 'x', command: ['check'], env: [{ name: 'IMAGE', value: '$(params.image)' }, { name: 'E', value: '$(params.endpoint)' }], args: ['--flag=$(params.flag)'] }],
  };
  const plan = planFor('t', spec, options);
  t.deepEqual([...plan.fed.keys()].sort(), ['endpoint', 'flag', 'image'], 'each accepted alone: the others keep their defaults');
  const only = { ...plan, fed: new Map([['endpoint', plan.fed.get('endpoint') ?? '']]) };
  const use = runOf(only, false).spec.pipelineSpec?.tasks?.at(-1);
  t.deepEqual(use?.params?.map((p) => p.name), ['endpoint']);
});

test('a param naming the volume a volumeMount mounts is fed its default, which names the Task’s volume (buildpacks’ PLATFORM_DIR)', (t) => {
  const plan = planFor('t', {
    params: [{ name: 'PLATFORM_DIR', default: 'empty-dir' }],
    steps: [{ name: 's', image: 'x', script: 'true', volumeMounts: [{ name: '$(params.PLATFORM_DIR)', mountPath: '/platform' }] }],
    volumes: [{ name: 'empty-dir', emptyDir: {} }],
  }, options);
  t.is(plan.fed.get('PLATFORM_DIR'), 'empty-dir');
});

test('a fed image param’s step with imagePullPolicy Always gets IfNotPresent: the recorder it names is never pulled', (t) => {
  const plan = planFor('t', { params: [{ name: 'BUILDER' }], steps: [{ name: 's', image: '$(params.BUILDER)', imagePullPolicy: 'Always', command: ['/cnb/lifecycle/detector'] }] }, options);
  t.true(plan.fed.has('BUILDER'));
  const steps = (runOf(plan, true).spec.pipelineSpec?.tasks?.at(-1)?.taskSpec?.steps ?? []) as Array<{ image?: string; imagePullPolicy?: string }>;
  t.deepEqual(steps.map((s) => [s.image, s.imagePullPolicy]), [['$(params.BUILDER)', 'IfNotPresent']]);
});

test('an array param without a default that is a step’s whole command is given a shell (catalog kind)', (t) => {
  const plan = planFor('t', { params: [{ name: 'command', type: 'array' }, { name: 'image' }], steps: [{ name: 's', image: '$(params.image)', command: ['$(params.command[*])'] }] }, options);
  const use = runOf(plan, false).spec.pipelineSpec?.tasks?.at(-1);
  t.deepEqual(use?.params?.find((p) => p.name === 'command')?.value, ['/bin/sh']);
});
