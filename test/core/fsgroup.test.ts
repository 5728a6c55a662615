import test from 'ava';
import { parseConfig } from '../../src/core/config.js';
import { withFsGroup } from '../../src/core/pod-template.js';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { PipelineRun } from '../../src/api/tekton.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';

test('fsGroup: 65532 by default (the tlr-init user), another group id when set, off when empty, per namespace too, and a clear error otherwise', (t) => {
  t.is(parseConfig({}).fsGroup, 65532);
  t.is(parseConfig({ fsGroup: '' }).fsGroup, undefined);
  t.is(parseConfig({ fsGroup: '1000' }).fsGroup, 1000);
  t.is(parseConfig({ 'namespace.ci.fsGroup': '1001' }, 'ci').fsGroup, 1001);
  t.is(parseConfig({ 'namespace.ci.fsGroup': '' }, 'ci').fsGroup, undefined);
  t.is(parseConfig({ 'namespace.ci.fsGroup': '1001' }, 'other').fsGroup, 65532);
  t.throws(() => parseConfig({ fsGroup: 'staff' }), { message: 'config key "fsGroup": expected a group id (a whole number, e.g. 65532) or empty, found "staff"' });
});

test("a run's own fsGroup (and change policy) is kept; otherwise the admin's is added to its pod template", (t) => {
  t.is(withFsGroup(undefined, undefined), undefined);
  const own = { securityContext: { fsGroup: 5 } };
  t.is(withFsGroup(own, 65532), own);
  t.deepEqual(withFsGroup({ nodeSelector: { a: 'b' }, securityContext: { fsGroupChangePolicy: 'Always' } }, 65532), {
    nodeSelector: { a: 'b' },
    securityContext: { fsGroup: 65532, fsGroupChangePolicy: 'Always' },
  });
});

test('storageClassName: empty for the default class, or a valid StorageClass name; checked before any PVC is made', (t) => {
  t.is(parseConfig({}).storageClassName, '');
  t.is(parseConfig({ storageClassName: ' fast.csi-1 ' }).storageClassName, 'fast.csi-1');
  t.throws(() => parseConfig({ storageClassName: 'Fast_SSD' }), {
    message: `config key "storageClassName": expected a StorageClass name (lowercase letters, digits, '-' and '.') or empty for the default class, found "Fast_SSD"`,
  });
});

test('prepareRunAsRoot: off by default; on, tlr-prepare runs as root with every capability dropped, and nothing else changes', (t) => {
  t.false(parseConfig({}).prepareRunAsRoot);
  t.true(parseConfig({ 'namespace.ci.prepareRunAsRoot': 'true' }, 'ci').prepareRunAsRoot);
  t.throws(() => parseConfig({ prepareRunAsRoot: 'yes' }), { message: 'config key "prepareRunAsRoot": expected "true" or "false", found "yes"' });
  const run = parse(readFileSync('test/fixtures/rewrite/annotation-form-value-in-script/input.yaml', 'utf8')) as PipelineRun;
  const flags = parseFeatureFlags({});
  const plain = rewritePipelineRun(run, { config: parseConfig({}), featureFlags: flags }).object;
  const root = rewritePipelineRun(run, { config: parseConfig({ prepareRunAsRoot: 'true' }), featureFlags: flags }).object;
  const steps = (r: PipelineRun): Array<{ name?: string; securityContext?: unknown }> => (r.spec.pipelineSpec?.tasks ?? []).flatMap((pt) => pt.taskSpec?.steps ?? []);
  const prepares = steps(root).filter((s) => s.name === 'tlr-prepare');
  t.true(prepares.length > 0);
  for (const step of prepares) {
    t.deepEqual(step.securityContext, { runAsUser: 0, runAsGroup: 0, runAsNonRoot: false, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
  }
  t.true(steps(plain).every((s) => s.securityContext === undefined));
  const strip = (r: PipelineRun): unknown => JSON.parse(JSON.stringify(r, (k, v: unknown) => (k === 'securityContext' && typeof v === 'object' && v !== null && 'runAsUser' in v ? undefined : v)));
  t.deepEqual(strip(root), strip(plain), 'the only difference is the prepare steps\' securityContext');
});

test('a tekton.dev/v1beta1 run (as tlr render reads one) gets the fsGroup at spec.podTemplate, where v1beta1 has it, and stays schema-valid', async (t) => {
  const run = parse(readFileSync('test/fixtures/rewrite/annotation-form-value-in-script/input.yaml', 'utf8')) as PipelineRun;
  const beta = { ...run, apiVersion: 'tekton.dev/v1beta1', spec: { ...run.spec, podTemplate: { nodeSelector: { disk: 'ssd' } } } } as PipelineRun;
  const out = rewritePipelineRun(beta, { config: parseConfig({}), featureFlags: parseFeatureFlags({}) }).object;
  t.deepEqual(out.spec.podTemplate, { nodeSelector: { disk: 'ssd' }, securityContext: { fsGroup: 65532, fsGroupChangePolicy: 'OnRootMismatch' } });
  t.is(out.spec.taskRunTemplate, undefined);
  const { loadCrdValidator } = await import('../../src/schema/load-crds.js');
  const { validateWithEmbedded } = await import('../../src/schema/embedded-specs.js');
  t.deepEqual(validateWithEmbedded(await loadCrdValidator('../shared/tekton/v1.15.0/crds'), out), []);
  // v1, as the webhook sees every run: spec.taskRunTemplate.podTemplate.
  const v1 = rewritePipelineRun(run, { config: parseConfig({}), featureFlags: parseFeatureFlags({}) }).object;
  t.like(v1.spec.taskRunTemplate, { podTemplate: { securityContext: { fsGroup: 65532 } } });
});
