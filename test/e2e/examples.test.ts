/**
 * Every example in examples/ is rendered exactly as `tlr render` does and then run end to end on this machine: the
 * producer's scripts and the real seal step write to a temporary directory standing in for the result volume, the
 * real `tlr-init substitute` rewrites the consumer's scripts, and the consumer's script runs and reports what it saw.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PipelineRun } from '../../src/api/tekton.js';
import { renderFiles } from '../support/render-files.js';
import { runPipelineRunLocally } from '../support/local-tekton.js';
import { EXAMPLES } from '../support/example-checks.js';

for (const [name, example] of Object.entries(EXAMPLES)) {
  test(`example ${name} renders and runs end to end`, async (t) => {
    const volume = await mkdtemp(join(tmpdir(), `tlr-volume-${name}-`));
    const work = await mkdtemp(join(tmpdir(), `tlr-work-${name}-`));
    try {
      const objects = await renderFiles(example.files.map((f) => join('examples', name, f)), { mountPath: volume });
      const run = objects.find((o) => o.kind === 'PipelineRun') as PipelineRun;
      t.truthy(run, 'the example holds a PipelineRun');
      const result = await runPipelineRunLocally(run, { volume, workDir: work });
      await example.check(t, result, volume);
    } finally {
      await rm(volume, { recursive: true, force: true });
      await rm(work, { recursive: true, force: true });
    }
  });
}

test('every example directory has a test', async (t) => {
  const { readdir } = await import('node:fs/promises');
  const dirs = (await readdir('examples', { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  t.deepEqual(dirs.sort(), Object.keys(EXAMPLES).sort());
});
