/**
 * A read-only container registry for the test cluster (the OCI Distribution API's pull side: `GET /v2/`, manifests by
 * tag or digest, blobs), serving image archives of images/oci-archive.ts from memory. Tekton's controller asks a
 * registry for the entrypoint of a step's image when the step names no command (pkg/pod/entrypoint_lookup.go): on
 * this offline machine nothing else could answer. Run as a cluster component, inside the cluster's network namespace
 * only:
 *
 *   node dist/test/support/node/oci-registry.js --listen <ip>:<port> <archive>=<repository>:<tag>…
 *
 * Pushes, deletes and catalog listing are refused (405/404): the cluster only reads. One JSON line per request on
 * stdout; `listening on <address>` once it accepts connections.
 */
import { createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import tar from 'tar-stream';
import { REGISTRY_ADDRESS } from './netns.js';

/**
 * The images the test registry serves (images/recipes.ts names), each under its local name with `localhost` replaced
 * by REGISTRY_ADDRESS: the recorder, for catalog steps that name no command (test/catalog/on-cluster.ts).
 */
export const SERVED_IMAGES: ReadonlySet<string> = new Set(['recorder']);

/** `localhost/tlr-test/recorder:1` as the test registry serves it. */
export function servedName(ref: string): string {
  if (!ref.startsWith('localhost/')) throw new Error(`expected a localhost/ image name, found ${ref}`);
  return `${REGISTRY_ADDRESS}/${ref.slice('localhost/'.length)}`;
}

interface Manifest {
  readonly mediaType: string;
  readonly digest: string;
  readonly body: Buffer;
}

export interface Repository {
  readonly tags: Map<string, Manifest>;
  readonly manifests: Map<string, Manifest>;
  readonly blobs: Map<string, Buffer>;
}

interface IndexJson {
  readonly manifests?: ReadonlyArray<{ readonly mediaType?: string; readonly digest?: string }>;
}

/** The files of an OCI image-layout archive, by path. */
async function readArchive(file: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: unknown) => chunks.push(c as Buffer));
    stream.on('end', () => {
      if (header.type === 'file') files.set(header.name.replace(/^\.\//, ''), Buffer.concat(chunks));
      next();
    });
    stream.resume();
  });
  await pipeline(createReadStream(file), extract as unknown as Writable);
  return files;
}

/** The one manifest an archive's index.json names. */
function manifestOf(file: string, files: ReadonlyMap<string, Buffer>): Manifest {
  const index = JSON.parse(files.get('index.json')?.toString('utf8') ?? 'null') as IndexJson | null;
  const descriptor = index?.manifests?.length === 1 ? index.manifests[0] : undefined;
  const { digest, mediaType } = descriptor ?? {};
  if (digest === undefined || mediaType === undefined) throw new Error(`${file}: expected an index.json naming one manifest`);
  const body = files.get(`blobs/${digest.replace(':', '/')}`);
  if (body === undefined) throw new Error(`${file}: the manifest ${digest} is not among its blobs`);
  return { mediaType, digest, body };
}

/** Loads `<archive>=<repository>:<tag>` into `repositories`. */
export async function loadImage(spec: string, repositories: Map<string, Repository>): Promise<void> {
  const match = /^(.+)=([a-z0-9][a-z0-9._/-]*):([A-Za-z0-9_][A-Za-z0-9._-]{0,127})$/.exec(spec);
  if (!match) throw new Error(`expected <archive>=<repository>:<tag>, found ${JSON.stringify(spec)}`);
  const [, file, name, tag] = match as unknown as [string, string, string, string];
  const files = await readArchive(file);
  const manifest = manifestOf(file, files);
  const repository: Repository = repositories.get(name) ?? { tags: new Map(), manifests: new Map(), blobs: new Map() };
  repositories.set(name, repository);
  for (const [path, data] of files) {
    const blob = /^blobs\/sha256\/([0-9a-f]{64})$/.exec(path);
    if (blob) repository.blobs.set(`sha256:${blob[1]}`, data);
  }
  repository.tags.set(tag, manifest);
  repository.manifests.set(manifest.digest, manifest);
}

function error(res: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify({ errors: [{ code, message }] });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function send(req: IncomingMessage, res: ServerResponse, type: string, digest: string, body: Buffer): void {
  res.writeHead(200, { 'Content-Type': type, 'Content-Length': body.length, 'Docker-Content-Digest': digest });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Answers one request of the Distribution API's pull side. */
export function handle(repositories: ReadonlyMap<string, Repository>, req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
  const path = new URL(req.url ?? '/', 'http://registry').pathname;
  if (req.method !== 'GET' && req.method !== 'HEAD') return error(res, 405, 'UNSUPPORTED', 'this registry is read-only');
  if (path === '/v2/' || path === '/v2') {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 2 });
    res.end(req.method === 'HEAD' ? undefined : '{}');
    return;
  }
  const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(path);
  const repository = m ? repositories.get(m[1] as string) : undefined;
  if (!m || !repository) return error(res, 404, 'NAME_UNKNOWN', `no repository at ${path}`);
  const [, , kind, ref] = m as unknown as [string, string, string, string];
  if (kind === 'manifests') {
    const manifest = repository.tags.get(ref) ?? repository.manifests.get(ref);
    if (!manifest) return error(res, 404, 'MANIFEST_UNKNOWN', `no manifest ${ref}`);
    return send(req, res, manifest.mediaType, manifest.digest, manifest.body);
  }
  const blob = repository.blobs.get(ref);
  if (!blob) return error(res, 404, 'BLOB_UNKNOWN', `no blob ${ref}`);
  send(req, res, 'application/octet-stream', ref, blob);
}

async function main(argv: readonly string[]): Promise<void> {
  const listen = argv[0] === '--listen' ? argv[1] : undefined;
  const address = /^(\d+\.\d+\.\d+\.\d+):(\d+)$/.exec(listen ?? '');
  if (!address || argv.length < 3) throw new Error('usage: oci-registry.js --listen <ip>:<port> <archive>=<repository>:<tag>…');
  const repositories = new Map<string, Repository>();
  for (const spec of argv.slice(2)) await loadImage(spec, repositories);
  const server = createServer((req, res) => {
    res.on('finish', () => process.stdout.write(`${JSON.stringify({ method: req.method, url: req.url, status: res.statusCode })}\n`));
    handle(repositories, req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(address[2]), address[1], resolve);
  });
  process.stdout.write(`listening on ${listen}\n`);
  const stop = (): void => void server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`oci-registry: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
