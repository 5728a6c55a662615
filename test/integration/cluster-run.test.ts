// The whole path for every example: the run is created on the real API server (webhook, then controller as its
// ServiceAccount), and what the API server then stores is run end to end on this machine by the local Tekton
// stand-in: the real seal step on the producers, the real tlr-substitute init container on the consumers, the
// consumers' scripts checked. The result volume is a temporary directory set as the cluster's `mountPath`.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import anyTest, { type TestFn } from 'ava';
import { parseAllDocuments } from 'yaml';
import { ANNOTATION_REWRITTEN } from '../../src/api/names.js';
import type { KubeObject, PipelineRun } from '../../src/api/tekton.js';
import { convertOnly } from '../../src/core/rewrite.js';
import { EXAMPLES } from '../support/example-checks.js';
import { runPipelineRunLocally } from '../support/local-tekton.js';
import { createRun, eventually, getRun, startTlrEnvironment, type TlrEnvironment } from '../support/tlr-env.js';

const test = anyTest as TestFn<{ env: TlrEnvironment; volume: string }>;

test.before(async (t) => {
  t.context.volume = await mkdtemp(join(tmpdir(), 'tlr-cluster-volume-'));
  t.context.env = await startTlrEnvironment({
    config: { storageClassName: 'csi-results', size: '2Gi', mountPath: t.context.volume },
    featureFlags: { 'enable-api-fields': 'alpha' },
  });
});
test.after.always(async (t) => {
  await t.context.env?.stop();
  if (t.context.volume) await rm(t.context.volume, { recursive: true, force: true });
});

async function objects(file: string): Promise<KubeObject[]> {
  return parseAllDocuments(await readFile(file, 'utf8'))
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
}

for (const [name, example] of Object.entries(EXAMPLES)) {
  test.serial(`example ${name}: what the cluster stores runs end to end`, async (t) => {
    const { env, volume } = t.context;
    const all = (await Promise.all(example.files.map((f) => objects(join('examples', name, f))))).flat();
    const stored = all.filter((o) => o.kind !== 'PipelineRun').map((o) => convertOnly(o).object);
    if (stored.length > 0) {
      await env.cluster.serverSideApply(stored.map((o) => ({ ...o, metadata: { ...o.metadata, namespace: 'demo' } })), { strict: true, fieldManager: 'user' });
    }
    const input = all.find((o) => o.kind === 'PipelineRun') as PipelineRun;
    const created = await createRun(env, input);
    const run = await eventually(async () => {
      const r = await getRun(env, 'demo', created.metadata?.name ?? '');
      return r.metadata?.annotations?.[ANNOTATION_REWRITTEN] && r.spec.status === undefined ? r : undefined;
    }, 'the run to be rewritten and released');
    const work = await mkdtemp(join(tmpdir(), `tlr-work-${name}-`));
    try {
      const result = await runPipelineRunLocally(run, { volume, workDir: work, uid: run.metadata?.uid ?? '' });
      await example.check(t, result, volume);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
}
