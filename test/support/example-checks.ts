/**
 * What each example must do when run: the files `tlr render` takes, and the checks on the local run's results. Shared
 * by the local end-to-end test (rendered offline) and the cluster test (as stored by the API server after our webhook
 * and controller).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { parseReference } from '../../src/core/reference.js';
import type { LocalRunResult } from './local-tekton.js';

export interface Example {
  files: string[];
  check: (t: ExecutionContext, run: LocalRunResult, volume: string) => Promise<void> | void;
  /**
   * What the example does when its producers write a hostile value (test/e2e/hostile-values.test.ts): consumers
   * that take the value in a heredoc are refused by tlr-substitute; consumers by path read the value as data.
   */
  hostile:
    | { readonly kind: 'refused' }
    /** The value is not the JSON its structured result declares: the producer's seal step refuses it. */
    | { readonly kind: 'not-as-declared' }
    | { readonly kind: 'by-path' | 'as-data'; value: (pwned: string) => string; check: (t: ExecutionContext, run: LocalRunResult) => void };
}

const REFUSED = { kind: 'refused' } as const;

export const EXAMPLES: Record<string, Example> = {
  'large-json': {
    files: ['pipelinerun.yaml'],
    check: (t, run) => {
      t.is(run.results.summarise?.count, '70000');
      const ref = parseReference(run.results.generate?.payload ?? '');
      t.truthy(ref, 'the producer recorded a reference, not the value');
      t.true((ref?.size ?? 0) > 4 * 1024 * 1024, `payload is ${ref?.size} bytes`);
    },
    hostile: REFUSED,
  },
  'sbom-by-path': {
    files: ['pipelinerun.yaml'],
    check: (t, run) => {
      t.is(run.results.licenses?.['mit-count'], String(Math.ceil(20000 / 3)));
      t.true((parseReference(run.results.build?.sbom ?? "")?.size ?? 0) > 2 * 1024 * 1024);
    },
    hostile: {
      kind: 'by-path',
      // Valid JSON whose strings hold shell, quotes and heredoc delimiters: jq reads it from the file as data.
      value: (pwned) =>
        JSON.stringify({ components: [{ name: `x'\nEOF\nTLR_END\n$(touch ${pwned})\`touch ${pwned}\``, licenses: [{ license: { id: 'MIT' } }] }] }),
      check: (t, run) => t.is(run.results.licenses?.['mit-count'], '1'),
    },
  },
  'stdout-capture': {
    files: ['pipelinerun.yaml'],
    check: (t, run) => {
      t.is(run.results.summary?.warnings, '100000');
    },
    hostile: REFUSED,
  },
  'pipeline-results-finally': {
    files: ['pipelinerun.yaml'],
    check: async (t, run, volume) => {
      t.is(run.results.notify?.lines, '20000');
      const ref = parseReference(run.pipelineResults.changelog ?? '');
      t.truthy(ref, 'the pipeline result carries the reference');
      const bytes = await readFile(join(volume, ref?.path ?? ''));
      t.is(createHash('sha256').update(bytes).digest('hex'), ref?.sha256 ?? 'missing');
      t.true(bytes.toString().startsWith('* change 1: fixed a thing in component 1\n'));
    },
    hostile: REFUSED,
  },
  'taskref-files': {
    files: ['pipelinerun.yaml', 'pipeline.yaml', 'task-produce.yaml', 'task-consume.yaml'],
    check: (t, run) => {
      t.is(run.results.sign?.signed, '3000');
    },
    hostile: REFUSED,
  },
  'catalog-env': {
    files: ['pipelinerun.yaml', 'task-json-stats.yaml'],
    check: (t, run) => {
      t.is(run.results.stats?.count, '7000');
      const ref = parseReference(run.results.inventory?.document ?? '');
      t.truthy(ref, 'the producer recorded a reference, not the value');
      t.true((ref?.size ?? 0) > 64 * 1024, `document is ${ref?.size} bytes`);
      t.is(run.results.stats?.sha256, ref?.sha256, 'the catalog Task received exactly the bytes produced, through env');
    },
    hostile: {
      kind: 'as-data',
      // Valid JSON whose strings hold shell, quotes, $(…) and backticks: env carries it as data, nothing is evaluated.
      value: (pwned) => JSON.stringify({ items: [`x'"; touch ${pwned}; "\n$(touch ${pwned})\`touch ${pwned}\`$(PARAM_DOCUMENT)`] }),
      check: (t, run) => t.is(run.results.stats?.count, '1'),
    },
  },
  'structured-results': {
    files: ['pipelinerun.yaml'],
    check: (t, run) => {
      const digest = createHash('sha256').update('app').digest('hex');
      t.is(run.results.check?.ref, `registry.local/team/app@sha256:${digest}`, '.url and .digest in a script');
      t.is(run.results.check?.last, 'src/module-0/file-3000.go', '[2999] in env');
      t.is(run.results.check?.count, '3000');
      const ref = parseReference(run.results.build?.files ?? '');
      t.true((ref?.size ?? 0) > 64 * 1024, `the list is ${ref?.size} bytes`);
      t.is(run.results.check?.sha256, ref?.sha256, 'the whole list by path');
    },
    hostile: { kind: 'not-as-declared' },
  },
};
