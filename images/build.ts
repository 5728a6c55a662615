/**
 * Builds image archives from recipes (./recipes.ts): stage a root filesystem in a temporary directory, prove it works
 * by running its checks under chroot (root only), pack it as an OCI archive (./oci-archive.ts).
 */
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureGoBuild } from '../test/support/go-build.js';
import { execBuild, nodeBuild, tektonBuild } from '../test/support/go-builds.js';
import { writeImageArchive, type WrittenImage } from './oci-archive.js';
import type { BuildContext, ImageRecipe } from './recipes.js';
import { RootFs } from './rootfs.js';

const run = promisify(execFile);

export class ImageBuildError extends Error {
  override readonly name = 'ImageBuildError';
}

export interface BuildOptions {
  readonly projectDir: string;
  readonly outDir: string;
  readonly log: (line: string) => void;
  readonly env?: NodeJS.ProcessEnv;
}

export interface BuiltImage extends WrittenImage {
  readonly name: string;
  readonly group: ImageRecipe['group'];
}

const isRoot = (): boolean => process.getuid?.() === 0;

/** Installs missing Debian packages (root), or says which to install. */
export function ensureDebianPackages(packages: readonly string[], log: (line: string) => void): void {
  const missing: string[] = [];
  for (const pkg of new Set(packages)) {
    const status = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
    if (status.stdout !== 'install ok installed') missing.push(pkg);
  }
  if (missing.length === 0) return;
  if (!isRoot()) {
    throw new ImageBuildError(`these Debian packages are needed and missing: ${missing.join(' ')} (sudo apt-get install ${missing.join(' ')})`);
  }
  log(`installing Debian packages ${missing.join(' ')}…`);
  const install = (): ReturnType<typeof spawnSync> =>
    spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
      encoding: 'utf8', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  let result = install();
  if (result.status !== 0) {
    spawnSync('apt-get', ['update', '-qq'], { encoding: 'utf8' });
    result = install();
  }
  if (result.status !== 0) {
    throw new ImageBuildError(`apt-get install ${missing.join(' ')} failed:\n${String(result.stderr ?? '').trim()}`);
  }
}

async function context(options: BuildOptions, selected: readonly ImageRecipe[], scratch: string): Promise<BuildContext> {
  const pkg = JSON.parse(await readFile(join(options.projectDir, 'package.json'), 'utf8')) as { version: string };
  const needs = new Set(selected.map((r) => r.group));
  const goOptions = { log: options.log, ...(options.env ? { env: options.env } : {}) };
  const tekton = needs.has('tekton') ? (await ensureGoBuild(tektonBuild(), goOptions)).dir : '';
  const node = needs.has('cluster') ? (await ensureGoBuild(nodeBuild(), goOptions)).dir : '';
  const exec = needs.has('release') ? (await ensureGoBuild(execBuild(), goOptions)).dir : '';
  const nodeBinary = join(scratch, 'node');
  await copyFile(join(options.projectDir, 'node_modules/node/bin/node'), nodeBinary);
  // The `node` package's binary carries debug information (about 18 MB); the image does not need it.
  await run('strip', ['--strip-debug', nodeBinary]).catch(() => options.log('strip not found: the Node binary keeps its debug information'));
  return { projectDir: options.projectDir, version: pkg.version, goBinaries: { tekton, node, exec }, nodeBinary };
}

/** chroot(8), found on the host's PATH (the command itself runs with the image's environment). */
function chrootProgram(): string {
  const found = spawnSync('sh', ['-c', 'command -v chroot'], { encoding: 'utf8' }).stdout.trim();
  if (!found) throw new ImageBuildError('chroot(8) is not on PATH (Debian package coreutils); it runs each image\'s checks');
  return found;
}

function chrootRun(dir: string, argv: readonly string[], env: readonly string[]): { ok: boolean; output: string } {
  // Checks must leave the tree as staged (it is packed afterwards): no Python bytecode caches.
  const environment = { ...Object.fromEntries(env.map((e) => e.split(/=(.*)/s, 2) as [string, string])), PYTHONDONTWRITEBYTECODE: '1' };
  const result = spawnSync(chrootProgram(), [dir, ...argv], { encoding: 'utf8', env: environment, timeout: 60_000 });
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}`.trim() };
}

function check(recipe: ImageRecipe, fs: RootFs, log: (line: string) => void): void {
  if (!isRoot()) {
    log(`  ${recipe.name}: checks skipped (chroot needs root)`);
    return;
  }
  const env = recipe.config.Env ?? ['PATH=/usr/local/bin:/usr/bin:/bin'];
  for (const argv of recipe.checks ?? []) {
    const { ok, output } = chrootRun(fs.dir, argv, env);
    if (!ok) throw new ImageBuildError(`image ${recipe.ref}: \`${argv.join(' ')}\` failed inside the image:\n${output}`);
  }
  for (const argv of recipe.mustFail ?? []) {
    const { ok } = chrootRun(fs.dir, argv, env);
    if (ok) throw new ImageBuildError(`image ${recipe.ref}: \`${argv.join(' ')}\` ran inside the image, but the published image cannot run it`);
  }
}

interface CachedImage extends BuiltImage {
  /** The digest of the staged root filesystem and the image config: equal means the same archive. */
  readonly key: string;
}

/** Stages the image; packs and checks it only when its staged contents differ from the archive already there. */
async function buildOne(recipe: ImageRecipe, ctx: BuildContext, scratch: string, options: BuildOptions): Promise<BuiltImage> {
  const started = Date.now();
  const fs = new RootFs(join(scratch, recipe.name));
  await mkdir(fs.dir, { mode: 0o755 });
  await recipe.stage(fs, ctx);
  const staged = await fs.digest();
  const key = createHash('sha256').update(staged).update(JSON.stringify([recipe.ref, recipe.config, recipe.owners ?? {}])).digest('hex');
  const file = join(options.outDir, `${recipe.name}.tar`);
  const metaFile = `${file}.json`;
  const previous = await readFile(metaFile, 'utf8').then((t) => JSON.parse(t) as CachedImage, () => undefined);
  const unchanged = previous?.key === key && (await stat(file).then((s) => s.size === previous.size, () => false));
  let image: BuiltImage;
  if (previous && unchanged) {
    image = previous;
  } else {
    check(recipe, fs, options.log);
    if ((await fs.digest()) !== staged) throw new ImageBuildError(`image ${recipe.ref}: its checks changed the staged files`);
    const written = await writeImageArchive(
      { ref: recipe.ref, rootfs: fs.dir, config: recipe.config, createdBy: `tlr images: ${recipe.description}`, ...(recipe.owners ? { owners: recipe.owners } : {}) },
      file,
    );
    image = { ...written, name: recipe.name, group: recipe.group };
    await writeFile(metaFile, `${JSON.stringify({ ...image, key }, null, 2)}\n`);
  }
  await rm(fs.dir, { recursive: true, force: true });
  const mb = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;
  options.log(`  ${recipe.ref.padEnd(52)} ${mb(image.uncompressedSize).padStart(10)} (${mb(image.layerSize)} gzip) ` +
    `${image.digest.slice(0, 19)}… ${unchanged ? 'unchanged' : `${Date.now() - started} ms`}`);
  return image;
}

export async function buildImages(selected: readonly ImageRecipe[], options: BuildOptions): Promise<BuiltImage[]> {
  ensureDebianPackages(selected.flatMap((r) => r.debianPackages), options.log);
  await mkdir(options.outDir, { recursive: true });
  const scratch = await mkdtemp(join(tmpdir(), 'tlr-images-'));
  try {
    const ctx = await context(options, selected, scratch);
    const built: BuiltImage[] = [];
    for (const recipe of selected) built.push(await buildOne(recipe, ctx, scratch, options));
    await writeFile(join(options.outDir, 'images.json'), `${JSON.stringify(built.map(({ name, ref, group, digest, size, file }) => ({ name, ref, group, digest, size, file })), null, 2)}\n`);
    return built;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
