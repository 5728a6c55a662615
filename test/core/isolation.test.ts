/**
 * What each task of a rewritten PipelineRun mounts of the result volume (src/core/layout.ts): a producer only its own
 * directory, read-write; a consumer only its run's directory, read-only; nothing else binds the result workspace.
 * These are the mounts that keep one task from altering another's results (the real-cluster test
 * test/e2e-cluster/isolation.test.ts tries it as root).
 */
import test from 'ava';
import type { PipelineRun, PipelineTask } from '../../src/api/tekton.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { RewriteError } from '../../src/errors.js';

const options = { config: parseConfig({}), featureFlags: parseFeatureFlags({}) };

function run(tasks: PipelineTask[]): PipelineRun {
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    metadata: { name: 'r', namespace: 'ns' },
    spec: {
      pipelineSpec: { resultWorkspace: { name: 'results' }, tasks },
      workspaces: [{ name: 'results', volumeClaimTemplate: { spec: { accessModes: ['ReadWriteOnce'] } } }] as never,
    },
  };
}

const produce = (name: string, extra: Partial<PipelineTask> = {}): PipelineTask => ({
  name,
  taskSpec: { results: [{ name: 'out', storage: 'reference' }], steps: [{ name: 's', image: 'busybox', script: 'echo x > $(results.out.path)' }] },
  ...extra,
});
const consume = (name: string, from: string, extra: Record<string, unknown> = {}): PipelineTask => ({
  name,
  params: [{ name: 'v', value: `$(tasks.${from}.results.out)` }],
  taskSpec: { params: [{ name: 'v' }], steps: [{ name: 's', image: 'busybox', script: 'cat <<\'E\'\n$(params.v)\nE' }], ...extra },
});

function task(object: PipelineRun, name: string): PipelineTask {
  const found = object.spec.pipelineSpec?.tasks?.find((t) => t.name === name);
  if (!found) throw new Error(`no task ${name}`);
  return found;
}

test('a producer mounts only its own directory, a consumer only its run directory read-only, one that does both both', (t) => {
  const both: PipelineTask = { ...consume('both', 'gen'), taskSpec: { ...consume('both', 'gen').taskSpec, results: [{ name: 'out', storage: 'reference' }] } };
  const { object } = rewritePipelineRun(run([produce('gen'), consume('use', 'gen'), both]), options);
  const uid = '$(context.pipelineRun.uid)';
  t.deepEqual(task(object, 'gen').workspaces, [{ name: 'tlr-output', workspace: 'results', subPath: `${uid}/gen` }]);
  t.like(task(object, 'gen').taskSpec?.workspaces?.[0], { name: 'tlr-output', mountPath: '/tlr/results/gen' });
  t.deepEqual(task(object, 'use').workspaces, [{ name: 'tlr-results', workspace: 'results', subPath: uid }]);
  t.like(task(object, 'use').taskSpec?.workspaces?.[0], { name: 'tlr-results', mountPath: '/tlr/results', readOnly: true });
  t.deepEqual(task(object, 'both').workspaces, [
    { name: 'tlr-results', workspace: 'results', subPath: uid },
    { name: 'tlr-output', workspace: 'results', subPath: `${uid}/both` },
  ]);
  const declared = task(object, 'both').taskSpec?.workspaces ?? [];
  t.like(declared.find((w) => w.name === 'tlr-results'), { mountPath: '/tlr/results', readOnly: true });
  t.like(declared.find((w) => w.name === 'tlr-output'), { mountPath: '/tlr/results/both' });
  t.is(declared.find((w) => w.name === 'tlr-output')?.readOnly, undefined);
  t.regex(JSON.stringify(task(object, 'gen').taskSpec?.steps), /echo x > \/tlr\/results\/gen\/out/);
});

test('a task binding the result workspace under a name of its own is refused, naming the binding', (t) => {
  const rogue: PipelineTask = { name: 'rogue', workspaces: [{ name: 'scratch', workspace: 'results' }], taskSpec: { workspaces: [{ name: 'scratch' }], steps: [{ name: 's', image: 'busybox', script: 'true' }] } };
  const error = t.throws(() => rewritePipelineRun(run([produce('gen'), rogue]), options), { instanceOf: RewriteError });
  t.regex(error.message, /spec\.pipelineSpec\.tasks\[1\]\.workspaces\[0\]: pipeline task "rogue" binds the result workspace "results" as its workspace "scratch"/);
});

test("a binding the author wrote under one of our names is replaced by ours (it would mount the whole volume)", (t) => {
  const gen = produce('gen', { workspaces: [{ name: 'tlr-output', workspace: 'results' }] });
  const { object } = rewritePipelineRun(run([gen, consume('use', 'gen')]), options);
  t.deepEqual(task(object, 'gen').workspaces, [{ name: 'tlr-output', workspace: 'results', subPath: '$(context.pipelineRun.uid)/gen' }]);
});

test('the rewrite is idempotent with the views', (t) => {
  const once = rewritePipelineRun(run([produce('gen'), consume('use', 'gen')]), options).object;
  const twice = rewritePipelineRun(once, options);
  t.deepEqual(twice.object, once);
});

test('the result claim bound a second time under another workspace name is refused, naming both', (t) => {
  const r = run([produce('gen')]);
  r.spec.workspaces = [
    { name: 'results', persistentVolumeClaim: { claimName: 'shared' } },
    { name: 'source', persistentVolumeClaim: { claimName: 'shared' } },
  ] as never;
  (r.spec.pipelineSpec as { workspaces?: unknown[] }).workspaces = [{ name: 'source' }];
  const error = t.throws(() => rewritePipelineRun(r, options), { instanceOf: RewriteError });
  t.regex(error.message, /spec\.workspaces\[1\]: workspace "source" binds claim "shared", which is the result workspace "results"'s claim/);
});

test('coschedule: disabled with a ReadWriteOnce volume from the config: a warning naming the fix; not with ReadWriteMany', (t) => {
  const flags = parseFeatureFlags({ coschedule: 'disabled' });
  const warned = rewritePipelineRun(run([produce('gen'), consume('use', 'gen')]), { ...options, featureFlags: flags });
  t.true(warned.diagnostics.some((d) => d.severity === 'warning' && /coschedule: disabled and the result volume is ReadWriteOnce/.test(d.message)));
  const rwxRun = run([produce('gen'), consume('use', 'gen')]);
  rwxRun.spec.workspaces = [{ name: 'results', volumeClaimTemplate: { spec: { accessModes: ['ReadWriteMany'] } } }] as never;
  t.false(rewritePipelineRun(rwxRun, { ...options, featureFlags: flags }).diagnostics.some((d) => /Multi-Attach/.test(d.message)));
  const unbound = run([produce('gen'), consume('use', 'gen')]);
  delete unbound.spec.workspaces;
  const fromConfig = rewritePipelineRun(unbound, { config: parseConfig({ accessModes: 'ReadWriteMany' }), featureFlags: flags });
  t.false(fromConfig.diagnostics.some((d) => /Multi-Attach/.test(d.message)), 'the config template with ReadWriteMany');
  const byDefault = rewritePipelineRun(run([produce('gen'), consume('use', 'gen')]), options);
  t.false(byDefault.diagnostics.some((d) => /Multi-Attach/.test(d.message)), 'the default coschedule places the pods with the volume');
});

test("a declaration the author wrote under one of our workspace names is replaced by ours (read-only for a consumer)", (t) => {
  const use = consume('use', 'gen', { workspaces: [{ name: 'tlr-results', mountPath: '/elsewhere' }] });
  const { object } = rewritePipelineRun(run([produce('gen'), use]), options);
  const declared = task(object, 'use').taskSpec?.workspaces?.filter((w) => w.name === 'tlr-results');
  t.deepEqual(declared?.map((w) => ({ mountPath: w.mountPath, readOnly: w.readOnly })), [{ mountPath: '/tlr/results', readOnly: true }]);
});
