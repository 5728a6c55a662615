/**
 * The test registry (test/support/node/oci-registry.ts) answers the pull side of the OCI Distribution API as Tekton's
 * entrypoint lookup (go-containerregistry) asks it: the ping, a manifest by tag and by digest with its media type and
 * Docker-Content-Digest, the config blob; anything else, pushes included, is refused. On the cluster, the catalog's
 * steps that name no command run through it (test/e2e-cluster/catalog.test.ts).
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeImageArchive } from '../../images/oci-archive.js';
import { handle, loadImage, servedName, type Repository } from '../support/node/oci-registry.js';

test('serves a built archive read-only: ping, manifest by tag and digest, config blob; 404 and 405 otherwise', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tlr-registry-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'rootfs'));
  await writeFile(join(dir, 'rootfs', 'hello'), 'hi\n');
  const archive = join(dir, 'image.tar');
  const written = await writeImageArchive({ ref: 'localhost/tlr-test/recorder:1', rootfs: join(dir, 'rootfs'), config: { Entrypoint: ['/tlr-recorder'] }, createdBy: 'test' }, archive);
  const repositories = new Map<string, Repository>();
  await loadImage(`${archive}=tlr-test/recorder:1`, repositories);
  const server = createServer((req, res) => handle(repositories, req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const ping = await fetch(`${base}/v2/`);
  t.is(ping.status, 200);
  t.is(ping.headers.get('docker-distribution-api-version'), 'registry/2.0');
  const byTag = await fetch(`${base}/v2/tlr-test/recorder/manifests/1`);
  t.is(byTag.status, 200);
  t.is(byTag.headers.get('content-type'), 'application/vnd.oci.image.manifest.v1+json');
  t.is(byTag.headers.get('docker-content-digest'), written.digest);
  const body = Buffer.from(await byTag.arrayBuffer());
  t.is(`sha256:${createHash('sha256').update(body).digest('hex')}`, written.digest, 'the bytes the digest names');
  const manifest = JSON.parse(body.toString()) as { config: { digest: string } };
  t.deepEqual(Buffer.from(await (await fetch(`${base}/v2/tlr-test/recorder/manifests/${written.digest}`)).arrayBuffer()), body);
  const head = await fetch(`${base}/v2/tlr-test/recorder/manifests/1`, { method: 'HEAD' });
  t.is(head.headers.get('content-length'), String(body.length));
  const config = JSON.parse(await (await fetch(`${base}/v2/tlr-test/recorder/blobs/${manifest.config.digest}`)).text()) as { config: { Entrypoint: string[] } };
  t.deepEqual(config.config.Entrypoint, ['/tlr-recorder'], 'what Tekton takes as the step command');

  t.is((await fetch(`${base}/v2/tlr-test/recorder/manifests/2`)).status, 404);
  t.is((await fetch(`${base}/v2/tlr-test/other/manifests/1`)).status, 404);
  t.is((await fetch(`${base}/v2/tlr-test/recorder/blobs/sha256:${'0'.repeat(64)}`)).status, 404);
  t.is((await fetch(`${base}/v2/tlr-test/recorder/manifests/1`, { method: 'PUT', body: '{}' })).status, 405);
  t.is(servedName('localhost/tlr-test/recorder:1'), '10.250.0.2:5000/tlr-test/recorder:1');
  t.throws(() => servedName('docker.io/library/bash:5'), { message: /expected a localhost\/ image name/ });
});
