/**
 * A root filesystem staged in a directory, filled from this machine's Debian packages and files: every path is
 * copied the way the host resolves it (a symlink on the way, like Debian's `/lib64 -> usr/lib64`, is recreated as a
 * symlink), and ELF programs bring the shared libraries `ldd` says they load, so what is staged runs by itself (the
 * image command checks that by running it under chroot).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, open, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises';
import { isAbsolute, join, posix, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export class RootFsError extends Error {
  override readonly name = 'RootFsError';
}

/** Files of Debian packages that no image needs (documentation, manuals, translations, lintian overrides). */
const SKIPPED = [/^\/usr\/share\/(doc|man|info|lintian|locale|bug|menu)\//, /^\/usr\/share\/doc$/];

export class RootFs {
  constructor(readonly dir: string) {}

  /** The staged path of `path` (an absolute path inside the image). */
  at(path: string): string {
    if (!isAbsolute(path)) throw new RootFsError(`image paths are absolute, got ${path}`);
    return join(this.dir, posix.normalize(path));
  }

  async mkdir(path: string, mode = 0o755): Promise<void> {
    const staged = this.at(path);
    if (await exists(staged)) return;
    await this.mkdir(posix.dirname(path));
    await mkdir(staged);
    await chmod(staged, mode);
  }

  async writeFile(path: string, content: string | Buffer, mode = 0o644): Promise<void> {
    await this.mkdir(posix.dirname(path));
    await writeFile(this.at(path), content);
    await chmod(this.at(path), mode);
  }

  async symlink(path: string, target: string): Promise<void> {
    await this.mkdir(posix.dirname(path));
    if (!(await exists(this.at(path)))) await symlink(target, this.at(path));
  }

  /** Copies a host file to `as` (default: the same path), with its mode. */
  async copyFileAs(hostPath: string, as: string, mode?: number): Promise<void> {
    await this.mkdir(posix.dirname(as));
    await copyFile(hostPath, this.at(as));
    await chmod(this.at(as), mode ?? ((await lstat(hostPath)).mode & 0o7777));
  }

  /** Copies `hostPath` into the same place, recreating every symlink met on the way as the host has it. */
  async copyHostPath(hostPath: string, depth = 0): Promise<void> {
    if (depth > 40) throw new RootFsError(`${hostPath}: too many levels of symbolic links`);
    const parts = hostPath.split('/').filter(Boolean);
    let current = '/';
    for (const [i, part] of parts.entries()) {
      const next = posix.join(current, part);
      const info = await lstat(next).catch((cause: unknown) => {
        throw new RootFsError(`${next} (needed for ${hostPath}) does not exist on this machine`, { cause });
      });
      if (info.isSymbolicLink()) {
        const target = await readlink(next);
        await this.symlink(next, target);
        const resolved = posix.resolve(posix.dirname(next), target);
        return this.copyHostPath(posix.join(resolved, ...parts.slice(i + 1)), depth + 1);
      }
      if (info.isDirectory()) {
        await this.mkdir(next, info.mode & 0o7777);
      } else if (i === parts.length - 1 && info.isFile()) {
        if (!(await exists(this.at(next)))) await this.copyFileAs(next, next, info.mode & 0o7777);
      } else {
        throw new RootFsError(`${next}: not a directory, regular file or symlink`);
      }
      current = next;
    }
  }

  /** Every file of these installed Debian packages (without documentation), then their programs' libraries. */
  async addDebianPackages(packages: readonly string[]): Promise<void> {
    for (const pkg of packages) {
      const { stdout } = await run('dpkg-query', ['-L', pkg]).catch((cause: unknown) => {
        throw new RootFsError(`Debian package ${pkg} is not installed (apt-get install ${pkg})`, { cause });
      });
      for (const path of stdout.split('\n').filter((p) => p.startsWith('/') && p !== '/.')) {
        if (SKIPPED.some((re) => re.test(path))) continue;
        const info = await lstat(path).catch(() => undefined);
        if (!info) continue; // listed but removed on this machine (a diversion, a file the package deletes on install)
        if (info.isDirectory()) continue; // directories come with the files in them
        await this.copyHostPath(path);
      }
    }
  }

  /** For every ELF program or library staged, the shared libraries and the loader it needs, as this machine has them. */
  async addElfDependencies(): Promise<void> {
    const seen = new Set<string>();
    for (;;) {
      const missing = new Set<string>();
      for (const file of await this.files()) {
        if (seen.has(file) || !(await isElf(this.at(file)))) continue;
        seen.add(file);
        for (const lib of await sharedLibraries(this.at(file))) {
          if (!(await exists(this.at(lib)))) missing.add(lib);
        }
      }
      if (missing.size === 0) return;
      for (const lib of missing) await this.copyHostPath(lib);
    }
  }

  /** Busybox's applets as symlinks in `dir`, where no file of that name exists yet (as Alpine images have them). */
  async addBusyboxApplets(busybox: string, dir: string): Promise<void> {
    const { stdout } = await run(this.at(busybox), ['--list']);
    for (const applet of stdout.split('\n').filter(Boolean)) {
      if (applet !== 'busybox') await this.symlink(posix.join(dir, applet), busybox);
    }
  }

  /** A digest of everything staged: each path (sorted), its type, mode and content or link target. */
  async digest(): Promise<string> {
    const hash = createHash('sha256');
    const entries = await readdir(this.dir, { recursive: true, withFileTypes: true });
    const paths = entries.map((e) => posix.relative(this.dir, join(e.parentPath, e.name))).sort();
    for (const path of paths) {
      const full = join(this.dir, path);
      const info = await lstat(full);
      hash.update(`${path}\0${info.mode}\0`);
      if (info.isSymbolicLink()) hash.update(await readlink(full));
      else if (info.isFile()) hash.update(createHash('sha256').update(await readFile(full)).digest());
      hash.update('\0');
    }
    return hash.digest('hex');
  }

  /** Every regular file staged, as image paths. */
  async files(): Promise<string[]> {
    const entries = await readdir(this.dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => `/${posix.relative(this.dir, join(e.parentPath, e.name))}`);
  }
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(() => true, () => false);
}

async function isElf(path: string): Promise<boolean> {
  const handle = await open(path, constants.O_RDONLY);
  try {
    const magic = Buffer.alloc(4);
    const { bytesRead } = await handle.read(magic, 0, 4, 0);
    return bytesRead === 4 && magic.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    await handle.close();
  }
}

/** The absolute paths `ldd` prints for a dynamically linked ELF file (none for a static one). */
async function sharedLibraries(path: string): Promise<string[]> {
  let stdout: string;
  try {
    ({ stdout } = await run('ldd', [path]));
  } catch (error) {
    const out = `${(error as { stdout?: string }).stdout ?? ''}${(error as { stderr?: string }).stderr ?? ''}`;
    if (/not a dynamic executable|statically linked/.test(out)) return [];
    throw new RootFsError(`ldd ${path} failed: ${out.trim() || String(error)}`);
  }
  if (/statically linked/.test(stdout)) return [];
  const libs: string[] = [];
  for (const line of stdout.split('\n')) {
    const arrow = /=>\s+(\/\S+)/.exec(line);
    const direct = /^\s*(\/\S+)\s+\(0x/.exec(line);
    const lib = arrow?.[1] ?? direct?.[1];
    if (lib) libs.push(resolve(lib));
    if (/=>\s+not found/.test(line)) throw new RootFsError(`${path} needs ${line.trim()}`);
  }
  return libs;
}

