/**
 * Copies in the rewrite (src/core/copies.ts): a value stored by reference used where no step can put it in takes a
 * copy — a param carrying it gets a twin fed from the producer's `tlr-copy-<result>`, a direct expression names the
 * copy — and the producer's seal step is asked for it; an element or a path has no copy, a matrix none either; the
 * names are reserved; copies count in the seal step's termination budget; off (maxCopySize 0), refused as before.
 */
import test from 'ava';
import type { EmbeddedTask, PipelineTask } from '../../src/api/tekton.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { DEFAULT_OPTIONS as options, optedInRun } from './run-fixture.js';

const gen = (results: string[]): Record<string, unknown> => ({
  name: 'gen',
  taskSpec: { results: results.map((name) => ({ name, storage: 'reference' })), steps: [{ name: 'w', image: 'bash', script: results.map((r) => `echo > $(results.${r}.path)`).join('\n') }] },
});

function tasksOf(out: ReturnType<typeof rewritePipelineRun>): Array<PipelineTask & { taskSpec: EmbeddedTask }> {
  return (out.object.spec.pipelineSpec?.tasks ?? []) as Array<PipelineTask & { taskSpec: EmbeddedTask }>;
}

const errors = (out: ReturnType<typeof rewritePipelineRun>): string[] => out.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message);

test('a param carrying a value into an image and a script: the script by reference, the image from a twin fed the copy', (t) => {
  const out = rewritePipelineRun(optedInRun([gen(['img']), {
    name: 'use',
    params: [{ name: 'image', value: '$(tasks.gen.results.img)' }],
    taskSpec: { params: [{ name: 'image' }], steps: [{ name: 's', image: '$(params.image)', script: 'echo "$(params.image)"' }] },
  }]), options);
  t.deepEqual(errors(out), []);
  const [producer, consumer] = tasksOf(out);
  const step = consumer?.taskSpec.steps?.[0];
  t.is(step?.image, '$(params.tlr-copy-image)');
  t.is(step?.script, 'echo "$(params.image)"', 'the script still takes the value by reference');
  t.like(consumer?.params?.find((p) => p.name === 'tlr-copy-image'), { value: '$(tasks.gen.results.tlr-copy-img)' });
  t.like(consumer?.taskSpec.params?.find((p) => p.name === 'tlr-copy-image'), { type: 'string' });
  t.like(producer?.taskSpec.results?.find((r) => r.name === 'tlr-copy-img'), { type: 'string' });
  const seal = producer?.taskSpec.steps?.find((s) => s.name === 'tlr-seal')?.args ?? [];
  t.deepEqual(seal.slice(seal.indexOf('--copies'), seal.indexOf('--copies') + 4), ['--copies', 'img', '--max-copy', '512']);
  t.is(seal.at(-1), 'img', 'the result names stay last');
  const again = rewritePipelineRun(out.object, options);
  t.deepEqual(again.object, out.object, 'a second rewrite changes nothing');
});

test('a param mixing text and references gets a twin with each reference replaced by its copy, a path by its file', (t) => {
  const out = rewritePipelineRun(optedInRun([gen(['repo', 'tag', 'list']), {
    name: 'use',
    params: [{ name: 'image', value: '$(tasks.gen.results.repo):$(tasks.gen.results.tag)#$(tasks.gen.results.list.path)' }],
    taskSpec: { params: [{ name: 'image' }], steps: [{ name: 's', image: '$(params.image)', script: 'true' }] },
  }]), options);
  t.deepEqual(errors(out), []);
  const [producer, consumer] = tasksOf(out);
  t.regex(JSON.stringify(consumer?.params?.find((p) => p.name === 'tlr-copy-image')?.value), /^"\$\(tasks\.gen\.results\.tlr-copy-repo\):\$\(tasks\.gen\.results\.tlr-copy-tag\)#\/tlr\/results\/gen\/list"$/);
  const seal = producer?.taskSpec.steps?.find((s) => s.name === 'tlr-seal')?.args ?? [];
  t.is(seal[seal.indexOf('--copies') + 1], 'repo,tag', 'a path needs no copy');
});

test('a direct expression in a volume, a sidecar, a when expression and a workspace subPath names the copy; a pipeline task asking only for copies is still rewritten', (t) => {
  const out = rewritePipelineRun(optedInRun([gen(['name']), {
    name: 'use',
    when: [{ input: '$(tasks.gen.results.name)', operator: 'in', values: ['x'] }],
    workspaces: [{ name: 'w', workspace: 'shared', subPath: 'sub/$(tasks.gen.results.name)' }],
    taskSpec: {
      workspaces: [{ name: 'w' }],
      volumes: [{ name: 'v', secret: { secretName: '$(tasks.gen.results.name)' } }],
      sidecars: [{ name: 'side', image: 'bash', args: ['--name=$(tasks.gen.results.name)'] }],
      steps: [{ name: 's', image: 'bash', script: 'true' }],
    },
  }], { workspaces: [{ name: 'shared' }] }), options);
  t.deepEqual(errors(out), []);
  const use = tasksOf(out)[1];
  const copy = '$(tasks.gen.results.tlr-copy-name)';
  t.is(use?.when?.[0]?.input, copy);
  t.is(use?.workspaces?.find((w) => w.name === 'w')?.subPath, `sub/${copy}`);
  t.deepEqual(use?.taskSpec.volumes, [{ name: 'v', secret: { secretName: copy } }]);
  t.deepEqual(use?.taskSpec.sidecars?.[0]?.args, ['--name=$(tasks.gen.results.tlr-ecopy-name)'], 'the kubelet expands a sidecar\'s args: the escaped copy');
});

test('an element of a structured result, a path in an image and a matrix have no copy: refused, saying why', (t) => {
  const structured = { name: 'gen', taskSpec: { results: [{ name: 'cfg', type: 'object', properties: { image: { type: 'string' } }, storage: 'reference' }], steps: [{ name: 'w', image: 'bash', script: 'echo {} > $(results.cfg.path)' }] } };
  const element = t.throws(() => rewritePipelineRun(optedInRun([structured, {
    name: 'use', taskSpec: { steps: [{ name: 's', image: '$(tasks.gen.results.cfg.image)', script: 'true' }] },
  }]), options));
  t.regex(element?.message ?? '', /steps\[0\]\.image: .*carries an element of result "cfg" .*such a field takes a copy of the value, and a copy is of a whole value: \$\(tasks\.gen\.results\.cfg\), not an element/);
  const twin = t.throws(() => rewritePipelineRun(optedInRun([structured, {
    name: 'use', params: [{ name: 'img', value: '$(tasks.gen.results.cfg.image)' }],
    taskSpec: { params: [{ name: 'img' }], steps: [{ name: 's', image: '$(params.img)', script: 'true' }] },
  }]), options));
  t.regex(twin?.message ?? '', /params\[0\]\.value: .*\$\(tasks\.gen\.results\.cfg\.image\) takes an element of result "cfg" .*a copy is of a whole value/);
  const path = t.throws(() => rewritePipelineRun(optedInRun([gen(['r']), {
    name: 'use', taskSpec: { steps: [{ name: 's', image: 'reg/$(tasks.gen.results.r.path)', script: 'true' }] },
  }]), options));
  t.regex(path?.message ?? '', /steps\[0\]\.image: .*a copy is of a whole value: \$\(tasks\.gen\.results\.r\), not its path/);
  const matrix = t.throws(() => rewritePipelineRun(optedInRun([gen(['r']), {
    name: 'use', matrix: { params: [{ name: 'x', value: ['$(tasks.gen.results.r)'] }] }, taskSpec: { params: [{ name: 'x' }], steps: [{ name: 's', image: 'bash', script: 'echo $(params.x)' }] },
  }]), options));
  t.regex(matrix?.message ?? '', /matrix.*a matrix cannot fan out over a value stored on a volume/);
});

test('copies off (maxCopySize 0): such uses are refused as before copies, naming the key', (t) => {
  const off = { ...options, config: parseConfig({ maxCopySize: '0' }) };
  const error = t.throws(() => rewritePipelineRun(optedInRun([gen(['r']), {
    name: 'use', params: [{ name: 'p', value: '$(tasks.gen.results.r)' }],
    taskSpec: { params: [{ name: 'p' }], steps: [{ name: 's', image: 'bash', env: [{ name: 'X', valueFrom: { secretKeyRef: { name: '$(params.p)', key: 'k' } } }], script: 'true' }] },
  }]), off));
  t.regex(error?.message ?? '', /env\[0\]\.valueFrom\.secretKeyRef\.name: .*copies are turned off on this cluster: config key maxCopySize is "0"/);
});

test('copy names are reserved: a producer’s result or a consumer’s param named tlr-copy-… is refused', (t) => {
  const result = t.throws(() => rewritePipelineRun(optedInRun([{
    name: 'gen', taskSpec: { results: [{ name: 'r', storage: 'reference' }, { name: 'tlr-copy-r' }], steps: [{ name: 'w', image: 'bash', script: 'echo > $(results.r.path)' }] },
  }]), options));
  t.regex(result?.message ?? '', /results\[1\]\.name: .*result names starting "tlr-copy-" or "tlr-ecopy-" are reserved/);
  const param = t.throws(() => rewritePipelineRun(optedInRun([gen(['r']), {
    name: 'use', params: [{ name: 'p', value: '$(tasks.gen.results.r)' }, { name: 'tlr-copy-p', value: 'mine' }],
    taskSpec: { params: [{ name: 'p' }, { name: 'tlr-copy-p' }], steps: [{ name: 's', image: '$(params.p)', script: 'true' }] },
  }]), options));
  t.regex(param?.message ?? '', /param name "tlr-copy-p" is reserved for Tekton Large Results/);
});

test('copies ride in the seal step’s termination message: their names counted at admission, what is left given to the seal step for their values', (t) => {
  const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `r${i}`);
  const run = (n: number): ReturnType<typeof optedInRun> => optedInRun([gen(names(n)), {
    name: 'use', taskSpec: { steps: names(n).map((r) => ({ name: r, image: `$(tasks.gen.results.${r})`, script: 'true' })) },
  }]);
  const out = rewritePipelineRun(run(4), options);
  t.deepEqual(errors(out), []);
  const seal = tasksOf(out)[0]?.taskSpec.steps?.find((s) => s.name === 'tlr-seal')?.args ?? [];
  const room = Number(seal[seal.indexOf('--copy-room') + 1]);
  // 2457 bytes for the producer's 5 containers, less StartedAt, 4 references and 4 empty copies.
  t.true(room > 1000 && room < 2457 - 4 * 140, `room ${room}`);
  // 13 references fit alone (test/core/termination-budget.test.ts), not with the names of 13 copies beside them.
  const error = t.throws(() => rewritePipelineRun(run(13), options));
  t.regex(error?.message ?? '', /its 13 results stored by reference put \d+ bytes into its tlr-seal step's termination message \(each reference up to \d+ bytes with its name, and the names of 13 copies of values used where no step can put them in, before their values\), over the 2457 bytes/);
  t.notRegex(error?.message ?? '', /classic result/, 'copies are not counted as classic results');
});

test('in a sidecar’s args, command and env, where the kubelet expands $(VAR), the copy is the escaped one (every $ doubled)', (t) => {
  const out = rewritePipelineRun(optedInRun([gen(['v']), {
    name: 'use',
    params: [{ name: 'p', value: '$(tasks.gen.results.v)' }],
    taskSpec: {
      params: [{ name: 'p' }],
      sidecars: [{ name: 'side', image: '$(params.p)', command: ['run'], args: ['--v=$(params.p)'], env: [{ name: 'V', value: '$(tasks.gen.results.v)' }] }],
      steps: [{ name: 's', image: 'bash', script: 'true' }],
    },
  }]), options);
  t.deepEqual(errors(out), []);
  const [producer, use] = tasksOf(out);
  const side = use?.taskSpec.sidecars?.[0];
  t.is(side?.image, '$(params.tlr-copy-p)', 'an image is not expanded: the plain copy');
  t.deepEqual(side?.args, ['--v=$(params.tlr-ecopy-p)']);
  t.deepEqual(side?.env, [{ name: 'V', value: '$(tasks.gen.results.tlr-ecopy-v)' }]);
  t.like(use?.params?.find((p) => p.name === 'tlr-ecopy-p'), { value: '$(tasks.gen.results.tlr-ecopy-v)' });
  const seal = producer?.taskSpec.steps?.find((s) => s.name === 'tlr-seal')?.args ?? [];
  t.is(seal[seal.indexOf('--copies') + 1], 'v');
  t.is(seal[seal.indexOf('--escaped-copies') + 1], 'v');
  t.deepEqual(producer?.taskSpec.results?.map((r) => r.name), ['v', 'tlr-copy-v', 'tlr-ecopy-v']);
});

test('a step’s when and stdoutConfig path, which Tekton passes to its entrypoint as the container’s args, take the escaped copy; a StepAction’s params none', (t) => {
  const out = rewritePipelineRun(optedInRun([gen(['v']), {
    name: 'use',
    params: [{ name: 'p', value: '$(tasks.gen.results.v)' }],
    taskSpec: {
      params: [{ name: 'p' }],
      steps: [
        { name: 'w', image: 'bash', script: 'true', when: [{ input: '$(tasks.gen.results.v)', operator: 'in', values: ['x'] }] },
        { name: 'o', image: 'bash', script: 'true', stdoutConfig: { path: '/data/$(params.p)' }, stderrConfig: { path: '$(tasks.gen.results.v)' } },
      ],
    } as unknown as EmbeddedTask,
  }]), { ...options, featureFlags: parseFeatureFlags({ 'enable-api-fields': 'alpha' }) });
  t.deepEqual(errors(out), []);
  const steps = tasksOf(out)[1]?.taskSpec.steps as unknown as Array<{ when?: Array<{ input: string }>; stdoutConfig?: { path: string }; stderrConfig?: { path: string } }>;
  t.is(steps[0]?.when?.[0]?.input, '$(tasks.gen.results.tlr-ecopy-v)');
  t.is(steps[1]?.stdoutConfig?.path, '/data/$(params.tlr-ecopy-p)');
  t.is(steps[1]?.stderrConfig?.path, '$(tasks.gen.results.tlr-ecopy-v)');

  t.throws(() => rewritePipelineRun(optedInRun([gen(['v']), {
    name: 'use',
    params: [{ name: 'p', value: '$(tasks.gen.results.v)' }],
    taskSpec: { params: [{ name: 'p' }], steps: [{ name: 'a', ref: { name: 'my-action' }, params: [{ name: 'img', value: '$(params.p)' }] }] } as unknown as EmbeddedTask,
  }]), options), { message: /steps\[0\]\.params\[0\]\.value: .*\$\(params\.p\) in params carries result "v" of task "gen", .*a StepAction's param goes to fields of the StepAction, which Tekton resolves in the cluster/ });
});

test('v1beta1’s $(inputs.params.p), which Tekton v1.15.0 still substitutes, is a use of p like $(params.p)', (t) => {
  const out = rewritePipelineRun(optedInRun([gen(['v']), {
    name: 'use',
    params: [{ name: 'p', value: '$(tasks.gen.results.v)' }],
    taskSpec: {
      params: [{ name: 'p' }],
      volumes: [{ name: 'w', configMap: { name: '$(inputs.params.p)' } }],
      steps: [{ name: 'a', image: 'bash', script: 'echo "$(inputs.params.p)"', volumeMounts: [{ name: 'w', mountPath: '/m', subPath: '$(inputs.params.p)' }] }],
      sidecars: [{ name: 's', image: 'bash', command: ['run'], env: [{ name: 'A', value: '$(inputs.params.p)' }] }],
    } as unknown as EmbeddedTask,
  }]), options);
  t.deepEqual(errors(out), []);
  const spec = tasksOf(out)[1]?.taskSpec as unknown as { volumes: Array<{ configMap: { name: string } }>; steps: Array<{ script: string; volumeMounts: Array<{ subPath: string }> }>; sidecars: Array<{ env: Array<{ value: string }> }> };
  t.is(spec.volumes[0]?.configMap.name, '$(params.tlr-copy-p)');
  t.is(spec.steps[0]?.volumeMounts[0]?.subPath, '$(params.tlr-copy-p)');
  t.is(spec.sidecars[0]?.env[0]?.value, '$(params.tlr-ecopy-p)');
  t.true(spec.steps[0]?.script.includes('$(inputs.params.p)'), 'the script takes the value by reference');
  t.throws(() => rewritePipelineRun(optedInRun([gen(['v']), {
    name: 'use',
    params: [{ name: 'p', value: '$(tasks.gen.results.v)' }],
    taskSpec: { params: [{ name: 'p' }], steps: [{ name: 'a', image: 'bash', script: 'true', workingDir: '/w', volumeMounts: [{ name: 'x', mountPath: '/m' }], env: [{ name: 'X', valueFrom: { fieldRef: { fieldPath: '$(inputs.params.p)' } } }] }] } as unknown as EmbeddedTask,
  }]), { ...options, config: parseConfig({ maxCopySize: '0' }) }), { message: /\$\(params\.p\) in .*carries result "v" of task "gen"/ });
});

test('the run’s own workspace bindings and pod templates, which Tekton fills after the run is created, refuse a reference naming the field', (t) => {
  const use = {
    name: 'use',
    params: [{ name: 'p', value: 'x-$(tasks.gen.results.v)' }, { name: 'q', value: 'plain' }],
    taskSpec: { params: [{ name: 'p' }, { name: 'q' }], steps: [{ name: 's', image: 'bash', script: 'echo "$(params.p)"' }] },
  };
  const run = optedInRun([gen(['v']), use]);
  (run.spec as Record<string, unknown>).workspaces = [{ name: 'src', persistentVolumeClaim: { claimName: 'shared' }, subPath: '$(tasks.gen.results.v)' }];
  (run.spec as Record<string, unknown>).taskRunTemplate = { podTemplate: { env: [{ name: 'P', value: '$(params.p)' }, { name: 'Q', value: '$(params.q)' }] } };
  (run.spec as Record<string, unknown>).taskRunSpecs = [{ pipelineTaskName: 'use', podTemplate: { imagePullSecrets: [{ name: '$(params.p)' }] } }, { pipelineTaskName: 'gen', podTemplate: { nodeSelector: { a: '$(params.p)' } } }];
  const error = t.throws(() => rewritePipelineRun(run, options));
  const lines = (error?.message ?? '').split('\n');
  t.is(lines.length, 3, error?.message);
  t.regex(lines[0] ?? '', /spec\.workspaces\[0\]\.subPath: \$\(tasks\.gen\.results\.v\) in the run's workspace binding names result "v" of task "gen", which is stored by reference: Tekton puts task results into the run's workspace bindings itself/);
  t.regex(lines[1] ?? '', /spec\.taskRunTemplate\.podTemplate\.env\[0\]\.value: \$\(params\.p\) in a pod template names param "p", which carries a result stored by reference/);
  t.regex(lines[2] ?? '', /spec\.taskRunSpecs\[0\]\.podTemplate\.imagePullSecrets\[0\]\.name: /);
});

test('a classic result beside copies: the room left for it counts each copy at maxCopySize, and the warning says so (the seal step counts the classic results it finds: test/init/cli.test.ts)', (t) => {
  const producer = { name: 'gen', taskSpec: { results: [{ name: 'data', storage: 'reference' }, { name: 'note' }], steps: [{ name: 'w', image: 'bash', script: 'true' }] } };
  const consumer = {
    name: 'use',
    taskSpec: { steps: [{ name: 'a', image: '$(tasks.gen.results.data)', script: 'true' }], sidecars: [{ name: 's', image: 'bash', args: ['$(tasks.gen.results.data)'] }] },
  };
  const out = rewritePipelineRun(optedInRun([producer, consumer]), { ...options, config: parseConfig({ maxCopySize: '1024' }) });
  const warning = out.diagnostics.find((d) => d.severity === 'warning' && d.message.includes('classic result(s) "note"'));
  t.truthy(warning, JSON.stringify(out.diagnostics.map((d) => d.message), null, 1));
  t.regex(warning?.message ?? '', /and the references and 2 copies \(at their maxCopySize\) take \d+, so the classic results must stay under \d+ bytes together/);
  const without = rewritePipelineRun(optedInRun([producer, { name: 'use', taskSpec: { steps: [{ name: 'a', image: 'bash', script: 'echo "$(tasks.gen.results.data)"' }] } }]), { ...options, config: parseConfig({ maxCopySize: '1024' }) });
  t.falsy(without.diagnostics.find((d) => d.message.includes('classic result(s) "note"')), 'without copies the references leave room enough');
});

test('a finally task taking a copy runs only when its producer succeeded (a failed producer’s steps may have left a file under the copy’s name); idempotent', (t) => {
  const fin = {
    name: 'fin',
    params: [{ name: 'p', value: '$(tasks.gen.results.v)' }],
    taskSpec: { params: [{ name: 'p' }], steps: [{ name: 's', image: '$(params.p)', script: 'echo "$(params.p)"' }] },
  };
  const out = rewritePipelineRun(optedInRun([gen(['v'])], { finally: [fin] }), options);
  t.deepEqual(errors(out), []);
  const finallyTasks = (out.object.spec.pipelineSpec?.finally ?? []);
  t.deepEqual(finallyTasks[0]?.when, [{ input: '$(tasks.gen.status)', operator: 'in', values: ['Succeeded'] }]);
  t.deepEqual(rewritePipelineRun(out.object, options).object, out.object, 'a second rewrite adds no second guard');
  const byReference = rewritePipelineRun(optedInRun([gen(['v'])], { finally: [{ ...fin, taskSpec: { ...fin.taskSpec, steps: [{ name: 's', image: 'bash', script: 'echo "$(params.p)"' }] } }] }), options);
  t.is(((byReference.object.spec.pipelineSpec?.finally ?? []))[0]?.when, undefined, 'a value by reference is verified by the consumer: no guard');
});
