/**
 * The data path end to end on this machine (the local Tekton stand-in: real seal, real substitute, results recorded
 * per step as Tekton's entrypoint does, the last step that saw a file winning), against producers and params that
 * try to make consumers read what they should not. Each test is the attack itself.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PipelineRun, PipelineTask } from '../../src/api/tekton.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { formatReference } from '../../src/core/reference.js';
import { LocalRunError, runPipelineRunLocally, type LocalRunResult } from '../support/local-tekton.js';
import { sha256 } from '../init/temp-volume.js';

const UID = 'forged-uid';
const SECRET = "the other task's value";
/** A reference to another task's sealed file, written by hand: what a forging producer publishes. */
const FORGED = formatReference({ sha256: sha256(SECRET), size: Buffer.byteLength(SECRET), path: `${UID}/other/secret` });

/** `other` seals SECRET; `forger` runs `forgerSteps`; `use` takes forger's payload in a heredoc (and `extra`). */
function pipeline(forgerSteps: string[], use: Partial<PipelineTask> = {}, useScript = ''): PipelineRun {
  const result = (name: string): { name: string; storage: string } => ({ name, storage: 'reference' });
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    metadata: { name: 'forged' },
    spec: {
      pipelineSpec: {
        resultWorkspace: { name: 'results' },
        tasks: [
          { name: 'other', taskSpec: { results: [result('secret')], steps: [{ name: 'w', image: 'sh', script: `printf '%s' "${SECRET}" > $(results.secret.path)` }] } },
          {
            name: 'forger',
            runAfter: ['other'],
            taskSpec: { results: [result('payload')], steps: forgerSteps.map((script, i) => ({ name: `s${i}`, image: 'sh', script })) },
          },
          {
            name: 'use',
            ...use,
            params: [{ name: 'p', value: '$(tasks.forger.results.payload)' }, ...(use.params ?? [])],
            taskSpec: {
              params: [{ name: 'p' }, ...(use.taskSpec?.params ?? [])],
              steps: [{ name: 'read', image: 'sh', script: `${useScript}cat > "$HOME/seen" <<'TLR_END'\n$(params.p)\nTLR_END\n` }],
            },
          },
        ],
      },
    },
  };
}

/** The classic path of `payload`, spelled so the rewrite cannot redirect it (as a step computing it would). */
const CLASSIC = 'n=payload; f="/tekton/results/$n"';

async function runLocally(t: ExecutionContext, run: PipelineRun): Promise<{ result?: LocalRunResult; error?: unknown; work: string }> {
  const volume = await mkdtemp(join(tmpdir(), 'tlr-forged-volume-'));
  const work = await mkdtemp(join(tmpdir(), 'tlr-forged-work-'));
  t.teardown(() => Promise.all([rm(volume, { recursive: true, force: true }), rm(work, { recursive: true, force: true })]));
  const options = { config: parseConfig({ mountPath: volume }), featureFlags: parseFeatureFlags({}) };
  const rendered = rewritePipelineRun(run, options).object;
  return runPipelineRunLocally(rendered, { volume, workDir: work, uid: UID }).then(
    (result) => ({ result, work }),
    (error: unknown) => ({ error, work }),
  );
}

const seen = (work: string): Promise<string> => readFile(join(work, 'use', 'seen'), 'utf8');

test("a hand-made reference to another task's file in /tekton/results: the consumer gets that text, not the file", async (t) => {
  const { result, error, work } = await runLocally(t, pipeline([`${CLASSIC}\nprintf '%s' '${FORGED}' > "$f"\n`]));
  t.is(error, undefined, String(error));
  t.not(result?.results.forger?.payload, FORGED, 'what Tekton published is not the forged reference');
  t.is(await seen(work), `${FORGED}\n`);
});

test('a forged reference written by one step and deleted by the next (Tekton keeps the first): consumers refuse it', async (t) => {
  const run = pipeline([`${CLASSIC}\nprintf '%s' '${FORGED}' > "$f"\n`, `${CLASSIC}\nrm "$f"\n`]);
  const { result, error, work } = await runLocally(t, run);
  t.true(error instanceof LocalRunError, `expected the consumer to fail, got ${JSON.stringify(result?.results)}`);
  t.regex((error as Error).message, /pipeline task use step tlr-substitute \(init container\) exited 1: .*tlr-seal: result "payload" was not produced/);
  await t.throwsAsync(seen(work), undefined, 'the consumer never ran');
});

test('a value written to the volume and another through /tekton/results: seal refuses, nothing stale is published', async (t) => {
  const run = pipeline([`echo stale > $(results.payload.path)\n${CLASSIC}\necho real > "$f"\n`]);
  const { error, work } = await runLocally(t, run);
  t.true(error instanceof LocalRunError);
  t.regex((error as Error).message, /pipeline task forger step tlr-seal exited 1: Sealing failed for 1 of 1 results:\n- Result "payload" was written twice/);
  await t.throwsAsync(seen(work));
});

test('token-shaped text in another param (a commit message) is left alone and does not fail the consumer', async (t) => {
  const message = `fix: parse [[tlr:v1:sha256=${'f'.repeat(64)}:size=01:path=x]] and ${FORGED} and [[tlr:v9:`;
  const use = { params: [{ name: 'msg', value: message }], taskSpec: { params: [{ name: 'msg' }] } } as Partial<PipelineTask>;
  const { error, work } = await runLocally(t, pipeline(['echo ok > $(results.payload.path)\n'], use, `printf '%s' '$(params.msg)' > "$HOME/msg"\n`));
  t.is(error, undefined, String(error));
  t.is(await readFile(join(work, 'use', 'msg'), 'utf8'), message, 'the undeclared reference was not expanded');
  t.is(await seen(work), 'ok\n\n', 'the declared reference was (the heredoc adds the last newline)');
});
