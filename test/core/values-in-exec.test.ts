/**
 * Where the exec helper puts values (config valuesInArgsAndEnv): a step's and the stepTemplate's args, command, env
 * and workingDir are accepted, each with the kernel's limit for that field in the admission warning; a sidecar's are
 * refused; turned off, all are refused naming the key.
 */
import test from 'ava';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { DEFAULT_OPTIONS as options, optedInRun } from './run-fixture.js';

const GEN = { name: 'gen', taskSpec: { results: [{ name: 'dir', storage: 'reference' }], steps: [{ name: 'w', image: 'bash', script: 'echo > $(results.dir.path)' }] } };

function consumer(taskSpec: Record<string, unknown>): ReturnType<typeof optedInRun> {
  return optedInRun([GEN, { name: 'use', params: [{ name: 'dir', value: '$(tasks.gen.results.dir)' }], taskSpec: { params: [{ name: 'dir' }], ...taskSpec } }]);
}

test('a workingDir by value, a step’s or the stepTemplate’s, is accepted and warned about with PATH_MAX, once per result', (t) => {
  const out = rewritePipelineRun(
    consumer({
      stepTemplate: { workingDir: '/src/$(params.dir)' },
      steps: [
        { name: 'a', image: 'bash', workingDir: '/workspace/$(params.dir)', script: 'pwd' },
        { name: 'b', image: 'bash', workingDir: '/other/$(params.dir)', script: 'pwd' },
        { name: 'c', image: 'bash', env: [{ name: 'DIR', value: '$(params.dir)' }], script: 'echo "$DIR"' },
      ],
    }),
    options,
  );
  t.true(out.changed);
  t.deepEqual(out.diagnostics.filter((d) => d.severity === 'error'), []);
  const warnings = out.diagnostics.filter((d) => d.severity === 'warning').map((d) => d.message);
  const pathMax = warnings.filter((w) => w.includes('Linux takes paths of at most 4095 bytes (PATH_MAX), and this namespace accepts results up to 1073741824 bytes'));
  t.is(pathMax.length, 1, warnings.join('\n'));
  t.regex(pathMax[0] ?? '', /\$\(params\.dir\) puts result "dir" of task "gen" into (the stepTemplate's )?workingDir by value/);
  t.is(warnings.filter((w) => w.includes('131072 bytes per argument or environment variable')).length, 1, 'env has its own limit, warned about too');
});

test('no PATH_MAX warning when the namespace caps results below it (config key maxResultSize)', (t) => {
  const small = { config: parseConfig({ maxResultSize: '4000' }, 'ci'), featureFlags: parseFeatureFlags({}) };
  const out = rewritePipelineRun(consumer({ steps: [{ name: 'a', image: 'bash', workingDir: '/w/$(params.dir)', script: 'pwd' }] }), small);
  t.deepEqual(out.diagnostics.map((d) => d.message), []);
});

test('a sidecar’s workingDir by value takes a copy, refused with copies off; with valuesInArgsAndEnv off a step’s is refused, naming the key', (t) => {
  const spec = { steps: [{ name: 'a', image: 'bash', script: 'true' }], sidecars: [{ name: 's', image: 'bash', workingDir: '/w/$(params.dir)' }] };
  const copied = rewritePipelineRun(consumer(spec), options).object.spec.pipelineSpec?.tasks?.[1]?.taskSpec;
  t.is(copied?.sidecars?.[0]?.workingDir, '/w/$(params.tlr-copy-dir)');
  const noCopies = { ...options, config: parseConfig({ maxCopySize: '0' }) };
  const sidecar = t.throws(() => rewritePipelineRun(consumer(spec), noCopies));
  t.regex(sidecar?.message ?? '', /sidecars\[0\]\.workingDir: .*a sidecar starts with its own command/);
  const off = { config: parseConfig({ valuesInArgsAndEnv: 'false' }, 'ci'), featureFlags: parseFeatureFlags({}) };
  const step = t.throws(() => rewritePipelineRun(consumer({ steps: [{ name: 'a', image: 'bash', workingDir: '/w/$(params.dir)', script: 'pwd' }] }), off));
  t.regex(step?.message ?? '', /steps\[0\]\.workingDir: .*values in args, command, env and workingDir are turned off on this cluster: config key valuesInArgsAndEnv is "false"/);
});

// Found running the catalog on the cluster: nexus-lifecycle-scan and terraform-cli list an env name twice, which Tekton
// accepts until the task has a stepTemplate (the rewrite adds one), then refuses ("error merging step template").
test('a step listing an env name twice identically keeps one, with a warning; twice with different values is refused naming both', (t) => {
  const out = rewritePipelineRun(consumer({
    steps: [{ name: 'scan', image: 'bash', env: [{ name: 'F', value: '$(params.dir)' }, { name: 'G', value: 'g' }, { name: 'F', value: '$(params.dir)' }], script: 'echo "$F"' }],
  }), options);
  const step = (out.object.spec.pipelineSpec?.tasks?.[1]?.taskSpec?.steps ?? [])[0];
  t.deepEqual(step?.env?.map((e) => e.name), ['F', 'G']);
  t.regex(out.diagnostics.map((d) => d.message).join('\n'), /step "scan": env F is listed twice \(env\[0\] and env\[2\]\), identically; the rewrite keeps env\[0\]/);
  const error = t.throws(() => rewritePipelineRun(consumer({
    steps: [{ name: 'scan', image: 'bash', env: [{ name: 'F', value: 'a' }, { name: 'F', value: '$(params.dir)' }], script: 'echo "$F"' }],
  }), options));
  t.regex(error?.message ?? '', /steps\[0\]\.env\[1\]: .*step "scan": env F is listed twice with different values \(env\[0\] and env\[1\]\)/);
});
