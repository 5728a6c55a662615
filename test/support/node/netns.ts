/**
 * The cluster's network: one network namespace made for it (`ip netns add`), holding `lo`, a bridge `node0` carrying
 * the nodes' IPs (there is no `dummy` module on these machines) and, made by the CNI bridge plugin, one pod bridge
 * per node. No default route, no NAT, no link to the host's namespace: nothing in it can send a packet anywhere but
 * to addresses inside it. The test process reaches the API server through a Unix socket (./forward.ts).
 */
import { execFile } from 'node:child_process';
import { readdir, rmdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import { PROGRAMS } from './host.js';

const run = promisify(execFile);

export const NODE_BRIDGE = 'node0';
export const NODE_SUBNET_PREFIX = 24;
/** Node n (0-based) has IP 10.250.0.(2+n) and pod subnet 10.244.n.0/24. */
export const nodeIp = (n: number): string => `10.250.0.${2 + n}`;
/**
 * The test registry (./oci-registry.ts): on node 0's IP, which every node and pod reaches. An address Tekton's
 * go-containerregistry speaks plain HTTP to (a private, RFC 1918 one), as it does to no public registry.
 */
export const REGISTRY_ADDRESS = `${nodeIp(0)}:5000`;
export const podSubnet = (n: number): string => `10.244.${n}.0/24`;
export const POD_CIDR = '10.244.0.0/16';
export const NODE_CIDR = '10.250.0.0/24';
export const SERVICE_CIDR = '10.96.0.0/24';
/** The `kubernetes` Service's ClusterIP: the first address of SERVICE_CIDR. */
export const API_SERVICE_IP = '10.96.0.1';

async function ip(...args: string[]): Promise<string> {
  try {
    return (await run(PROGRAMS.ip, args)).stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    throw new Error(`ip ${args.join(' ')} failed: ${stderr.trim()}`, { cause: error });
  }
}

export async function netnsExists(name: string): Promise<boolean> {
  return (await ip('netns', 'list')).split('\n').some((line) => line.split(' ')[0] === name);
}

/** Creates the namespace with `lo` up and `node0` carrying the IPs of `nodes` nodes. */
export async function createNetns(name: string, nodes: number): Promise<void> {
  await ip('netns', 'add', name);
  await ip('-n', name, 'link', 'set', 'lo', 'up');
  await ip('-n', name, 'link', 'add', NODE_BRIDGE, 'type', 'bridge');
  for (let n = 0; n < nodes; n++) await ip('-n', name, 'addr', 'add', `${nodeIp(n)}/${NODE_SUBNET_PREFIX}`, 'dev', NODE_BRIDGE);
  await ip('-n', name, 'link', 'set', NODE_BRIDGE, 'up');
}

/** The routes of the namespace, for a test to show there is no way out. */
export async function routes(name: string): Promise<string> {
  return ip('-n', name, 'route', 'show', 'table', 'all');
}

/** Deletes the namespace; when no namespace is left, undoes the /run/netns bind mount `ip netns add` made. */
export async function deleteNetns(name: string): Promise<void> {
  if (await netnsExists(name)) await ip('netns', 'delete', name);
  const left = await readdir('/run/netns').catch(() => undefined);
  if (left && left.length === 0) {
    await run(PROGRAMS.umount, ['/run/netns']).catch(() => undefined);
    await rmdir('/run/netns').catch(() => undefined);
  }
}
