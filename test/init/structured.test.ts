/**
 * Structured results (object and array) stored by reference: the seal step checks the JSON against the declared
 * type and properties, and a consumer gets exactly one element (`.key`, `[i]`) of the verified value in its script.
 */
import test from 'ava';
import fc from 'fast-check';
import { chmod, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sealResult, type SealOptions } from '../../init/seal.js';
import { StructuredReader, selectElement, type StructuredOptions } from '../../src/core/structured-json.js';
import { substituteScripts, type SubstituteOptions } from '../../init/substitute.js';
import { selectorToken, type ResultShape, type Selector } from '../../src/core/structured.js';
import { TlrError } from '../../src/errors.js';
import { collectLog, makeVolume, PRODUCER, RUN_DIR, writeResult, type TempVolume } from './temp-volume.js';

/** Reads `json` in chunks of `sizes` (cycled); the selected element's bytes, or the refusal. */
function read(json: string | Buffer, options: Omit<StructuredOptions, 'emit' | 'subject'>, sizes: readonly number[] = [1 << 20]): Buffer {
  const data = Buffer.isBuffer(json) ? json : Buffer.from(json);
  const out: Buffer[] = [];
  const reader = new StructuredReader({ subject: 'Result "r"', ...options, emit: (b) => out.push(b) });
  let at = 0;
  for (let k = 0; at < data.length; k++) {
    const n = Math.max(1, sizes[k % sizes.length] ?? 1);
    reader.push(data.subarray(at, at + n));
    at += n;
  }
  reader.end();
  return Buffer.concat(out);
}

function refusal(t: import('ava').ExecutionContext, json: string | Buffer, options: Omit<StructuredOptions, 'emit' | 'subject'>): string {
  const error = t.throws(() => read(json, options), { instanceOf: TlrError });
  t.is((error).code, 'E_RESULT_SHAPE');
  return error?.message ?? '';
}

const SEAL_OBJECT = { type: 'object', checkKeys: true } as const;

test('every element of any array of strings is selected byte-exact, whatever the chunk boundaries', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.string({ unit: 'grapheme', maxLength: 20 }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 5 }),
      fc.nat(),
      (items, sizes, pick) => {
        const index = pick % items.length;
        const selected = read(JSON.stringify(items, null, pick % 2 === 0 ? undefined : 1), { type: 'array', select: { index } }, sizes);
        return selected.equals(Buffer.from(items[index] ?? '', 'utf8'));
      },
    ),
  );
  t.pass();
});

test('every key of any object of strings is selected byte-exact, escapes and non-ASCII included', (t) => {
  fc.assert(
    fc.property(
      fc.dictionary(fc.stringMatching(/^[A-Za-z0-9_-]{1,6}$/), fc.string({ unit: 'grapheme', maxLength: 20 }), { minKeys: 1, maxKeys: 6 }),
      fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }),
      (object, sizes) =>
        Object.entries(object).every(([key, value]) =>
          read(JSON.stringify(object), { ...SEAL_OBJECT, properties: Object.keys(object), select: { key } }, sizes).equals(Buffer.from(value, 'utf8')),
        ),
    ),
  );
  t.pass();
});

test('escapes decode to their bytes: \\n, \\t, \\u00e9, a surrogate pair, \\/ and \\"; null selects the empty string', (t) => {
  t.is(read(String.raw`["a\n\t\u00e9\ud83d\ude00\/\"\\b"]`, { type: 'array', select: { index: 0 } }).toString(), 'a\n\t\u00e9\u{1f600}/"\\b');
  t.is(read('{"k": null, "j": "x"}', { type: 'object', select: { key: 'k' } }).length, 0);
  t.is(read('[ "a" , null ,"c" ]\n', { type: 'array', select: { index: 2 } }).toString(), 'c');
  t.is(read('{}', { ...SEAL_OBJECT, properties: [] }).length, 0);
  t.is(read('[]\r\n', { type: 'array' }).length, 0);
});

test('what Tekton would not read as the declared type, or would change silently, is refused with where and why', (t) => {
  t.regex(refusal(t, ' ["a"]', { type: 'array' }), /must start with "\[".*found byte 0x20 at its first byte/);
  t.regex(refusal(t, '{"a":"b"}', { type: 'array' }), /must start with "\["/);
  t.regex(refusal(t, '["a",1]', { type: 'array' }), /expected a string .*found "1" in element \[1\] \(at byte 5\)/);
  t.regex(refusal(t, '{"a":{"b":"c"}}', SEAL_OBJECT), /found a nested object or array in the value of key "a"/);
  t.regex(refusal(t, '{"a":"1","a":"2"}', SEAL_OBJECT), /has the key "a" twice/);
  t.regex(refusal(t, '{"url":"u"}', { ...SEAL_OBJECT, properties: ['url', 'digest'] }), /lacks the declared property "digest".*found keys "url"/);
  t.regex(refusal(t, Buffer.from([0x5b, 0x22, 0xff, 0x22, 0x5d]), { type: 'array' }), /not valid UTF-8 in element \[0\] .*\(at byte 2\)/);
  t.regex(refusal(t, Buffer.from([0x5b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x5d]), { type: 'array' }), /not valid UTF-8/);
  t.regex(refusal(t, Buffer.from([0x5b, 0x22, 0xc0, 0xaf, 0x22, 0x5d]), { type: 'array' }), /not valid UTF-8/);
  t.regex(refusal(t, String.raw`["\ud800x"]`, { type: 'array' }), /lone UTF-16 surrogate \\ud800/);
  t.regex(refusal(t, String.raw`["\udc00"]`, { type: 'array' }), /lone UTF-16 surrogate \\udc00/);
  t.regex(refusal(t, String.raw`["\x"]`, { type: 'array' }), /invalid escape "\\x"/);
  t.regex(refusal(t, '["a\tb"]', { type: 'array' }), /control byte byte 0x09 unescaped/);
  t.regex(refusal(t, '["a"] x', { type: 'array' }), /has "x" after its JSON ended/);
  t.regex(refusal(t, '["a",]', { type: 'array' }), /expected a string .*found "\]"/);
  t.regex(refusal(t, '["a"', { type: 'array' }), /truncated/);
  t.regex(refusal(t, '', { type: 'array' }), /is empty/);
  t.regex(refusal(t, '[nul]', { type: 'array' }), /expected a string or null, found "\]"/);
  t.regex(refusal(t, '{"a" "b"}', SEAL_OBJECT), /expected ":" after a key/);
});

test('a key absent from the value or an index past its end is refused, naming what the value has', (t) => {
  t.regex(refusal(t, '{"url":"u","digest":"d"}', { type: 'object', select: { key: 'tag' } }), /has no key "tag"; found keys "url", "digest"/);
  t.regex(refusal(t, '["a","b"]', { type: 'array', select: { index: 2 } }), /has 2 element\(s\), so index \[2\] is out of range/);
});

test('memory stays bounded: a key over 64 KiB and more than 100,000 keys are refused', (t) => {
  t.regex(refusal(t, `{"${'k'.repeat(70_000)}":"v"}`, SEAL_OBJECT), /key longer than 65536 bytes/);
  const many = `{${Array.from({ length: 100_001 }, (_, i) => `"${i}":""`).join(',')}}`;
  t.regex(refusal(t, many, SEAL_OBJECT), /more than 100000 keys/);
});

const DIR = `${RUN_DIR}/${PRODUCER}`;

function sealOptions(volume: TempVolume, shapes: Map<string, ResultShape>): SealOptions {
  const { lines, log } = collectLog();
  void lines;
  return { root: volume.root, dir: DIR, resultsDir: volume.resultsDir, maxSize: 1 << 20, log, shapes };
}

test('seal publishes a structured result that matches its declaration, and refuses one that does not, with a notice', async (t) => {
  const volume = await makeVolume(t);
  await writeFile(join(volume.producerDir, 'image'), '{"url":"registry/app","digest":"sha256:0"}\n');
  await writeFile(join(volume.producerDir, 'files'), '["a", 2]');
  const options = sealOptions(volume, new Map([['image', { type: 'object', properties: ['url', 'digest'] }], ['files', { type: 'array' }]]));
  const sealed = await sealResult('image', options);
  t.is(sealed.status, 'sealed');
  const error = await t.throwsAsync(sealResult('files', options), { instanceOf: TlrError });
  t.is(error?.code, 'E_RESULT_SHAPE');
  t.regex(error?.message ?? '', /Result "files" \(.*\/files\), declared an array, expected a string .* in element \[1\]/);
  t.regex(error?.message ?? '', /holds a notice instead of a reference/);
  t.regex(await readFile(join(volume.resultsDir, 'files'), 'utf8'), /not sealed|refused/i);
});

async function script(volume: TempVolume, text: string): Promise<string> {
  const path = join(volume.scriptsDir, 'script-0-s');
  await writeFile(path, text);
  await chmod(path, 0o755);
  return path;
}

function substituteOptions(volume: TempVolume, refs: string, selectors: string): SubstituteOptions {
  return {
    root: volume.root, runDir: RUN_DIR, scriptsDir: volume.scriptsDir, maxSubstituted: 1 << 30,
    refs, refLabels: `${PRODUCER}/image ${PRODUCER}/files`, selectors, log: () => undefined, warn: () => undefined,
  };
}

function token(selector: Selector, reference: string): string {
  return selectorToken(selector, reference);
}

test('a consumer script gets exactly the selected elements; an undeclared selector is left as text', async (t) => {
  const volume = await makeVolume(t);
  const image = await writeResult(volume, 'image', '{"url":"registry/app","digest":"sha256:\\u00e9"}');
  const files = await writeResult(volume, 'files', '["a.txt","it\'s b.txt"]');
  const refs = `${PRODUCER}/image=${image} ${PRODUCER}/files=${files}`;
  const undeclared = token({ index: 0 }, files);
  const path = await script(
    volume,
    `#!/bin/sh\ncat <<'E'\n${token({ key: 'url' }, image)}@${token({ key: 'digest' }, image)}\n${token({ index: 1 }, files)}\n${undeclared}\n${image}\nE\n`,
  );
  await substituteScripts(substituteOptions(volume, refs, `${PRODUCER}/image.url ${PRODUCER}/image.digest ${PRODUCER}/files[1]`));
  // The undeclared selector's inner reference is declared, so that part is the whole value.
  t.is(
    await readFile(path, 'utf8'),
    `#!/bin/sh\ncat <<'E'\nregistry/app@sha256:\u00e9\nit's b.txt\n[[tlr:select:[0]:["a.txt","it's b.txt"]]]\n{"url":"registry/app","digest":"sha256:\\u00e9"}\nE\n`,
  );
});

test('a selected element goes through the here-document guard, and a changed file is a digest mismatch', async (t) => {
  const volume = await makeVolume(t);
  const image = await writeResult(volume, 'image', '{"url":"x\\nE\\nrm -rf /"}');
  const files = await writeResult(volume, 'files', '["a"]');
  const refs = `${PRODUCER}/image=${image} ${PRODUCER}/files=${files}`;
  const path = await script(volume, `#!/bin/sh\ncat <<'E'\n${token({ key: 'url' }, image)}\nE\n`);
  const before = await readFile(path);
  const guard = await t.throwsAsync(substituteScripts(substituteOptions(volume, refs, `${PRODUCER}/image.url`)));
  t.regex(guard?.message ?? '', /delimiter|here-document/);
  t.deepEqual(await readFile(path), before);

  // Same size, other valid JSON: the selection would succeed, the digest does not.
  await writeFile(join(volume.producerDir, 'image'), '{"url":"y\\nE\\nrm -rf /"}');
  const changed = await script(volume, `#!/bin/sh\necho ${token({ key: 'url' }, image)}\n`);
  const mismatch = await t.throwsAsync(substituteScripts(substituteOptions(volume, refs, `${PRODUCER}/image.url`)), { instanceOf: TlrError });
  t.is(mismatch?.code, 'E_DIGEST_MISMATCH');
  t.notRegex(await readFile(changed, 'utf8'), /y\\n/);
});

test('TLR_SELECTORS naming a result the task does not use, or malformed, is refused', async (t) => {
  const volume = await makeVolume(t);
  const image = await writeResult(volume, 'image', '{"url":"u"}');
  const files = await writeResult(volume, 'files', '[]');
  const refs = `${PRODUCER}/image=${image} ${PRODUCER}/files=${files}`;
  await script(volume, '#!/bin/sh\necho\n');
  for (const bad of ['other/image.url', `${PRODUCER}/image`, `${PRODUCER}/image.$x`]) {
    const error = await t.throwsAsync(substituteScripts(substituteOptions(volume, refs, bad)));
    t.regex(error?.message ?? '', /TLR_SELECTORS/, bad);
  }
});

test('selectElement passes on the source\'s failure after the selection (the real cause is reported)', async (t) => {
  async function* source(): AsyncGenerator<Buffer> {
    await Promise.resolve();
    yield Buffer.from('{"a":');
    yield Buffer.from('1}');
    throw new TlrError('E_DIGEST_MISMATCH', 'changed');
  }
  const chunks = selectElement(source(), { type: 'object', subject: 'r', select: { key: 'a' } });
  const error = await t.throwsAsync(async () => {
    for await (const _ of chunks) void _;
  });
  t.is((error as TlrError).code, 'E_DIGEST_MISMATCH');
});

test('an element used counts its own bytes against --max-substituted, not the whole value; over it, refused with no script changed', async (t) => {
  const volume = await makeVolume(t);
  const big = 'x'.repeat(2 * 1024 * 1024);
  const image = await writeResult(volume, 'image', JSON.stringify({ url: 'registry/app', layers: big }));
  const files = await writeResult(volume, 'files', '["a"]');
  const refs = `${PRODUCER}/image=${image} ${PRODUCER}/files=${files}`;
  const limited = (limit: number, selectors: string): SubstituteOptions => ({ ...substituteOptions(volume, refs, selectors), maxSubstituted: limit });

  // A small key of a 2 MiB object, under a 64 KiB limit: the object is read (and verified) whole, 12 bytes are written.
  const path = await script(volume, `#!/bin/sh\ncat <<'E'\n${token({ key: 'url' }, image)}\nE\n`);
  await substituteScripts(limited(64 * 1024, `${PRODUCER}/image.url`));
  t.is(await readFile(path, 'utf8'), "#!/bin/sh\ncat <<'E'\nregistry/app\nE\n");

  // The large key is over it: refused as it is written, the script as it was, no temp file left.
  const large = await script(volume, `#!/bin/sh\ncat <<'E'\n${token({ key: 'layers' }, image)}\nE\n`);
  const before = await readFile(large);
  const error = await t.throwsAsync(substituteScripts(limited(64 * 1024, `${PRODUCER}/image.layers`)), { instanceOf: TlrError });
  t.is(error?.code, 'E_RESULT_TOO_LARGE');
  t.regex(error?.message ?? '', /would write more than 65536 bytes into its scripts: 0 bytes of elements written, then \d+ more bytes of element \.layers of result "image" of task "producer" \(run-[^)]+\/producer\/image\) in \S+script-0-s, over the limit of 65536 bytes \(config key maxSubstitutedSize\); no script was changed/);
  t.deepEqual(await readFile(large), before);
  t.deepEqual((await readdir(volume.scriptsDir)).filter((n) => n.startsWith('.')), []);

  // Whole values count first, before anything is written; elements then take what is left.
  await script(volume, `#!/bin/sh\ncat <<'E'\n${files}\n${token({ key: 'url' }, image)}\nE\n`);
  const both = await t.throwsAsync(substituteScripts(limited(10, `${PRODUCER}/image.url`)), { instanceOf: TlrError });
  t.regex(both?.message ?? '', /5 bytes of whole values \(1 × 5 bytes of run-[^)]+\/producer\/files in \S+\) and 0 bytes of elements written, then 12 more bytes of element \.url of result "image"/);
  await substituteScripts(limited(17, `${PRODUCER}/image.url`));
});

test('an element used again is not read again: small ones are kept from their first (verified) use, larger ones count their whole value again', async (t) => {
  const volume = await makeVolume(t);
  const image = await writeResult(volume, 'image', JSON.stringify({ url: 'registry/app', layers: 'y'.repeat(1536 * 1024), pad: 'z'.repeat(512 * 1024) }));
  const files = await writeResult(volume, 'files', '["a"]');
  const refs = `${PRODUCER}/image=${image} ${PRODUCER}/files=${files}`;
  const options = (limit: number, selectors: string): SubstituteOptions => ({ ...substituteOptions(volume, refs, selectors), maxSubstituted: limit });
  const url = token({ key: 'url' }, image);

  // 200 uses of a 12-byte key of a 2 MiB value under a 64 KiB limit: read once (200 reads would count 400 MiB).
  const path = await script(volume, `#!/bin/sh\ncat <<'E'\n${Array.from({ length: 200 }, () => url).join('\n')}\nE\n`);
  await substituteScripts(options(64 * 1024, `${PRODUCER}/image.url`));
  t.is(await readFile(path, 'utf8'), `#!/bin/sh\ncat <<'E'\n${Array.from({ length: 200 }, () => 'registry/app').join('\n')}\nE\n`);

  // A 1.5 MiB element twice: its 2 MiB value read a second time after 1.5 MiB written is over a 3.4 MiB limit.
  const layers = token({ key: 'layers' }, image);
  const twice = await script(volume, `#!/bin/sh\ncat <<'E'\n${layers}\n${layers}\nE\n`);
  const before = await readFile(twice);
  const error = await t.throwsAsync(substituteScripts(options(3_565_158, `${PRODUCER}/image.layers`)), { instanceOf: TlrError });
  t.is(error?.code, 'E_RESULT_TOO_LARGE');
  t.regex(error?.message ?? '', /would read run-[^ ]+\/producer\/image \(\d+ bytes\) once more for element \.layers of result "image" of task "producer" \(run-[^)]+\/producer\/image\) in \S+script-0-s, an element over 1048576 bytes used again: 0 bytes read again before it, with 1572864 bytes written, over the limit of 3565158 bytes .*no script was changed/);
  t.deepEqual(await readFile(twice), before);
  await substituteScripts(options(6 * 1024 * 1024, `${PRODUCER}/image.layers`));
  t.is((await readFile(twice)).length, before.length - 2 * layers.length + 2 * 1536 * 1024);
});
