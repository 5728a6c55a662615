/**
 * `tlr fetch -o -`: the results on standard output, for a pipe (`| jq .`, `| tar x`). Nothing reaches stdout before it
 * was verified: each result is fetched (and checked against its size and sha256) into a private temporary
 * directory first, then copied out: one result as its bytes, several as a tar stream (tar-stream), one entry per
 * result named as `-o <dir>` would name its file. The temporary directory is removed whatever happens.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import { pack } from 'tar-stream';
import type { Fetched } from './fetch.js';

/** Runs `fetchInto` against a private directory, then writes what it fetched to `out`. */
export async function fetchToStream(out: Writable, fetchInto: (dir: string) => Promise<Fetched[]>): Promise<Fetched[]> {
  const dir = await mkdtemp(join(tmpdir(), 'tlr-fetch-'));
  try {
    const fetched = await fetchInto(dir);
    if (fetched.length === 1 && fetched[0] !== undefined) await pipeline(createReadStream(fetched[0].file), out, { end: false });
    else if (fetched.length > 1) await writeTar(out, fetched);
    return fetched;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function writeTar(out: Writable, fetched: readonly Fetched[]): Promise<void> {
  const tar = pack();
  const piped = pipeline(tar, out, { end: false });
  for (const f of fetched) {
    const { size, mtime } = await stat(f.file);
    const entry = tar.entry({ name: f.name, size, mode: 0o644, mtime });
    await pipeline(createReadStream(f.file), entry);
  }
  tar.finalize();
  await piped;
}
