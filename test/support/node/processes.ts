/**
 * Processes inside the cluster's namespaces. A holder process owns them: started with
 * `nsenter --net=<netns> unshare --mount --propagation private`, it makes `/` shared inside (the kubelet's mounts must
 * propagate into containers), mounts a tmpfs over the host paths containerd and the kubelet write to by design
 * (containerd 1.6 puts shim sockets in /run/containerd), then sleeps. Every component is then started with
 * `nsenter --target <holder> --mount --net`, so all of them share one mount namespace (`ip netns exec` would make a
 * new one per call, and tmpfs volumes would vanish).
 *
 * Each process is started through `setpriv --pdeathsig KILL` (it dies with the test process, however that ends) and a
 * shell that moves it into the cluster's cgroup before it execs the component, so cleanup finds everything it
 * started, shims and containers included (./cgroups.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROGRAMS } from './host.js';

const STOP_GRACE_MS = 10_000;

export class ComponentError extends Error {
  override readonly name = 'ComponentError';
}

export interface Namespaces {
  readonly netns: string;
  readonly holderPid: number;
  readonly cgroupProcs: readonly string[];
}

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly log: string;
  /** Resolves when the process has exited, with how. */
  readonly exited: Promise<string>;
}

const JOIN_CGROUP = 'for f in $TLR_CGROUP_PROCS; do echo $$ > "$f"; done; exec "$@"';
const HOLDER = `set -e
for f in $TLR_CGROUP_PROCS; do echo $$ > "$f"; done
${PROGRAMS.mount} --make-rshared /
for d in $TLR_TMPFS; do ${PROGRAMS.mount} -t tmpfs -o mode=0755,size=64m tlr-node "$d"; done
echo ready
exec ${PROGRAMS.sleep} infinity`;

function track(name: string, child: ChildProcess, log: string): Proc {
  const exited = new Promise<string>((resolve) => {
    child.once('error', (error) => resolve(`failed to start: ${error.message}`));
    child.once('exit', (code, signal) => resolve(signal ? `was killed by ${signal}` : `exited with code ${code}`));
  });
  return { name, child, log, exited };
}

function spawnLogged(name: string, logs: string, argv: readonly string[], env: NodeJS.ProcessEnv): Proc {
  const log = join(logs, `${name}.log`);
  const fd = openSync(log, 'a');
  const [file, ...args] = argv as [string, ...string[]];
  const child = spawn(file, args, { stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  child.unref(); // a forgotten stop() must not keep the test process alive: pdeathsig and cleanup take care of it
  return track(name, child, log);
}

/** Starts the holder and waits until its mounts are made. */
export async function startHolder(netns: string, cgroupProcs: readonly string[], tmpfs: readonly string[], logs: string): Promise<Proc> {
  const argv = [
    PROGRAMS.setpriv, '--pdeathsig', 'KILL', '--',
    PROGRAMS.nsenter, `--net=/run/netns/${netns}`, '--',
    PROGRAMS.unshare, '--mount', '--propagation', 'private', '--',
    PROGRAMS.sh, '-c', HOLDER,
  ];
  const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', TLR_CGROUP_PROCS: cgroupProcs.join(' '), TLR_TMPFS: tmpfs.join(' ') };
  const holder = spawnLogged('namespace-holder', logs, argv, env);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const text = await readFile(holder.log, 'utf8').catch(() => '');
    if (text.includes('ready')) return holder;
    const done = await Promise.race([holder.exited, sleep(50).then(() => undefined)]);
    if (done !== undefined || Date.now() > deadline) {
      throw new ComponentError(`the namespace holder ${done ?? 'did not get ready in 10 s'}:\n${await tail(holder)}`);
    }
  }
}

/** Starts `argv` inside the cluster's namespaces and cgroup, logging to `<logs>/<name>.log`. */
export function startComponent(ns: Namespaces, logs: string, name: string, argv: readonly string[], env: NodeJS.ProcessEnv = {}): Proc {
  const wrapped = [
    PROGRAMS.setpriv, '--pdeathsig', 'KILL', '--',
    PROGRAMS.nsenter, `--target=${ns.holderPid}`, '--mount', '--net', '--',
    PROGRAMS.sh, '-c', JOIN_CGROUP, name, ...argv,
  ];
  const base = { PATH: '/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root' };
  return spawnLogged(name, logs, wrapped, { ...base, ...env, TLR_CGROUP_PROCS: ns.cgroupProcs.join(' ') });
}

/** SIGTERM, then SIGKILL after a grace period. */
export async function stopProc(proc: Proc, graceMs = STOP_GRACE_MS): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  // Started unref'd: while we wait for its exit it must keep this process alive, or with nothing else pending Node
  // ends the test process with the wait unresolved (ava: "Promise returned by test never resolved").
  proc.child.ref();
  proc.child.kill('SIGTERM');
  const graceful = await Promise.race([proc.exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!graceful) {
    proc.child.kill('SIGKILL');
    await proc.exited;
  }
}

export async function tail(proc: Proc, lines = 30): Promise<string> {
  const text = await readFile(proc.log, 'utf8').catch(() => '');
  const last = text.trimEnd().split('\n').slice(-lines).join('\n  ');
  return `--- last lines of ${proc.log} ---\n  ${last || '(empty)'}`;
}

/**
 * Polls `probe` until it answers true; fails fast, naming the component and showing the end of its log, when one of
 * `watch` dies, or after `timeoutMs`.
 */
export async function waitFor(what: string, watch: readonly Proc[], probe: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  let died: Proc | undefined;
  for (const proc of watch) void proc.exited.then(() => (died ??= proc));
  const deadline = Date.now() + timeoutMs;
  let last: string;
  for (;;) {
    if (died) {
      throw new ComponentError(`${died.name} ${await died.exited} while waiting for ${what}\n${await tail(died)}`);
    }
    try {
      if (await probe()) return;
      last = 'not yet';
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) {
      const tails = await Promise.all(watch.map((p) => tail(p, 15)));
      throw new ComponentError(`timed out after ${timeoutMs / 1000} s waiting for ${what} (last: ${last})\n${tails.join('\n')}`);
    }
    await sleep(250);
  }
}
