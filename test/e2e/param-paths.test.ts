/**
 * Nothing lost when a producer names its result's path through a param (Tekton's catalog `openshift-client` runs
 * `$(params.SCRIPT)`; others take the output path as a param with a default): rendered as `tlr render` does and run
 * end to end on this machine (Tekton's substitution, the real seal step, the real `tlr-init substitute`), the
 * consumer gets the value the last step wrote, not the one an earlier step left on the volume.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { PipelineRun } from '../../src/api/tekton.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { runPipelineRunLocally } from '../support/local-tekton.js';

const RUN = parse(String.raw`
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata: {name: through-params, namespace: ci}
spec:
  pipelineSpec:
    resultWorkspace: {name: results}
    tasks:
      - name: make
        params:
          - name: SCRIPT
            value: |
              #!/bin/sh
              printf final > $(results.out.path)
        taskSpec:
          params:
            - name: SCRIPT
            - name: LOG
              default: /tekton/results/log
          results:
            - {name: out, storage: reference}
            - {name: log, storage: reference}
          steps:
            - name: early
              image: bash
              script: printf stale > $(results.out.path)
            - name: run
              image: bash
              script: $(params.SCRIPT)
            - name: log
              image: bash
              script: printf logged > $(params.LOG)
      - name: use
        params:
          - {name: out, value: $(tasks.make.results.out)}
          - {name: log, value: $(tasks.make.results.log)}
        taskSpec:
          params: [{name: out}, {name: log}]
          steps:
            - name: show
              image: bash
              script: |
                cat <<'EOF'
                got $(params.out) $(params.log)
                EOF
`) as PipelineRun;

test('a result path in a param value or a param default reaches the volume: the consumer sees the last value written', async (t) => {
  const volume = await mkdtemp(join(tmpdir(), 'tlr-volume-params-'));
  const work = await mkdtemp(join(tmpdir(), 'tlr-work-params-'));
  try {
    const rewritten = rewritePipelineRun(RUN, { config: parseConfig({ mountPath: volume }), featureFlags: parseFeatureFlags({}) }).object;
    const result = await runPipelineRunLocally(rewritten, { volume, workDir: work });
    const shown = result.outputs.find((o) => o.task === 'use' && o.step === 'show');
    t.is(shown?.stdout.trim(), 'got final logged');
  } finally {
    await rm(volume, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  }
});
