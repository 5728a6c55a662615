/**
 * Writes a container image as an OCI image-layout archive (a tar of `oci-layout`, `index.json` and `blobs/sha256/…`),
 * without a container engine: one gzip layer made from a root filesystem directory, an image config, a manifest.
 * `ctr images import`, `skopeo copy oci-archive:…`, `podman load` and Docker ≥ 25 `docker load` read it.
 *
 * Builds are reproducible: entries are sorted, owned by root (or as given), and stamped with one fixed time, so the
 * same inputs give the same digests.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, readdir, readlink, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';

/** 2024-01-01T00:00:00Z: a fixed modification time for every entry and the config's `created`. */
export const EPOCH = new Date('2024-01-01T00:00:00Z');

export interface ImageConfig {
  readonly User?: string;
  readonly Env?: readonly string[];
  readonly Entrypoint?: readonly string[];
  readonly Cmd?: readonly string[];
  readonly WorkingDir?: string;
  readonly Labels?: Readonly<Record<string, string>>;
}

export interface ImageSpec {
  /** Full reference the image is imported as, e.g. `docker.io/library/bash:5.2`. */
  readonly ref: string;
  /** The root filesystem to pack (everything is packed as owned by root unless `owners` says otherwise). */
  readonly rootfs: string;
  readonly config: ImageConfig;
  /** Owner overrides by path inside the image (`/tmp` → 0:0 is the default anyway). */
  readonly owners?: Readonly<Record<string, { uid: number; gid: number }>>;
  /** What the layer is, for the image history. */
  readonly createdBy: string;
}

export interface WrittenImage {
  readonly ref: string;
  readonly file: string;
  /** The manifest's digest (what a registry would answer for the tag). */
  readonly digest: string;
  /** The archive's size in bytes. */
  readonly size: number;
  readonly layerSize: number;
  readonly uncompressedSize: number;
}

interface Blob {
  readonly digest: string;
  readonly size: number;
  readonly data?: Buffer;
  readonly file?: string;
}

function jsonBlob(value: unknown): Blob & { data: Buffer } {
  const data = Buffer.from(JSON.stringify(value));
  return { digest: `sha256:${createHash('sha256').update(data).digest('hex')}`, size: data.length, data };
}

/** A stream stage that hashes and counts what passes through it. */
class Tap extends Transform {
  readonly hash: Hash = createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    done(null, chunk);
  }
}

/** Walks `root` depth first in byte order of names, yielding paths relative to it (`usr`, `usr/bin`, …). */
async function* walk(root: string, prefix = ''): AsyncGenerator<string> {
  const names = (await readdir(join(root, prefix))).sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : 1));
  for (const name of names) {
    const rel = prefix ? `${prefix}/${name}` : name;
    yield rel;
    if ((await lstat(join(root, rel))).isDirectory()) yield* walk(root, rel);
  }
}

async function addEntry(pack: tar.Pack, spec: ImageSpec, rel: string): Promise<void> {
  const path = join(spec.rootfs, rel);
  const info = await lstat(path);
  const owner = spec.owners?.[`/${rel}`] ?? { uid: 0, gid: 0 };
  const header = { name: rel, mode: info.mode & 0o7777, uid: owner.uid, gid: owner.gid, mtime: EPOCH, uname: '', gname: '' };
  if (info.isDirectory()) {
    pack.entry({ ...header, name: `${rel}/`, type: 'directory' });
  } else if (info.isSymbolicLink()) {
    pack.entry({ ...header, type: 'symlink', linkname: await readlink(path) });
  } else if (info.isFile()) {
    await new Promise<void>((resolve, reject) => {
      const entry = pack.entry({ ...header, type: 'file', size: info.size }, (error) => (error ? reject(error) : resolve()));
      createReadStream(path).on('error', reject).pipe(entry);
    });
  } else {
    throw new Error(`${path}: only directories, regular files and symlinks can go into an image`);
  }
}

/** Packs the rootfs into `file` as a gzip tar layer; returns its digest, size and uncompressed digest (diff_id). */
async function writeLayer(spec: ImageSpec, file: string): Promise<Blob & { diffId: string; uncompressed: number }> {
  const pack = tar.pack();
  const raw = new Tap();
  const compressed = new Tap();
  const written = pipeline(pack, raw, createGzip({ level: 6 }), compressed, createWriteStream(file));
  try {
    for await (const rel of walk(spec.rootfs)) await addEntry(pack, spec, rel);
    pack.finalize();
  } catch (error) {
    pack.destroy(error as Error);
    await written.catch(() => undefined);
    throw error;
  }
  await written;
  return {
    digest: `sha256:${compressed.hash.digest('hex')}`, size: compressed.bytes, file,
    diffId: `sha256:${raw.hash.digest('hex')}`, uncompressed: raw.bytes,
  };
}

/** The tag part of a reference (`5.2` of `docker.io/library/bash:5.2`). */
function tagOf(ref: string): string {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon <= slash) throw new Error(`image reference ${ref} has no tag`);
  return ref.slice(colon + 1);
}

export async function writeImageArchive(spec: ImageSpec, file: string): Promise<WrittenImage> {
  const layerFile = `${file}.layer`;
  try {
    const layer = await writeLayer(spec, layerFile);
    const config = jsonBlob({
      created: EPOCH.toISOString(), architecture: 'amd64', os: 'linux', config: spec.config,
      rootfs: { type: 'layers', diff_ids: [layer.diffId] },
      history: [{ created: EPOCH.toISOString(), created_by: spec.createdBy }],
    });
    const manifest = jsonBlob({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer.digest, size: layer.size }],
    });
    const index = {
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{
        mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifest.digest, size: manifest.size,
        platform: { architecture: 'amd64', os: 'linux' },
        // As `ctr images export` writes them: the full name for containerd, the tag for OCI tools (skopeo, podman).
        annotations: { 'io.containerd.image.name': spec.ref, 'org.opencontainers.image.ref.name': tagOf(spec.ref) },
      }],
    };
    await writeArchive(file, [config, manifest, layer], index);
    return {
      ref: spec.ref, file, digest: manifest.digest, size: (await stat(file)).size,
      layerSize: layer.size, uncompressedSize: layer.uncompressed,
    };
  } finally {
    await rm(layerFile, { force: true });
  }
}

async function writeArchive(file: string, blobs: readonly Blob[], index: unknown): Promise<void> {
  const partial = `${file}.partial`;
  const pack = tar.pack();
  const out = new PassThrough();
  const written = pipeline(pack, out, createWriteStream(partial));
  const header = { mode: 0o644, mtime: EPOCH, uid: 0, gid: 0 };
  pack.entry({ ...header, name: 'oci-layout' }, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  pack.entry({ ...header, name: 'index.json' }, JSON.stringify(index));
  pack.entry({ ...header, name: 'blobs/', type: 'directory', mode: 0o755 });
  pack.entry({ ...header, name: 'blobs/sha256/', type: 'directory', mode: 0o755 });
  for (const blob of blobs) {
    const name = `blobs/sha256/${blob.digest.slice('sha256:'.length)}`;
    if (blob.data) {
      pack.entry({ ...header, name }, blob.data);
    } else if (blob.file) {
      const source = blob.file;
      await new Promise<void>((resolve, reject) => {
        const entry = pack.entry({ ...header, name, size: blob.size }, (error) => (error ? reject(error) : resolve()));
        createReadStream(source).on('error', reject).pipe(entry);
      });
    }
  }
  pack.finalize();
  await written;
  await rename(partial, file);
}
