/**
 * `tlr fetch -o -`: one result as its bytes, several as a tar stream, nothing written before every result was
 * fetched and verified, the temporary directory gone afterwards whatever happened.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { extract } from 'tar-stream';
import type { Fetched } from '../../src/fetch/fetch.js';
import { fetchToStream } from '../../src/fetch/to-stdout.js';

function sink(): { stream: Writable; bytes: () => Buffer } {
  const chunks: Buffer[] = [];
  const stream = new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c), cb()) });
  return { stream, bytes: () => Buffer.concat(chunks) };
}

/** Stands in for fetchResults: writes each result's file into the directory it is given. */
function fetcher(files: Record<string, Buffer>, seen: string[]): (dir: string) => Promise<Fetched[]> {
  return async (dir) => {
    seen.push(dir);
    const out: Fetched[] = [];
    for (const [name, data] of Object.entries(files)) {
      await writeFile(join(dir, name), data);
      out.push({ name, file: join(dir, name), bytes: data.length, sha256: '' });
    }
    return out;
  };
}

test('one result: exactly its bytes on the stream, the temporary directory removed', async (t) => {
  const data = Buffer.from([0, 1, 2, 255, 10, 13]);
  const out = sink();
  const seen: string[] = [];
  await fetchToStream(out.stream, fetcher({ 'build.sbom': data }, seen));
  t.deepEqual(out.bytes(), data);
  t.false(existsSync(seen[0] ?? ''), 'temporary directory removed');
});

test('several results: a tar stream with one entry per result, named as -o <dir> names the files', async (t) => {
  const files = { 'build.sbom': Buffer.from('{"a":1}\n'), 'scan.report': Buffer.alloc(70_000, 7) };
  const pass = new PassThrough();
  const entries: Record<string, Buffer> = {};
  const reading = new Promise<void>((resolve, reject) => {
    const x = extract();
    x.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => ((entries[header.name] = Buffer.concat(chunks)), next()));
    });
    x.on('finish', resolve);
    x.on('error', reject);
    pass.pipe(x);
  });
  await fetchToStream(pass, fetcher(files, []));
  pass.end();
  await reading;
  t.deepEqual(entries, files);
});

test('a failed fetch writes nothing to the stream and leaves no temporary directory', async (t) => {
  const out = sink();
  const seen: string[] = [];
  const failing = async (dir: string): Promise<Fetched[]> => {
    seen.push(dir);
    await writeFile(join(dir, 'x.partial'), 'partial');
    throw new Error('sha256 mismatch');
  };
  await t.throwsAsync(fetchToStream(out.stream, failing), { message: 'sha256 mismatch' });
  t.is(out.bytes().length, 0);
  t.false(existsSync(seen[0] ?? ''));
});
