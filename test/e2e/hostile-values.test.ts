/**
 * Large results often carry untrusted data (a linter's report of attacker-written code, an HTTP response). Every
 * example, and the pattern README.md shows, is run here end to end with producers that write a hostile value: one
 * that closes each heredoc the consumers use and then runs a command. The safe outcome: consumers that take the
 * value in a heredoc are refused by tlr-substitute (before any step runs), consumers that read it by path get it as
 * data; and the injected command never runs. Before the heredoc guard, `examples/stdout-capture` ran it and exited 0.
 */
import test, { type ExecutionContext } from 'ava';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { PipelineRun } from '../../src/api/tekton.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { EXAMPLES, type Example } from '../support/example-checks.js';
import { heredocDelimiters, withHostileProducers } from '../support/hostile-producers.js';
import { LocalRunError, runPipelineRunLocally, type LocalRunResult } from '../support/local-tekton.js';
import { renderFiles } from '../support/render-files.js';

const UID = 'hostile-uid';

/** A value that ends each of `delimiters` and then runs `touch <pwned>`; with quotes and $(…) for other contexts. */
function closingValue(delimiters: readonly string[], pwned: string): string {
  const breakouts = delimiters.map((d) => `${d}\ntouch '${pwned}'\n`).join('');
  return `an ordinary first line\n${breakouts}'"; touch '${pwned}'; "\n$(touch '${pwned}')\n`;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

interface Outcome {
  readonly result?: LocalRunResult;
  readonly error?: unknown;
}

/** Runs `run` with hostile producers; returns the local run's result or its error. */
async function runHostile(t: ExecutionContext, run: PipelineRun, value: (pwned: string) => string, volume: string): Promise<Outcome> {
  const work = await mkdtemp(join(tmpdir(), 'tlr-hostile-work-'));
  t.teardown(() => rm(work, { recursive: true, force: true }));
  const pwned = join(work, 'PWNED');
  const valueFile = join(work, 'hostile-value');
  await writeFile(valueFile, value(pwned));
  const hostile = withHostileProducers(run, { volume, uid: UID, valueFile });
  const outcome: Outcome = await runPipelineRunLocally(hostile, { volume, workDir: work, uid: UID }).then(
    (result) => ({ result }),
    (error: unknown) => ({ error }),
  );
  t.false(await exists(pwned), 'the injected command never ran');
  return outcome;
}

function expectRefused(t: ExecutionContext, outcome: Outcome): void {
  t.true(outcome.error instanceof LocalRunError, `expected the consumer to be refused, got ${outcome.error instanceof Error ? outcome.error.message : 'success'}`);
  const message = (outcome.error as Error | undefined)?.message ?? '';
  t.regex(message, /step tlr-substitute \(init container\) exited 1: Script .*: the value of .* would end the here-document it sits in/);
}

async function volumeDir(t: ExecutionContext): Promise<string> {
  const volume = await mkdtemp(join(tmpdir(), 'tlr-hostile-volume-'));
  t.teardown(() => rm(volume, { recursive: true, force: true }));
  return volume;
}

for (const [name, example] of Object.entries<Example>(EXAMPLES)) {
  const outcome = { refused: 'refused', 'not-as-declared': 'refused by the seal step', 'by-path': 'read as data', 'as-data': 'read as data' }[example.hostile.kind];
  test(`example ${name} with a hostile value: ${outcome}, nothing injected runs`, async (t) => {
    const volume = await volumeDir(t);
    const objects = await renderFiles(example.files.map((f) => join('examples', name, f)), { mountPath: volume });
    const run = objects.find((o) => o.kind === 'PipelineRun') as PipelineRun;
    const { hostile } = example;
    if (hostile.kind === 'refused') {
      const delimiters = heredocDelimiters(run);
      t.true(delimiters.length > 0, 'a by-value example takes its value in a heredoc');
      expectRefused(t, await runHostile(t, run, (pwned) => closingValue(delimiters, pwned), volume));
    } else if (hostile.kind === 'not-as-declared') {
      // Not JSON at all: never published, so no consumer ever sees it.
      const { error } = await runHostile(t, run, (pwned) => closingValue(heredocDelimiters(run), pwned), volume);
      t.true(error instanceof LocalRunError, `expected the producer to be refused, got ${error instanceof Error ? error.message : 'success'}`);
      t.regex((error as Error | undefined)?.message ?? '', /step tlr-seal exited 1: .*Result "\w+" \(.*\), declared an? (object|array), must start with/s);
    } else {
      const outcome = await runHostile(t, run, hostile.value, volume);
      t.is(outcome.error, undefined, String(outcome.error));
      if (outcome.result) hostile.check(t, outcome.result);
    }
  });
}

// What a consumer can do to a file it verified: nothing. Its tasks declare the result workspace read-only (every
// step's and sidecar's mount is then read-only, enforced by the kubelet), so only tasks that also produce write.
test('in every example, a task that only consumes declares the result workspace read-only', async (t) => {
  for (const [name, example] of Object.entries<Example>(EXAMPLES)) {
    const objects = await renderFiles(example.files.map((f) => join('examples', name, f)));
    const run = objects.find((o) => o.kind === 'PipelineRun') as PipelineRun;
    const spec = run.spec.pipelineSpec;
    for (const pt of [...(spec?.tasks ?? []), ...(spec?.finally ?? [])]) {
      const ws = pt.taskSpec?.workspaces?.find((w) => w.name === 'tlr-results');
      const produces = (pt.taskSpec?.steps ?? []).some((s) => s.name === 'tlr-seal');
      if (ws === undefined) continue;
      t.is(ws.readOnly, produces ? undefined : true, `${name}: ${pt.name}`);
    }
  }
});

/** The PipelineRun of README.md's "What it looks like" block. */
async function readmeRun(): Promise<PipelineRun> {
  const readme = await readFile('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('## What it looks like'));
  const block = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
  if (block === undefined) throw new Error('README.md: no yaml block under "What it looks like"');
  const { spec } = parse(block) as { spec: PipelineRun['spec'] };
  return { apiVersion: 'tekton.dev/v1', kind: 'PipelineRun', metadata: { name: 'readme' }, spec };
}

test("README's by-value pattern with a hostile value: refused, nothing injected runs", async (t) => {
  const volume = await volumeDir(t);
  const options = { config: parseConfig({ mountPath: volume }), featureFlags: parseFeatureFlags({}) };
  const run = rewritePipelineRun(await readmeRun(), options).object;
  const delimiters = heredocDelimiters(run);
  t.true(delimiters.length > 0, 'README takes the value in a heredoc');
  expectRefused(t, await runHostile(t, run, (pwned) => closingValue(delimiters, pwned), volume));
});
