/**
 * One cgroup per test cluster, `/<name>` in every mounted hierarchy (cgroup v1 controllers, or the v2 unified tree):
 * the harness puts every process it starts in `/<name>/system`, and the kubelet (`cgroupRoot: /<name>`) puts every
 * pod under `/<name>/kubepods`. So "the processes this cluster started" is exactly the set of pids in that subtree,
 * containerd's shims and the containers included, which is what cleanup kills, by pid, before removing the cgroups.
 */
import { mkdir, readdir, readFile, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const ROOT = '/sys/fs/cgroup';

/** The mounted hierarchies: `/sys/fs/cgroup/<controller>` (v1) or `/sys/fs/cgroup` itself (v2). */
export async function hierarchies(): Promise<string[]> {
  const mounts = await readFile('/proc/self/mounts', 'utf8');
  const found = new Set<string>();
  for (const line of mounts.split('\n')) {
    const [, mountPoint, type] = line.split(' ');
    if (!mountPoint?.startsWith(ROOT)) continue;
    if (type === 'cgroup' || type === 'cgroup2') found.add(mountPoint);
  }
  // In a hybrid layout the v2 tree (often /sys/fs/cgroup/unified) holds no controllers the kubelet uses; keep it all
  // the same: creating and removing an empty cgroup there is harmless, and a process in it is found like any other.
  return [...found].sort();
}

/**
 * Creates `/<name>`, `/<name>/system` and a root for each node's kubelet (`/<name>/<node>`) in every hierarchy;
 * returns the `cgroup.procs` files of `system`.
 */
export async function createClusterCgroup(name: string, nodes: readonly string[] = []): Promise<string[]> {
  const procs: string[] = [];
  for (const h of await hierarchies()) {
    for (const dir of [join(h, name), join(h, name, 'system'), ...nodes.map((n) => join(h, name, n))]) {
      await mkdir(dir, { recursive: true });
      await inheritCpuset(dir);
    }
    procs.push(join(h, name, 'system', 'cgroup.procs'));
  }
  return procs;
}

/** A new v1 cpuset cgroup has no CPUs or memory nodes (no process can join it) until they are copied from its parent. */
async function inheritCpuset(dir: string): Promise<void> {
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    const own = await readFile(join(dir, file), 'utf8').catch(() => undefined);
    if (own === undefined || own.trim() !== '') continue;
    await writeFile(join(dir, file), await readFile(join(dir, '..', file), 'utf8'));
  }
}

async function subtree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const below = await Promise.all(entries.filter((e) => e.isDirectory()).map((e) => subtree(join(dir, e.name))));
  return [dir, ...below.flat()];
}

/** Every pid in `/<name>` of any hierarchy. */
export async function pidsIn(name: string): Promise<number[]> {
  const pids = new Set<number>();
  for (const h of await hierarchies()) {
    for (const dir of await subtree(join(h, name))) {
      const text = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
      for (const line of text.split('\n')) if (line) pids.add(Number(line));
    }
  }
  return [...pids];
}

/** SIGKILLs every process in `/<name>` until none is left (a killed process's children may appear meanwhile). */
export async function killAll(name: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = await pidsIn(name);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (Date.now() > deadline) throw new Error(`processes still in cgroup /${name} after ${timeoutMs / 1000} s: ${pids.join(' ')}`);
    await sleep(100);
  }
}

/** Removes `/<name>` from every hierarchy, deepest first (they must be empty: killAll first). */
export async function removeClusterCgroup(name: string): Promise<void> {
  for (const h of await hierarchies()) {
    const dirs = (await subtree(join(h, name))).filter(Boolean);
    const exists = await stat(join(h, name)).then(() => true, () => false);
    if (!exists) continue;
    for (const dir of dirs.reverse()) {
      for (let attempt = 0; ; attempt++) {
        try {
          await rmdir(dir);
          break;
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') break;
          if (code !== 'EBUSY' || attempt >= 50) throw new Error(`cannot remove cgroup ${dir}: ${String(error)}`, { cause: error });
          await sleep(100); // a process that just died leaves the cgroup a moment later
        }
      }
    }
  }
}
