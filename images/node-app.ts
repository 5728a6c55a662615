/**
 * What of the project goes into an image: compiled JavaScript from dist/ and production packages from node_modules,
 * found the way `npm prune --omit=dev` and Node's resolver would find them, without copying the source maps, type
 * declarations or anything a program does not load.
 */
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join, posix, relative, resolve } from 'node:path';
import type { RootFs } from './rootfs.js';

interface LockPackage {
  readonly dev?: boolean;
  readonly optional?: boolean;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly optionalDependencies?: Readonly<Record<string, string>>;
}

interface Lockfile {
  readonly packages: Readonly<Record<string, LockPackage>>;
}

const NOT_SHIPPED = /\.(map|d\.ts|d\.mts|d\.cts)$/;

export async function readLockfile(projectDir: string): Promise<Lockfile> {
  return JSON.parse(await readFile(join(projectDir, 'package-lock.json'), 'utf8')) as Lockfile;
}

/** Every package `npm ci --omit=dev` installs (lockfile paths such as `node_modules/yaml`). */
export function productionPackages(lock: Lockfile): string[] {
  return Object.entries(lock.packages).filter(([path, p]) => path !== '' && !p.dev).map(([path]) => path).sort();
}

/** Where Node finds package `name` from lockfile path `from`: the nearest node_modules up the tree, as npm laid it out. */
function locate(lock: Lockfile, from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const candidate = base ? `${base}/node_modules/${name}` : `node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (!base) return undefined;
    const up = base.lastIndexOf('/node_modules/');
    base = up < 0 ? '' : base.slice(0, up);
  }
}

/** `names` (bare imports of the project's code) and everything they depend on, as lockfile paths. */
export function packageClosure(lock: Lockfile, names: Iterable<string>): string[] {
  const found = new Set<string>();
  const queue: Array<[from: string, name: string]> = [...names].map((n) => ['', n]);
  for (let item = queue.shift(); item; item = queue.shift()) {
    const [from, name] = item;
    const path = locate(lock, from, name);
    if (!path) throw new Error(`package ${name} (needed from ${from || 'the project'}) is not in package-lock.json`);
    if (found.has(path)) continue;
    found.add(path);
    const pkg = lock.packages[path] ?? {};
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) queue.push([path, dep]);
  }
  return [...found].sort();
}

const IMPORT = /(?:^|[\s;})])(?:import|export)\s*(?:[^'"`;]*?\s*from\s*)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The package name of a bare specifier (`commander`, `@kubernetes/client-node` of `@kubernetes/client-node/x`). */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/**
 * The JavaScript files `entry` loads (itself included), following relative static and literal dynamic imports,
 * and the packages it imports by name. Node's built-ins (`node:…`) are neither.
 */
export async function importClosure(entry: string): Promise<{ files: string[]; packages: string[] }> {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [resolve(entry)];
  for (let file = queue.shift(); file; file = queue.shift()) {
    if (files.has(file)) continue;
    files.add(file);
    const source = await readFile(file, 'utf8');
    for (const match of source.matchAll(IMPORT)) {
      const specifier = match[1] ?? match[2];
      if (!specifier || specifier.startsWith('node:')) continue;
      if (specifier.startsWith('.')) queue.push(resolve(dirname(file), specifier));
      else packages.add(packageName(specifier));
    }
  }
  return { files: [...files].sort(), packages: [...packages].sort() };
}

/** Copies project files (absolute paths under `projectDir`) to the same relative paths under `appDir` in the image. */
export async function copyProjectFiles(fs: RootFs, projectDir: string, files: Iterable<string>, appDir: string): Promise<void> {
  for (const file of files) {
    if (NOT_SHIPPED.test(file)) continue;
    await fs.copyFileAs(file, posix.join(appDir, relative(projectDir, file)), 0o644);
  }
}

/** Copies every JavaScript file under `dir` (a dist/ folder), without source maps. */
export async function javascriptUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.js')).map((e) => join(e.parentPath, e.name)).sort();
}

/** Copies the packages (lockfile paths) from the project's node_modules into `appDir`, without maps and typings. */
export async function copyPackages(fs: RootFs, projectDir: string, packages: Iterable<string>, appDir: string): Promise<void> {
  for (const pkg of packages) {
    const source = join(projectDir, pkg);
    const entries = await readdir(source, { recursive: true, withFileTypes: true });
    for (const entry of entries) {
      const file = join(entry.parentPath, entry.name);
      // A nested node_modules holds other lockfile packages, copied (or not) on their own.
      if (!entry.isFile() || NOT_SHIPPED.test(entry.name) || relative(source, file).split('/').includes('node_modules')) continue;
      await fs.copyFileAs(file, posix.join(appDir, pkg, relative(source, file)));
    }
  }
}
