/**
 * Every example in examples/ is rendered exactly as `tlr render` does and then run end to end on this machine: the
 * producer's scripts and the real seal step write to a temporary directory standing in for the result volume, the
 * real `tlr-init substitute` rewrites the consumer's scripts, and the consumer's script runs and reports what it saw.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PipelineRun } from '../../src/api/tekton.js';
import { renderFiles } from '../support/render-files.js';
import { runPipelineRunLocally, type LocalRunResult } from '../support/local-tekton.js';
import { parseReference } from '../../src/core/reference.js';

interface Example {
  files: string[];
  check: (t: import('ava').ExecutionContext, run: LocalRunResult, volume: string) => Promise<void> | void;
}

const EXAMPLES: Record<string, Example> = {
  'large-json': {
    files: ['pipelinerun.yaml'],
    check: (t, run) => {
      t.is(run.results.summarise?.count, '70000');
      const ref = parseReference(run.results.generate?.payload ?? '');
      t.truthy(ref, 'the producer recorded a reference, not the value');
      t.true((ref?.size ?? 0) > 4 * 1024 * 1024, `payload is ${ref?.size} bytes`);
    },
  },
  'sbom-by-path': {
    files: ['pipelinerun.yaml'],
    check: (t, run) => {
      t.is(run.results.licenses?.['mit-count'], String(Math.ceil(20000 / 3)));
      t.true((parseReference(run.results.build?.sbom ?? "")?.size ?? 0) > 2 * 1024 * 1024);
    },
  },
  'stdout-capture': {
    files: ['pipelinerun.yaml'],
    check: (t, run) => {
      t.is(run.results.summary?.warnings, '100000');
    },
  },
  'pipeline-results-finally': {
    files: ['pipelinerun.yaml'],
    check: async (t, run, volume) => {
      t.is(run.results.notify?.lines, '20001');
      const ref = parseReference(run.pipelineResults.changelog ?? '');
      t.truthy(ref, 'the pipeline result carries the reference');
      const bytes = await readFile(join(volume, ref?.path ?? ''));
      t.is(createHash('sha256').update(bytes).digest('hex'), ref?.sha256 ?? 'missing');
      t.true(bytes.toString().startsWith('* change 1: fixed a thing in component 1\n'));
    },
  },
  'taskref-files': {
    files: ['pipelinerun.yaml', 'pipeline.yaml', 'task-produce.yaml', 'task-consume.yaml'],
    check: (t, run) => {
      t.is(run.results.sign?.signed, '3000');
    },
  },
};

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
