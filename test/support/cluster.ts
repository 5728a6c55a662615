/**
 * A real control plane for tests, envtest-style: etcd and kube-apiserver started as processes (binaries from
 * ./binaries.ts), a throwaway PKI made with the `openssl` CLI, an admin kubeconfig (client certificate in
 * `system:masters`), and helpers to act as other users, issue webhook serving certificates signed by the cluster CA,
 * install Tekton's CRDs and apply objects with strict field validation.
 *
 * No controllers, no scheduler, no kubelet: objects are stored and validated (schemas, admission webhooks, RBAC),
 * nothing runs. One cluster per test file (`test.before` / `test.after.always`); ava runs files in parallel processes.
 *
 * Processes never outlive the test process: an `exit` handler SIGKILLs them, and a small watchdog process (holding a
 * pipe from this one) kills them and removes the directory if this process dies without running handlers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  createConfiguration,
  Health,
  HttpMethod,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  ServerConfiguration,
  type KubernetesObject,
  type RequestContext,
  type ResponseContext,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { CLIENT_EXTENSIONS, createPki, issueCert, openssl, servingExtensions, subject, type Pki } from './pki.js';
import { CRD_DIR } from '../schema/tekton-release.js';
import { ensureBinaries } from './binaries.js';

const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 5_000;

export interface ClusterOptions {
  /** Install the Tekton v1.15.0 CRDs from `../shared/tekton/v1.15.0/crds` before returning (default true). */
  readonly tektonCrds?: boolean;
}

export interface ServingCert {
  readonly certPem: string;
  readonly keyPem: string;
  /** The cluster CA, for a webhook configuration's `clientConfig.caBundle`. */
  readonly caPem: string;
}

export interface ApplyOptions {
  /** Default `tlr-test`. */
  readonly fieldManager?: string;
  /** `fieldValidation=Strict`: unknown or duplicate fields are errors, not warnings (default true). */
  readonly strict?: boolean;
  /** Take over fields owned by other managers (default false, like `kubectl apply --server-side`). */
  readonly force?: boolean;
  /** Act as someone else, e.g. `cluster.kubeConfigAs(...)` (default: the admin). */
  readonly kubeConfig?: KubeConfig;
}

export interface TestCluster {
  /** Admin (`CN=admin, O=system:masters`, client certificate) with the cluster CA. */
  readonly kubeConfig: KubeConfig;
  /** The same admin kubeconfig as a file, for programs under test (`--kubeconfig`). */
  readonly kubeConfigPath: string;
  /** `https://127.0.0.1:<port>`. */
  readonly server: string;
  readonly caPem: string;
  readonly caCertPath: string;
  readonly caKeyPath: string;
  /** The cluster's temporary directory: PKI, etcd data, `etcd.log`, `kube-apiserver.log`. Removed by stop(). */
  readonly dir: string;
  readonly pids: { readonly etcd: number; readonly kubeApiserver: number };
  /**
   * A kubeconfig acting as `user`. Without `groups`, the admin impersonates `user` (Impersonate-User); for
   * `system:serviceaccount:<ns>:<name>` the API server adds the ServiceAccount groups itself. With `groups`, a
   * client certificate `CN=user, O=groups…` signed by the cluster CA is used instead, because client-node 2.0 sends
   * only one value per header and the API server reads each group from its own Impersonate-Group header.
   */
  kubeConfigAs(user: string, groups?: readonly string[]): KubeConfig;
  /** A serving certificate for `hosts` (IPs or DNS names) signed by the cluster CA, e.g. for a webhook under test. */
  issueServingCert(hosts: readonly string[]): Promise<ServingCert>;
  /** Applies every CRD in `../shared/tekton/v1.15.0/crds` and waits until each is Established and served. */
  installTektonCrds(): Promise<void>;
  /** Server-side applies each object (create instead when it has only `generateName`); returns what the server stored. */
  serverSideApply(objects: readonly KubernetesObject[], options?: ApplyOptions): Promise<KubernetesObject[]>;
  /** `serverSideApply` of every document in a multi-document YAML string. */
  applyYaml(yaml: string, options?: ApplyOptions): Promise<KubernetesObject[]>;
  /** SIGTERM, then SIGKILL after a grace period; removes `dir`. Safe to call twice. */
  stop(): Promise<void>;
}

export class ClusterError extends Error {
  override readonly name = 'ClusterError';
  constructor(readonly code: 'OPENSSL_FAILED' | 'START_FAILED' | 'TIMEOUT', message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export async function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  const binaries = await ensureBinaries();
  for (let attempt = 1; ; attempt++) {
    const dir = await mkdtemp(join(tmpdir(), 'tlr-cluster-'));
    try {
      const cluster = await boot(dir, binaries);
      try {
        if (options.tektonCrds ?? true) await cluster.installTektonCrds();
      } catch (error) {
        await cluster.stop();
        throw error;
      }
      return cluster;
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      // Free ports are picked by binding port 0 and closing it; another process may grab one before we use it.
      const portRace = error instanceof ClusterError && /address already in use/.test(error.message);
      if (!portRace || attempt >= 3) throw error;
    }
  }
}

// ---- processes ----

/** Children of this process that must not outlive it; killed by the `exit` handler below. */
const live = new Set<ChildProcess>();
let handlersInstalled = false;

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const killAll = (): void => {
    for (const child of live) child.kill('SIGKILL');
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      // Our listener is gone now: re-raise so the signal's default action (or other listeners) still apply.
      process.kill(process.pid, signal);
    });
  }
}

interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly log: string;
  /** Resolves when the process has exited, with how. */
  readonly exited: Promise<string>;
}

function launch(dir: string, name: string, file: string, args: string[]): Proc {
  installExitHandlers();
  const log = join(dir, `${name}.log`);
  const fd = openSync(log, 'a');
  const child = spawn(file, args, { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  live.add(child);
  child.unref(); // a test that forgets stop() must not hang its process; the exit handler kills the child
  const exited = new Promise<string>((resolve) => {
    child.once('error', (error) => resolve(`failed to start: ${error.message}`));
    child.once('exit', (code, signal) => resolve(signal ? `was killed by ${signal}` : `exited with code ${code}`));
  });
  void exited.then(() => live.delete(child));
  return { name, child, log, exited };
}

/**
 * A watchdog for when this process dies without running its exit handlers (SIGKILL, OOM): it reads a pipe from us;
 * at end-of-file it kills the control plane and removes the directory. stop() kills it first.
 */
function watchdog(pids: number[], dir: string): ChildProcess {
  const source = `const fs = require('node:fs');
process.stdin.resume();
process.stdin.on('end', () => {
  for (const pid of ${JSON.stringify(pids)}) { try { process.kill(pid, 'SIGKILL'); } catch {} }
  setTimeout(() => { fs.rmSync(${JSON.stringify(dir)}, { recursive: true, force: true }); process.exit(0); }, 500);
});`;
  const child = spawn(process.execPath, ['-e', source], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
  child.unref();
  (child.stdin as unknown as { unref(): void }).unref();
  return child;
}

async function terminate(proc: Proc): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGTERM');
  const graceful = await Promise.race([proc.exited.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]);
  if (!graceful) {
    proc.child.kill('SIGKILL');
    await proc.exited;
  }
}

async function logTail(proc: Proc, lines = 25): Promise<string> {
  const text = await readFile(proc.log, 'utf8').catch(() => '');
  const tail = text.trimEnd().split('\n').slice(-lines).join('\n  ');
  return `--- last lines of ${proc.log} ---\n  ${tail || '(empty)'}`;
}

/** `count` distinct ports nothing listens on now (bound to 0 together, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

function etcdArgs(dir: string, clientPort: number, peerPort: number): string[] {
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  return [
    '--name=default', `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=${client}`, `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`, `--initial-advertise-peer-urls=${peer}`, `--initial-cluster=default=${peer}`,
    '--unsafe-no-fsync=true', '--quota-backend-bytes=1073741824', '--log-level=warn',
  ];
}

function apiserverArgs(dir: string, pki: Pki, etcdPort: number, securePort: number): string[] {
  const file = (name: string): string => join(pki.dir, name);
  return [
    `--etcd-servers=http://127.0.0.1:${etcdPort}`,
    `--secure-port=${securePort}`, '--bind-address=127.0.0.1', '--advertise-address=127.0.0.1',
    `--cert-dir=${join(dir, 'apiserver-certs')}`,
    `--tls-cert-file=${file('apiserver.crt')}`, `--tls-private-key-file=${file('apiserver.key')}`,
    `--client-ca-file=${pki.caCert}`,
    '--authorization-mode=RBAC',
    `--service-account-key-file=${file('sa.pub')}`, `--service-account-signing-key-file=${file('sa.key')}`,
    '--service-account-issuer=https://kubernetes.default.svc',
    '--service-cluster-ip-range=10.0.0.0/24',
    '--allow-privileged=true',
    '--disable-admission-plugins=ServiceAccount',
    // The lease reconciler would publish 127.0.0.1 as the `kubernetes` Service's endpoint, which validation refuses.
    '--endpoint-reconciler-type=none',
    '--profiling=false',
  ];
}

// ---- waiting ----

/** Polls `probe` until true; fails fast with the logs' tails when a process dies, or after READY_TIMEOUT_MS. */
async function waitUntil(what: string, procs: readonly Proc[], probe: () => Promise<boolean>): Promise<void> {
  let died: Proc | undefined;
  for (const proc of procs) void proc.exited.then(() => (died ??= proc));
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last: string;
  for (;;) {
    if (died) {
      const tails = await Promise.all(procs.map((p) => logTail(p)));
      const how = await died.exited;
      throw new ClusterError('START_FAILED', `${died.name} ${how} while waiting for ${what}\n${tails.join('\n')}`);
    }
    try {
      if (await probe()) return;
      last = 'not yet';
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) {
      const tails = await Promise.all(procs.map((p) => logTail(p)));
      throw new ClusterError('TIMEOUT', `timed out after ${READY_TIMEOUT_MS / 1000} s waiting for ${what} (last: ${last})\n${tails.join('\n')}`);
    }
    await sleep(100);
  }
}

// ---- kubeconfigs and applying ----

interface Credentials {
  readonly name: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly impersonateUser?: string;
}

function makeKubeConfig(server: string, caPem: string, user: Credentials): KubeConfig {
  const b64 = (pem: string): string => Buffer.from(pem).toString('base64');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'tlr-test', server, caData: b64(caPem), skipTLSVerify: false }],
    users: [{ name: user.name, certData: b64(user.certPem), keyData: b64(user.keyPem), impersonateUser: user.impersonateUser }],
    contexts: [{ name: 'tlr-test', cluster: 'tlr-test', user: user.name }],
    currentContext: 'tlr-test',
  });
  return kc;
}

/**
 * One object through KubernetesObjectApi (which finds the resource by discovery), with a middleware that sends the
 * caller's JSON verbatim: client-node's serializer drops every field its models do not know (all unknown fields of
 * built-in kinds, and of every kind's metadata), which would hide exactly what strict validation is meant to catch.
 */
async function applyOne(kc: KubeConfig, object: KubernetesObject, options: ApplyOptions): Promise<KubernetesObject> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('serverSideApply: the kubeconfig has no current cluster');
  const body = JSON.stringify(object);
  const strict = options.strict ?? true;
  const verbatim = {
    pre: (ctx: RequestContext): Promise<RequestContext> => {
      const method = ctx.getHttpMethod();
      if (method === HttpMethod.PATCH || method === HttpMethod.POST) {
        ctx.setBody(body);
        if (strict) ctx.setQueryParam('fieldValidation', 'Strict');
      }
      return Promise.resolve(ctx);
    },
    post: (response: ResponseContext): Promise<ResponseContext> => Promise.resolve(response),
  };
  const client = new KubernetesObjectApi(
    createConfiguration({ baseServer: new ServerConfiguration(server, {}), authMethods: { default: kc }, promiseMiddleware: [verbatim] }),
  );
  const fieldManager = options.fieldManager ?? 'tlr-test';
  if (!object.metadata?.name && object.metadata?.generateName) return client.create(object, undefined, undefined, fieldManager);
  return client.patch(object, undefined, undefined, fieldManager, options.force ?? false, PatchStrategy.ServerSideApply);
}

export function parseYamlObjects(yaml: string, source = 'YAML'): KubernetesObject[] {
  return parseAllDocuments(yaml).flatMap<KubernetesObject>((doc, index) => {
    const where = `${source}: document ${index + 1}`;
    if (doc.errors.length > 0) throw new Error(`${where}: ${doc.errors[0]?.message}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return [];
    if (typeof value !== 'object' || Array.isArray(value)) throw new Error(`${where}: expected a Kubernetes object, found ${JSON.stringify(value)}`);
    return [value];
  });
}

// ---- the cluster ----

async function boot(dir: string, binaries: { etcd: string; kubeApiserver: string }): Promise<TestCluster> {
  const [etcdPort, peerPort, securePort] = (await freePorts(3)) as [number, number, number];
  const etcd = launch(dir, 'etcd', binaries.etcd, etcdArgs(dir, etcdPort, peerPort)); // starts while we make the PKI
  let pki: Pki, admin: { certPem: string; keyPem: string };
  try {
    pki = createPki(dir);
    admin = issueCert(pki, 'admin', subject('admin', ['system:masters']), CLIENT_EXTENSIONS);
    issueCert(pki, 'apiserver', subject('kube-apiserver'), servingExtensions(['127.0.0.1', 'localhost']));
    openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', join(dir, 'sa.key')]);
    openssl(['pkey', '-in', join(dir, 'sa.key'), '-pubout', '-out', join(dir, 'sa.pub')]);
  } catch (error) {
    await terminate(etcd);
    throw error;
  }
  const apiserver = launch(dir, 'kube-apiserver', binaries.kubeApiserver, apiserverArgs(dir, pki, etcdPort, securePort));
  const procs = [etcd, apiserver];
  const guard = watchdog([etcd.child.pid, apiserver.child.pid].filter((p): p is number => p !== undefined), dir);
  const cluster = assemble(pki, procs, guard, `https://127.0.0.1:${securePort}`, { name: 'admin', ...admin });
  try {
    const core = cluster.kubeConfig.makeApiClient(CoreV1Api);
    await waitUntil('kube-apiserver /readyz', procs, () => new Health(cluster.kubeConfig).readyz({}));
    await waitUntil('namespace "default"', procs, () => core.readNamespace({ name: 'default' }).then(() => true));
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

function assemble(pki: Pki, procs: readonly Proc[], guard: ChildProcess, server: string, admin: Credentials): TestCluster {
  const caPem = readFileSync(pki.caCert, 'utf8');
  const kubeConfig = makeKubeConfig(server, caPem, admin);
  const kubeConfigPath = join(pki.dir, 'kubeconfig');
  writeFileSync(kubeConfigPath, kubeConfig.exportConfig());
  let issued = 0;
  let stopping: Promise<void> | undefined;
  const cluster: TestCluster = {
    kubeConfig, kubeConfigPath, server, caPem, caCertPath: pki.caCert, caKeyPath: pki.caKey, dir: pki.dir,
    pids: { etcd: procs[0]?.child.pid ?? -1, kubeApiserver: procs[1]?.child.pid ?? -1 },
    kubeConfigAs(user, groups) {
      if (!groups?.length) return makeKubeConfig(server, caPem, { ...admin, name: user, impersonateUser: user });
      const cert = issueCert(pki, `user-${++issued}`, subject(user, groups), CLIENT_EXTENSIONS);
      return makeKubeConfig(server, caPem, { name: user, ...cert });
    },
    issueServingCert(hosts) {
      if (!hosts[0]) return Promise.reject(new Error('issueServingCert: give at least one host (IP or DNS name)'));
      return Promise.resolve({ ...issueCert(pki, `serving-${++issued}`, subject(hosts[0]), servingExtensions(hosts)), caPem });
    },
    installTektonCrds: () => installCrds(cluster, procs),
    async serverSideApply(objects, options = {}) {
      const applied: KubernetesObject[] = [];
      for (const object of objects) applied.push(await applyOne(options.kubeConfig ?? kubeConfig, object, options));
      return applied;
    },
    applyYaml: (yaml, options) => cluster.serverSideApply(parseYamlObjects(yaml), options),
    stop() {
      stopping ??= (async () => {
        guard.kill('SIGKILL');
        for (const proc of [...procs].reverse()) await terminate(proc); // the API server before its etcd
        await rm(pki.dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
  return cluster;
}

async function installCrds(cluster: TestCluster, procs: readonly Proc[]): Promise<void> {
  const files = (await readdir(CRD_DIR)).filter((f) => f.endsWith('.yaml')).sort();
  if (files.length === 0) throw new Error(`no CRDs in ${CRD_DIR} (expected Tekton v1.15.0's 300-*.yaml)`);
  const texts = await Promise.all(files.map((f) => readFile(join(CRD_DIR, f), 'utf8')));
  const crds = texts.flatMap((text, i) => parseYamlObjects(text, files[i])) as V1CustomResourceDefinition[];
  await Promise.all(crds.map((crd) => cluster.serverSideApply([crd], { fieldManager: 'tlr-test-crds', force: true })));
  const api = cluster.kubeConfig.makeApiClient(ApiextensionsV1Api);
  await Promise.all(crds.map(async (crd) => {
    const name = crd.metadata?.name ?? '';
    await waitUntil(`CRD ${name} to be Established`, procs, async () => {
      const got = await api.readCustomResourceDefinition({ name });
      return got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') ?? false;
    });
    // Discovery catches up a moment after Established, and KubernetesObjectApi finds resources through it.
    for (const version of crd.spec.versions.filter((v) => v.served)) {
      const apiVersion = `${crd.spec.group}/${version.name}`;
      await waitUntil(`${apiVersion} ${crd.spec.names.kind} to be listable`, procs, () =>
        KubernetesObjectApi.makeApiClient(cluster.kubeConfig).list(apiVersion, crd.spec.names.kind).then(() => true));
    }
  }));
}
