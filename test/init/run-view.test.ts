/**
 * View `run` (src/core/layout.ts): a PipelineRun's tasks see their run's directory at --root, a producer its own
 * directory at <root>/<producer>. References keep naming `<runDir>/<producer>/<result>` on the volume, so the files
 * are found where each task sees them and a reference that leaves the run is still refused.
 */
import test from 'ava';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { prepareResultDirs } from '../../init/prepare.js';
import { sealResult } from '../../init/seal.js';
import { substituteScripts } from '../../init/substitute.js';
import { verifyResult } from '../../init/verified-result.js';
import { parseReference } from '../../src/core/reference.js';
import { collectLog, referenceFor, runCli, tempDir } from './temp-volume.js';

const RUN = '2f1c-run-uid';

/** The run's directory as the kubelet mounts it for a task (the volume's <uid>), with a producer's own directory. */
async function runMount(t: Parameters<typeof tempDir>[0]): Promise<{ root: string; own: string; results: string; scripts: string }> {
  const base = await tempDir(t, 'tlr-run-view-');
  const root = join(base, 'volume', RUN);
  const own = join(root, 'build');
  const results = join(base, 'results');
  const scripts = join(base, 'scripts');
  await Promise.all([mkdir(own, { recursive: true }), mkdir(results), mkdir(scripts)]);
  return { root, own, results, scripts };
}

test('prepare in view run creates nothing, makes the own directory writable for every step, clears a failed attempt', async (t) => {
  const m = await runMount(t);
  await chmod(m.own, 0o755);
  await writeFile(join(m.own, 'stale'), 'from a failed attempt');
  const dirs = await prepareResultDirs(m.root, `${RUN}/build`, 'run');
  t.deepEqual(dirs, { runDirPath: m.root, producerDirPath: m.own, removed: ['stale'] });
  t.is((await stat(m.own)).mode & 0o7777, 0o777, 'owner (or root): made writable by every uid of the task');
  t.is((await stat(m.root)).mode & 0o7777, (await stat(join(m.root, '..'))).mode & 0o7777, 'run directory untouched');
});

test('prepare in view run refuses when its own directory is not mounted, naming the workspace', async (t) => {
  const m = await runMount(t);
  const error = await t.throwsAsync(prepareResultDirs(m.root, `${RUN}/other`, 'run'));
  t.regex(error.message, /other is missing, expected this task's own result directory \(the workspace tlr-output/);
});

test('seal in view run reads <root>/<producer>/<result> and references <runDir>/<producer>/<result>', async (t) => {
  const m = await runMount(t);
  await writeFile(join(m.own, 'report'), 'the value');
  const { log } = collectLog();
  const outcome = await sealResult('report', { root: m.root, dir: `${RUN}/build`, view: 'run', resultsDir: m.results, maxSize: 1 << 20, log });
  const expected = referenceFor(`${RUN}/build/report`, 'the value');
  t.like(outcome, { status: 'sealed', reference: expected });
  t.is(await readFile(join(m.results, 'report'), 'utf8'), expected);
});

test('a consumer in view run verifies and substitutes from its run directory; a reference outside the run is refused', async (t) => {
  const m = await runMount(t);
  await writeFile(join(m.own, 'report'), 'the value');
  const token = referenceFor(`${RUN}/build/report`, 'the value');
  const verified = await verifyResult(parseReference(token)!, { root: m.root, runDir: RUN, view: 'run' });
  t.is(verified.path, join(m.own, 'report'));
  await writeFile(join(m.scripts, 'script-0-x'), `#!/bin/sh\ncat <<'E'\n${token}\nE\n`);
  await substituteScripts({ root: m.root, runDir: RUN, view: 'run', scriptsDir: m.scripts, refs: token, maxSubstituted: 1 << 20, log: () => undefined, warn: () => undefined });
  t.is(await readFile(join(m.scripts, 'script-0-x'), 'utf8'), "#!/bin/sh\ncat <<'E'\nthe value\nE\n");

  const elsewhere = referenceFor('another-run/build/report', 'the value');
  const error = await t.throwsAsync(verifyResult(parseReference(elsewhere)!, { root: m.root, runDir: RUN, view: 'run' }));
  t.regex(error.message, /points outside this run's directory: expected a path starting with "2f1c-run-uid\/"/);
});

test('the tlr-init command line takes --view run and refuses another view', async (t) => {
  const m = await runMount(t);
  await writeFile(join(m.own, 'report'), 'x');
  const ok = await runCli(['seal', '--root', m.root, '--view', 'run', '--dir', `${RUN}/build`, '--results-dir', m.results, '--max-size', '100', 'report']);
  t.is(ok.code, 0, ok.stderr);
  const bad = await runCli(['seal', '--root', m.root, '--view', 'pod', '--dir', `${RUN}/build`, '--results-dir', m.results, '--max-size', '100', 'report']);
  t.is(bad.code, 2, bad.stderr);
  t.regex(bad.stderr, /--view <view>' argument 'pod' is invalid\. Allowed choices are run, volume/);
});
