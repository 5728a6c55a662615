import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { formatReference, parseReference } from '../../src/core/reference.js';
import { humanBytes } from '../../src/cli/commands/results.js';
import { listResults, recordedElements, recordedReferences, selectReferences } from '../../src/fetch/references.js';
import { selectVerified, ShortTransfer, verifiedFile } from '../../src/fetch/verified-file.js';

function ref(content: Buffer, path = 'uid/build/blob'): string {
  return formatReference({ sha256: createHash('sha256').update(content).digest('hex'), size: content.length, path });
}

test('a verified file appears under its name only when size and sha256 match; otherwise nothing is left', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tlr-fetch-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const content = randomBytes(1024 * 1024);
  const reference = parseReference(ref(content));
  if (!reference) throw new Error('bad reference');

  const good = verifiedFile(join(dir, 'good'), reference);
  await pipeline(Readable.from([content.subarray(0, 1000), content.subarray(1000)]), good.stream);
  t.deepEqual(await good.finish(), { bytes: content.length, sha256: reference.sha256 });
  t.true((await readFile(join(dir, 'good'))).equals(content));

  const tampered = Buffer.from(content);
  tampered[5] = (tampered[5] ?? 0) ^ 1;
  const bad = verifiedFile(join(dir, 'bad'), reference);
  await pipeline(Readable.from([tampered]), bad.stream);
  const wrong = await t.throwsAsync(bad.finish(), { message: /expected 1048576 bytes with sha256 .* received 1048576 bytes with sha256 .*nothing was written/ });
  t.false(wrong instanceof ShortTransfer, 'a complete transfer with another digest is not retried');

  // A stream that ended early is a ShortTransfer (tlr fetch retries it), and leaves nothing either.
  const short = verifiedFile(join(dir, 'short'), reference);
  await pipeline(Readable.from([content.subarray(0, 1000)]), short.stream);
  const ended = await t.throwsAsync(short.finish(), { message: /received 1000 bytes/ });
  t.true(ended instanceof ShortTransfer);

  const long = verifiedFile(join(dir, 'long'), reference);
  await t.throwsAsync(pipeline(Readable.from([content, Buffer.from('x')]), long.stream), { message: /more than the 1048576 bytes/ });
  await long.abort();
  t.deepEqual(await readdir(dir), ['good']);
});

test('references are named <pipeline task>.<result> and pipeline results by name; a typo lists what exists', (t) => {
  const a = ref(Buffer.from('a'), 'uid/build/sbom');
  const b = ref(Buffer.from('b'), 'uid/notes/text');
  const run = { status: { results: [{ name: 'changelog', value: b }, { name: 'plain', value: 'not a reference' }] } };
  const taskRuns = [
    { metadata: { labels: { 'tekton.dev/pipelineTask': 'build' } }, status: { results: [{ name: 'sbom', value: a }, { name: 'digest', value: 'sha256:x' }] } },
    { metadata: { labels: {} as Record<string, string> }, status: { results: [{ name: 'x', value: a }] } },
  ];
  const all = recordedReferences(run, taskRuns);
  t.deepEqual(all.usable.map((r) => [r.name, r.token]), [['build.sbom', a], ['changelog', b]]);
  t.deepEqual(all.unusable, []);
  t.deepEqual(selectReferences(all, ['changelog'], 'PipelineRun demo/r').map((r) => r.name), ['changelog']);
  t.throws(() => selectReferences(all, ['build.sbmo'], 'PipelineRun demo/r'), { message: 'PipelineRun demo/r: expected one of its results stored by reference (build.sbom, changelog), found "build.sbmo"' });
  t.throws(() => selectReferences({ usable: [], unusable: [] }, [], 'PipelineRun demo/r'), { message: /recorded no results stored by reference/ });
});

// The attack: a producer chooses what its results hold, and status can be written by whoever may write it.
test('names and references from status never reach outside the output directory, nor crash the fetch', (t) => {
  const good = ref(Buffer.from('g'), 'uid/build/sbom');
  const dotdot = `[[tlr:v1:sha256=${'a'.repeat(64)}:size=1:path=uid/../../etc/passwd]]`;
  const taskRuns = [
    {
      metadata: { labels: { 'tekton.dev/pipelineTask': 'build' } },
      status: { results: [{ name: 'sbom', value: good }, { name: '../../../../tmp/evil', value: good }, { name: 'notice', value: 'tlr-seal: result "x" was not produced' }] },
    },
    { metadata: { labels: { 'tekton.dev/pipelineTask': 'forger' } }, status: { results: [{ name: 'payload', value: dotdot }] } },
  ];
  const run = { status: { results: [{ name: '..', value: good }, { name: '/etc/cron.d/x', value: good }, { name: '.hidden', value: good }] } };
  const all = recordedReferences(run, taskRuns);
  t.deepEqual(all.usable.map((r) => r.name), ['build.sbom']);
  t.deepEqual(all.unusable.map((u) => u.name), ['build.../../../../tmp/evil', 'build.notice', 'forger.payload', '..', '/etc/cron.d/x', '.hidden']);
  t.regex(all.unusable[0]?.problem ?? '', /is not a plain file name/);
  t.is(all.unusable[1]?.problem, 'its producer did not seal it: tlr-seal: result "x" was not produced');
  t.regex(all.unusable[2]?.problem ?? '', /^its reference is unsafe: reference path must be relative/);
  t.deepEqual(selectReferences(all, [], 'PipelineRun demo/r').map((r) => r.name), ['build.sbom'], 'fetching all skips them');
  t.throws(() => selectReferences(all, ['forger.payload'], 'PipelineRun demo/r'), {
    message: /^PipelineRun demo\/r: result forger.payload cannot be fetched: its reference is unsafe: .*; nothing was written$/,
  });
});

test('tlr results lists every result: references with the size and sha256 sealed, values with their own; odd names escaped', (t) => {
  const sbom = Buffer.from('{"sbom": true}');
  const run = { status: { results: [{ name: 'sbom', value: ref(sbom, 'uid/build/sbom') }, { name: 'tag', value: 'v1.2.3' }] } };
  const taskRuns = [
    { metadata: { labels: { 'tekton.dev/pipelineTask': 'build' } }, status: { results: [{ name: 'sbom', value: ref(sbom, 'uid/build/sbom') }, { name: 'digest', value: 'sha256:ab' }] } },
    { metadata: { labels: { 'tekton.dev/pipelineTask': 'scan' } }, status: { results: [{ name: 'report', value: 'tlr-seal: report: over maxResultSize' }, { name: 'a/b', value: 'x' }] } },
  ];
  const listed = listResults(run, taskRuns);
  const hash = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
  t.deepEqual(listed, [
    { name: 'build.sbom', storage: 'reference', size: sbom.length, sha256: hash(sbom) },
    { name: 'build.digest', storage: 'value', size: 9, sha256: hash('sha256:ab') },
    { name: 'scan.report', storage: 'unusable', problem: 'its producer did not seal it: tlr-seal: report: over maxResultSize' },
    { name: '"scan.a/b"', storage: 'value', size: 1, sha256: hash('x') },
    { name: 'sbom', storage: 'reference', size: sbom.length, sha256: hash(sbom) },
    { name: 'tag', storage: 'value', size: 6, sha256: hash('v1.2.3') },
  ]);
  t.deepEqual([0, 1023, 1536, 5 * 1024 ** 3].map(humanBytes), ['0 B', '1023 B', '1.5 KiB', '5.0 GiB']);
});

test('a pipeline result the run records as one element is fetched as that element; object and array pipeline results by key and index', (t) => {
  const info = Buffer.from('{"version":"1.2","commit":"abc"}');
  const files = Buffer.from('["a","b"]');
  const infoRef = ref(info, 'uid/build/info');
  const filesRef = ref(files, 'uid/build/files');
  const elements = { version: '.version', first: '[0]', 'both.v': '.version', 'both.f': '[1]', broken: '.version', 'bad/name': '.x', odd: '.a.b' };
  const run = {
    metadata: { annotations: { 'tlr.dev/pipeline-result-elements': JSON.stringify(elements) } },
    status: {
      results: [
        { name: 'version', value: infoRef },
        { name: 'first', value: filesRef },
        { name: 'both', value: { v: infoRef, f: filesRef } },
        { name: 'list', value: [filesRef, 'plain'] },
        // Recorded as an element, but not one reference: never fetched as something else under the element's name.
        { name: 'broken', value: `${infoRef} ${filesRef}` },
        { name: 'odd', value: infoRef },
      ],
    },
  };
  const all = recordedReferences(run, []);
  t.deepEqual(all.usable.map((r) => [r.name, r.token, r.selector]), [
    ['version', infoRef, { key: 'version' }],
    ['first', filesRef, { index: 0 }],
    ['both.v', infoRef, { key: 'version' }],
    ['both.f', filesRef, { index: 1 }],
    ['list[0]', filesRef, undefined],
    // A selector the rewrite cannot have written is ignored: the whole value, as its status says.
    ['odd', infoRef, undefined],
  ]);
  t.deepEqual(all.unusable.map((u) => u.name), ['broken']);
  t.regex(all.unusable[0]?.problem ?? '', /records it as element \.version of one reference result, but its value is not one reference/);
  const listed = listResults(run, []);
  t.like(listed[0], { name: 'version', storage: 'reference', element: '.version', size: info.length });
  t.like(listed.find((r) => r.name === 'both.f'), { storage: 'reference', element: '[1]', size: files.length });
  t.like(listed.find((r) => r.name === 'list[1]'), { storage: 'value', size: 5 });
  t.deepEqual([...recordedElements({ metadata: { annotations: { 'tlr.dev/pipeline-result-elements': 'not json' } } })], []);
});

test('an element is taken from the verified value: its exact bytes under its name; a missing key leaves nothing, the value removed', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tlr-select-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const { writeFile } = await import('node:fs/promises');
  await writeFile(join(dir, '.v.tlr-value'), '{"version":"1.2\\n\\u00e9","commit":"abc"}');
  const selected = await selectVerified(join(dir, '.v.tlr-value'), join(dir, 'v'), { key: 'version' }, 'result v');
  t.is(await readFile(join(dir, 'v'), 'utf8'), '1.2\né');
  t.deepEqual(selected, { bytes: 6, sha256: createHash('sha256').update('1.2\né').digest('hex') });
  await writeFile(join(dir, '.w.tlr-value'), '{"commit":"abc"}');
  await t.throwsAsync(selectVerified(join(dir, '.w.tlr-value'), join(dir, 'w'), { key: 'version' }, 'result w'), { message: /\/w: result w has no key "version"; found keys .*commit.*; nothing was written/ });
  await writeFile(join(dir, '.x.tlr-value'), '["a"]');
  await t.throwsAsync(selectVerified(join(dir, '.x.tlr-value'), join(dir, 'x'), { index: 3 }, 'result x'), { message: /index \[3\] is out of range/ });
  t.deepEqual(await readdir(dir), ['v'], 'no partial file, no value left beside the element');
});
