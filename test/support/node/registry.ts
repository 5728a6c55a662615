/**
 * What each running test cluster changed on this machine, written down before it changes it, so that whatever ends
 * the process (a crash, SIGKILL, a CI timeout) the next cluster to start undoes it: `/run/tlr-node/<id>.json` per
 * cluster (its owner's pid, network namespace, cgroup, directory) and `/run/tlr-node/sysctls.json`, the host's
 * values of the kernel settings the kubelet changes, taken before the first cluster started and put back when the last
 * one is gone. (/run is a tmpfs: a reboot, which also resets sysctls, forgets them too.)
 */
import { readFile, readdir, rm, mkdir, writeFile, rename, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { killAll, removeClusterCgroup } from './cgroups.js';
import { deleteNetns } from './netns.js';

export const REGISTRY_DIR = process.env.TLR_NODE_REGISTRY ?? '/run/tlr-node';
const SYSCTLS_FILE = join(REGISTRY_DIR, 'sysctls.json');
/** containerd 1.6 keeps shim sockets here whatever its config says; clusters mount a tmpfs of their own over it. */
export const RUN_CONTAINERD = '/run/containerd';
/**
 * Where every kubelet puts its device-plugin socket, whatever its --root-dir (a constant in the kubelet): a tmpfs of
 * the cluster's own inside its mount namespace, over a directory made on the host if missing (removed when empty).
 */
export const DEVICE_PLUGINS = '/var/lib/kubelet/device-plugins';

/**
 * Host-wide (not per network namespace) kernel settings the kubelet sets at start (setupKernelTunables in
 * pkg/kubelet/cm/container_manager_linux.go, Kubernetes v1.35).
 */
export const HOST_SYSCTLS = [
  'vm/overcommit_memory', 'vm/panic_on_oom', 'kernel/panic', 'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys', 'kernel/keys/root_maxbytes',
] as const;

export interface ClusterRecord {
  readonly id: string;
  /** The process whose death means the cluster is abandoned (the test process or the dev-cluster keeper). */
  readonly owner: number;
  readonly netns: string;
  readonly cgroup: string;
  readonly dir: string;
  readonly startedAt: string;
}

async function atomicWrite(file: string, text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text);
  await rename(`${file}.tmp`, file);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function records(): Promise<ClusterRecord[]> {
  const names = await readdir(REGISTRY_DIR).catch(() => [] as string[]);
  const found: ClusterRecord[] = [];
  for (const name of names.filter((n) => n.endsWith('.json') && n !== 'sysctls.json')) {
    const text = await readFile(join(REGISTRY_DIR, name), 'utf8').catch(() => undefined);
    if (text) found.push(JSON.parse(text) as ClusterRecord);
  }
  return found;
}

async function readSysctl(key: string): Promise<string> {
  return (await readFile(`/proc/sys/${key}`, 'utf8')).trim();
}

export const recordFile = (id: string): string => join(REGISTRY_DIR, `${id}.json`);

/** Records the cluster, and the host's sysctls if no other cluster did already. */
export async function register(record: ClusterRecord): Promise<void> {
  await mkdir(REGISTRY_DIR, { recursive: true, mode: 0o700 });
  const saved = await readFile(SYSCTLS_FILE, 'utf8').catch(() => undefined);
  if (saved === undefined) {
    const values: Record<string, string> = {};
    for (const key of HOST_SYSCTLS) values[key] = await readSysctl(key);
    await atomicWrite(SYSCTLS_FILE, `${JSON.stringify(values, null, 2)}\n`);
  }
  await atomicWrite(join(REGISTRY_DIR, `${record.id}.json`), `${JSON.stringify(record, null, 2)}\n`);
}

/** Puts back the saved sysctls when no cluster is registered any more. Returns what it restored. */
async function restoreSysctlsIfLast(): Promise<Record<string, string>> {
  if ((await records()).length > 0) return {};
  const saved = await readFile(SYSCTLS_FILE, 'utf8').catch(() => undefined);
  if (saved === undefined) return {};
  const values = JSON.parse(saved) as Record<string, string>;
  for (const [key, value] of Object.entries(values)) {
    if ((await readSysctl(key)) !== value) await writeFile(`/proc/sys/${key}`, value);
  }
  await rm(SYSCTLS_FILE, { force: true });
  await rmdir(REGISTRY_DIR).catch(() => undefined);
  await rmdir(RUN_CONTAINERD).catch(() => undefined); // made by the first cluster; only removed when empty
  await rmdir(DEVICE_PLUGINS).catch(() => undefined);
  await rmdir(dirname(DEVICE_PLUGINS)).catch(() => undefined);
  return values;
}

/**
 * Undoes everything a cluster did, in order: kill its processes (by pid, from its cgroup), remove its cgroups, its
 * network namespace (its mount namespace dies with its last process) and its directory, then its record, then the
 * sysctls if it was the last one.
 */
export async function cleanUp(record: ClusterRecord): Promise<void> {
  await killAll(record.cgroup);
  await removeClusterCgroup(record.cgroup);
  await deleteNetns(record.netns);
  await rm(record.dir, { recursive: true, force: true });
  await rm(join(REGISTRY_DIR, `${record.id}.json`), { force: true });
  await restoreSysctlsIfLast();
}

/** Cleans up every cluster whose owner process is gone; returns their ids. */
export async function cleanUpAbandoned(log: (line: string) => void = () => undefined): Promise<string[]> {
  const cleaned: string[] = [];
  for (const record of await records()) {
    if (alive(record.owner)) continue;
    log(`cleaning up test cluster ${record.id}, left by process ${record.owner} (${record.dir})`);
    await cleanUp(record);
    cleaned.push(record.id);
  }
  await restoreSysctlsIfLast();
  return cleaned;
}
