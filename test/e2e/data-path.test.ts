/**
 * The local data path at size: a producer writes a 100 MiB result, the real seal step records its reference, the
 * real substitute program puts the value into the consumer's script, and the consumer writes out exactly what it
 * saw. Asserts the consumer saw every byte the producer wrote, and that only the small reference passed through
 * Tekton's results.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { parseReference } from '../../src/core/reference.js';
import type { PipelineRun } from '../../src/api/tekton.js';
import { runPipelineRunLocally } from '../support/local-tekton.js';

const SIZE = 100 * 1024 * 1024;

function run(): PipelineRun {
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    metadata: { name: 'data-path' },
    spec: {
      pipelineSpec: {
        resultWorkspace: { name: 'results' },
        tasks: [
          {
            name: 'produce',
            taskSpec: {
              results: [{ name: 'blob', storage: 'reference' }],
              steps: [
                {
                  name: 'write',
                  image: 'python',
                  // 100 MiB of printable, line-structured, non-repeating text.
                  script: [
                    '#!/usr/bin/env python3',
                    'import hashlib',
                    `size = ${SIZE}`,
                    'with open("$(results.blob.path)", "wb") as out:',
                    '    seed, written = b"tlr", 0',
                    '    while written < size:',
                    '        seed = hashlib.sha256(seed).digest()',
                    '        line = (seed.hex() * 16)[:1023].encode() + b"\\n"',
                    '        line = line[: size - written]',
                    '        out.write(line)',
                    '        written += len(line)',
                    '',
                  ].join('\n'),
                },
              ],
            },
          },
          {
            name: 'consume',
            params: [{ name: 'blob', value: '$(tasks.produce.results.blob)' }],
            taskSpec: {
              params: [{ name: 'blob' }],
              steps: [{ name: 'echo', image: 'bash', script: "#!/bin/sh\ncat > \"$HOME/seen\" <<'TLR_BLOB_END'\n$(params.blob)\nTLR_BLOB_END\n" }],
            },
          },
        ],
      },
    },
  };
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

test('a 100 MiB result travels from producer to consumer script byte for byte', async (t) => {
  const volume = await mkdtemp(join(tmpdir(), 'tlr-datapath-volume-'));
  const work = await mkdtemp(join(tmpdir(), 'tlr-datapath-work-'));
  try {
    const options = { config: parseConfig({ mountPath: volume }), featureFlags: parseFeatureFlags({}) };
    const rendered = rewritePipelineRun(run(), options).object;
    const result = await runPipelineRunLocally(rendered, { volume, workDir: work, uid: 'uid-100m' });

    const recorded = result.results.produce?.blob ?? '';
    t.true(recorded.length < 256, `the Tekton result is the small reference (${recorded.length} bytes)`);
    const ref = parseReference(recorded);
    t.is(ref?.size, SIZE);
    t.is(ref?.path, 'uid-100m/produce/blob');
    const produced = join(volume, 'uid-100m/produce/blob');
    t.is(await sha256File(produced), ref?.sha256 ?? 'missing');

    // The heredoc adds the newline that ends the substituted line: the consumer saw the value plus that newline.
    const seen = join(work, 'consume', 'seen');
    t.is((await stat(seen)).size, SIZE + 1);
    const expected = createHash('sha256');
    for await (const chunk of createReadStream(produced, { highWaterMark: 1 << 20 })) expected.update(chunk as Buffer);
    expected.update('\n');
    t.is(await sha256File(seen), expected.digest('hex'));
  } finally {
    await rm(volume, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  }
});
