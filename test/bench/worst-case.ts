/**
 * The most costly PipelineRuns the API server accepts (a create request body is at most 3 MiB), each shaped to hit
 * one of the rewrite's once-superlinear paths, for the admission benchmark (worst-case-bench.ts).
 */
import type { PipelineRun, PipelineTask } from '../../src/api/tekton.js';
import { MAX_REFERENCE_RESULTS_PER_TASK } from '../../src/core/limits.js';

/** The object's JSON size the cases aim at: the API server's 3 MiB request limit, less room for the review envelope. */
export const TARGET_BYTES = 3 * 1024 * 1024 - 8 * 1024;
/** The largest run that can be stored (etcd's 1.5 MiB), for the cases where the rewrite does all its work. */
export const STORABLE_BYTES = 1536 * 1024 - 8 * 1024;

function run(name: string, tasks: PipelineTask[], optedIn = true): PipelineRun {
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    metadata: { name, namespace: 'default', ...(optedIn ? { annotations: { 'tlr.dev/result-workspace': 'results' } } : {}) },
    spec: { pipelineSpec: { workspaces: [{ name: 'results' }], tasks } },
  };
}

/** `line(i)` repeated until the text is `bytes` long. */
function textOf(bytes: number, line: (i: number) => string): string {
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const l = `${line(i)}\n`;
    parts.push(l);
    size += l.length;
  }
  return parts.join('');
}

/** A producer with `names` results stored by reference and one script of `bytes` naming their paths in turn. */
function producer(names: readonly string[], bytes: number): PipelineTask {
  return {
    name: 'produce',
    taskSpec: {
      metadata: { annotations: { 'tlr.dev/reference-results': names.join(',') } },
      results: names.map((name) => ({ name })),
      steps: [{ name: 'write', image: 'bash', script: textOf(bytes, (i) => `echo ${i} > $(results.${names[i % names.length]}.path)`) }],
    },
  };
}

function sized(make: (bytes: number) => PipelineRun, target = TARGET_BYTES): PipelineRun {
  const probe = JSON.stringify(make(0)).length;
  return make(target - probe);
}

function references(bytes: number): PipelineRun {
  return run('many-references', [
    producer(['out'], 64),
    { name: 'use', taskSpec: { steps: [{ name: 'read', image: 'bash', script: textOf(bytes, () => 'cat $(tasks.produce.results.out.path)') }] } },
  ]);
}

function chain(bytes: number): PipelineRun {
  const tasks: PipelineTask[] = [];
  for (let i = 0, size = 0; size < bytes || i < 2; i++) {
    const task: PipelineTask = {
      name: `t-${i}`,
      ...(i > 0 ? { params: [{ name: 'in', value: `$(tasks.t-${i - 1}.results.out)` }] } : {}),
      taskSpec: {
        metadata: { annotations: { 'tlr.dev/reference-results': 'out' } },
        ...(i > 0 ? { params: [{ name: 'in' }] } : {}),
        results: [{ name: 'out' }],
        steps: [{ name: 's', image: 'bash', script: `cat <<'EOF' > $(results.out.path)\n${i > 0 ? '$(params.in)' : 'seed'}\nEOF` }],
      },
    };
    tasks.push(task);
    size += JSON.stringify(task).length;
  }
  return run('many-tasks', tasks);
}

export interface WorstCase {
  readonly name: string;
  readonly run: PipelineRun;
}

export function worstCases(): WorstCase[] {
  const capped = Array.from({ length: MAX_REFERENCE_RESULTS_PER_TASK }, (_, i) => `result-${i}`);
  const many = Array.from({ length: 5000 }, (_, i) => `r${i}`);
  return [
    // The case: 5,000 result names and a 2 MiB script (beyond the cap now; O(results × text) before).
    { name: '5,000 results, 2 MiB script', run: run('many-results', [producer(many, 2 * 1024 * 1024)]) },
    // As many results as the cap allows, and a script filling the request (refused once rewritten: too large to store).
    { name: `${MAX_REFERENCE_RESULTS_PER_TASK} results, ~3 MiB script`, run: sized((b) => run('capped-results', [producer(capped, b)])) },
    // The same, with the script as large as a run can be and still be stored rewritten: admitted.
    { name: `${MAX_REFERENCE_RESULTS_PER_TASK} results, 600 KiB script (admitted)`, run: run('admitted', [producer(capped, 600 * 1024)]) },
    // One consumer naming a by-path reference ~100,000 times (each replacement rescanned the text before).
    { name: 'consumer naming one result ~100,000 times by path', run: sized(references) },
    // Thousands of small tasks, each consuming the previous one's result (lists scanned per task before).
    { name: 'a chain of ~10,000 small tasks', run: sized(chain) },
    // The same two at the largest size a run can be stored at: the rewrite does all its work before refusing the
    // result, which no longer fits.
    { name: 'consumer naming one result by path, largest storable', run: sized(references, STORABLE_BYTES) },
    { name: 'a chain of small tasks, largest storable', run: sized(chain, STORABLE_BYTES) },
    // The same size, not opted in: let through untouched on the event loop, never sent to a worker.
    { name: 'not opted in, ~3 MiB', run: sized((b) => run('plain', [{ name: 'plain', taskSpec: { steps: [{ name: 's', image: 'bash', script: textOf(b, (i) => `echo ${i}`) }] } }], false)) },
  ];
}
