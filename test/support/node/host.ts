/**
 * What a real node needs from this machine, checked before anything starts: Linux, root, the container runtime and
 * networking programs (Debian packages, installed here when missing), overlayfs and mounted cgroups. Every missing
 * piece is named, with what to do; nothing is skipped.
 */
import { spawnSync } from 'node:child_process';
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';

export class HostError extends Error {
  override readonly name = 'HostError';
}

/** Debian packages of the node's runtime, and a program each must provide. */
export const NODE_PACKAGES: Readonly<Record<string, string>> = {
  containerd: '/usr/bin/containerd',
  runc: '/usr/sbin/runc',
  'containernetworking-plugins': '/usr/lib/cni/bridge',
  nftables: '/usr/sbin/nft',
  iproute2: '/usr/bin/ip',
  'util-linux': '/usr/bin/nsenter',
  mount: '/usr/bin/mount',
  coreutils: '/usr/sbin/chroot',
  openssl: '/usr/bin/openssl',
};

/** Programs the harness runs, by absolute path (so a PATH without sbin cannot break it). */
export const PROGRAMS = {
  ip: '/usr/bin/ip', nsenter: '/usr/bin/nsenter', unshare: '/usr/bin/unshare', setpriv: '/usr/bin/setpriv',
  mount: '/usr/bin/mount', umount: '/usr/bin/umount', containerd: '/usr/bin/containerd', ctr: '/usr/bin/ctr',
  runc: '/usr/sbin/runc', nft: '/usr/sbin/nft', sh: '/bin/sh', sleep: '/usr/bin/sleep', stat: '/usr/bin/stat',
} as const;

export const CNI_BIN_DIR = '/usr/lib/cni';

async function executable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(() => true, () => false);
}

function installPackages(packages: readonly string[]): string | undefined {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = (): ReturnType<typeof spawnSync> =>
    spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { encoding: 'utf8', env });
  let result = install();
  if (result.status !== 0) {
    spawnSync('apt-get', ['update', '-qq'], { encoding: 'utf8', env });
    result = install();
  }
  return result.status === 0 ? undefined : `${String(result.stderr ?? '')}${String(result.error ?? '')}`.trim();
}

/** Throws a HostError naming everything missing; installs missing Debian packages first (as root). */
export async function checkHost(log: (line: string) => void = () => undefined): Promise<void> {
  if (process.platform !== 'linux') {
    throw new HostError(`a real node needs Linux (network and mount namespaces, cgroups, overlayfs); this is ${process.platform}`);
  }
  if (process.getuid?.() !== 0) {
    throw new HostError(
      'a real node needs root (it creates a network namespace, mounts, cgroups and runs containerd and the kubelet); ' +
        `this process runs as uid ${process.getuid?.()}. Run the suite as root (e.g. \`sudo npm test\`).`,
    );
  }
  const missing: string[] = [];
  for (const [pkg, program] of Object.entries(NODE_PACKAGES)) if (!(await executable(program))) missing.push(pkg);
  if (missing.length > 0) {
    log(`installing Debian packages for the test node: ${missing.join(' ')}…`);
    const failure = installPackages(missing);
    if (failure) throw new HostError(`the test node needs the Debian packages ${missing.join(' ')}; apt-get install failed:\n${failure}`);
  }
  const problems = await missingPieces();
  if (problems.length > 0) throw new HostError(`the test node cannot start; missing: ${problems.join('; ')}`);
}

async function missingPieces(): Promise<string[]> {
  const problems: string[] = [];
  for (const [name, program] of Object.entries(PROGRAMS)) if (!(await executable(program))) problems.push(`${name} (${program})`);
  for (const plugin of ['bridge', 'host-local', 'loopback', 'portmap']) {
    if (!(await executable(`${CNI_BIN_DIR}/${plugin}`))) problems.push(`CNI plugin ${CNI_BIN_DIR}/${plugin}`);
  }
  const filesystems = await readFile('/proc/filesystems', 'utf8').catch(() => '');
  if (!/\toverlay$/m.test(filesystems)) problems.push('overlayfs in the kernel (containerd\'s snapshotter)');
  const mounts = await readFile('/proc/self/mounts', 'utf8').catch(() => '');
  if (!/ cgroup2? /.test(mounts)) problems.push('mounted cgroups under /sys/fs/cgroup');
  return problems;
}
