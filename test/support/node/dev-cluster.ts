/**
 * `npm run dev-cluster -- <command>`: a real single-node Kubernetes cluster with Tekton v1.15.0 and Tekton Large
 * Results on this machine, like `kind`, for trying the project by hand. The end-to-end tests use the same code.
 *
 *   up [--nodes N] [--install kubernetes|tekton|tlr]   build what is missing, start it (a keeper process holds it)
 *   kubectl ARGS…                                      the cluster's kubectl, inside its network namespace
 *   exec CMD…                                          any command inside the namespace (KUBECONFIG set), e.g. tlr fetch
 *   status                                             where it is and how to reach it
 *   down                                               stop it and remove every trace
 *
 * Needs root and Linux (network namespaces, mounts, cgroups).
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { PROGRAMS } from './host.js';
import type { ClusterState } from './keeper.js';
import { REGISTRY_DIR } from './registry.js';

const STATE_DIR = process.env.TLR_DEV_CLUSTER_DIR ?? '/run/tlr-dev-cluster';
const STATE = join(STATE_DIR, 'state.json');
const LOG = join(STATE_DIR, 'keeper.log');
const KEEPER = fileURLToPath(new URL('./keeper.js', import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function state(): ClusterState | undefined {
  if (!existsSync(STATE)) return undefined;
  const s = JSON.parse(readFileSync(STATE, 'utf8')) as ClusterState;
  return alive(s.keeperPid) ? s : undefined;
}

function need(): ClusterState {
  const s = state();
  if (!s) {
    process.stderr.write('no dev cluster is running: start one with `npm run dev-cluster -- up`\n');
    process.exit(1);
  }
  return s;
}

function describe(s: ClusterState): string {
  return [
    `dev cluster ${s.id} (${s.install}, nodes ${s.nodes.join(', ')}), kept by process ${s.keeperPid}`,
    `  kubectl:  npm run dev-cluster -- kubectl get pods -A`,
    `  a shell:  npm run dev-cluster -- exec bash     (inside its network namespace, KUBECONFIG set)`,
    `  from this machine's loopback: KUBECONFIG=${s.kubeConfigPath} (${s.server})`,
    `  logs:     ${s.dir}/logs/`,
    `  stop:     npm run dev-cluster -- down`,
  ].join('\n');
}

async function up(args: string[]): Promise<void> {
  const running = state();
  if (running) {
    process.stdout.write(`already running\n${describe(running)}\n`);
    return;
  }
  await mkdir(STATE_DIR, { recursive: true, mode: 0o700 });
  const fd = openSync(LOG, 'w');
  const keeper = spawn(process.execPath, [KEEPER, STATE, ...args], { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  keeper.unref();
  process.stdout.write(`starting (log: ${LOG}); the first start builds Kubernetes, Tekton and the images (many minutes)…\n`);
  let shown = 0;
  for (;;) {
    const log = readFileSync(LOG, 'utf8');
    process.stdout.write(log.slice(shown));
    shown = log.length;
    const s = state();
    if (s) {
      process.stdout.write(`\n${describe(s)}\n`);
      return;
    }
    if (keeper.exitCode !== null || (keeper.pid !== undefined && !alive(keeper.pid))) {
      process.stderr.write(`\nthe dev cluster did not start (see above, and ${LOG})\n`);
      process.exit(1);
    }
    await sleep(500);
  }
}

async function down(): Promise<void> {
  const s = state();
  if (!s) {
    process.stdout.write(`no dev cluster is running${existsSync(REGISTRY_DIR) ? ' (leftovers of crashed clusters are cleaned up by the next start)' : ''}\n`);
    return;
  }
  process.kill(s.keeperPid, 'SIGTERM');
  while (alive(s.keeperPid)) await sleep(250);
  process.stdout.write(`dev cluster ${s.id} stopped and removed\n`);
}

function inNamespace(argv: string[]): never {
  const s = need();
  const env = { ...process.env, KUBECONFIG: s.inNamespaceKubeConfigPath, PATH: `${s.binaries.kubernetes}:${process.env.PATH ?? ''}` };
  const result = spawnSync(PROGRAMS.nsenter, [`--net=/run/netns/${s.netns}`, '--', ...argv], { stdio: 'inherit', env });
  process.exit(result.status ?? 1);
}

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case 'up':
    await up(rest);
    break;
  case 'down':
    await down();
    break;
  case 'status': {
    const s = state();
    process.stdout.write(s ? `${describe(s)}\n` : 'no dev cluster is running\n');
    break;
  }
  case 'kubectl':
    inNamespace([join(need().binaries.kubernetes, 'kubectl'), ...rest]);
    break;
  case 'exec':
    if (rest.length === 0) {
      process.stderr.write('usage: npm run dev-cluster -- exec CMD [ARGS…]\n');
      process.exit(2);
    }
    inNamespace(rest);
    break;
  default:
    process.stderr.write('usage: npm run dev-cluster -- up [--nodes N] [--install kubernetes|tekton|tlr] | kubectl ARGS… | exec CMD… | status | down\n');
    process.exit(2);
}
