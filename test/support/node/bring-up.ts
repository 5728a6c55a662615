/**
 * The actions that bring a node cluster up, in order, each one named (progress lines, and the error when one fails).
 * See ./node-cluster.ts for the entry point.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { buildImages, type BuiltImage } from '../../../images/build.js';
import { recipes } from '../../../images/recipes.js';
import { createClusterPki, kubeconfigYaml, type ClusterPki } from './certificates.js';
import * as c from './components.js';
import { writeConfigFiles } from './config-files.js';
import { forwardLoopbackToSocket, type LoopbackForward } from './forward.js';
import { PROGRAMS } from './host.js';
import { kubectlFor, type Kubectl } from './kubectl.js';
import type { ClusterLayout, NodeLayout } from './layout.js';
import { SERVED_IMAGES, servedName } from './oci-registry.js';
import { ComponentError, startComponent, startHolder, stopProc, waitFor, type Namespaces, type Proc } from './processes.js';
import { cleanUp, DEVICE_PLUGINS, RUN_CONTAINERD, type ClusterRecord } from './registry.js';
import { CSI_DRIVERS, storageManifests } from './storage.js';
import { installTekton } from './tekton.js';
import { installTlrAsDocumented } from './tlr-install.js';

const PROJECT_DIR = new URL('../../../../', import.meta.url).pathname;

export interface NodeClusterOptions {
  /** Nodes (kubelets), default 1. */
  readonly nodes?: number;
  /** How far to go: a bare Kubernetes cluster, plus Tekton, plus Tekton Large Results (default). */
  readonly install?: 'kubernetes' | 'tekton' | 'tlr';
  /** Where the cluster directory goes (default the OS temporary directory). */
  readonly baseDir?: string;
  /** Where image archives are built (default dist/images). */
  readonly imagesDir?: string;
  /** The process whose death marks the cluster abandoned (default this one). */
  readonly owner?: number;
  /** Keep the directory (logs) when bring-up fails. */
  readonly keepOnFailure?: boolean;
  readonly log?: (line: string) => void;
  /** Runs after Tekton is up, before ours is installed (e.g. installing Tekton Large Results another way). */
  readonly installTlr?: (cluster: NodeCluster) => Promise<void>;
}

export interface ExecResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface NodeCluster {
  readonly id: string;
  /** The process holding the cluster's network and mount namespaces (nsenter --target). */
  readonly holderPid: number;
  readonly dir: string;
  readonly netns: string;
  /** `https://127.0.0.1:<port>`: the API server, through the loopback forward. */
  readonly server: string;
  /** Admin (system:masters) credentials for the host side. */
  readonly kubeConfig: KubeConfig;
  readonly kubeConfigPath: string;
  readonly caPem: string;
  readonly nodes: readonly NodeLayout[];
  readonly layout: ClusterLayout;
  readonly pki: ClusterPki;
  readonly binaries: c.Binaries;
  readonly images: readonly BuiltImage[];
  /** The cluster's kubectl as the admin. */
  readonly kubectl: Kubectl;
  /** Runs a command inside the cluster's network and mount namespaces (as the node's processes see the world). */
  exec(argv: readonly string[], options?: { input?: string; env?: NodeJS.ProcessEnv }): Promise<ExecResult>;
  /** A component's log file, e.g. `kubelet-node-0`. */
  logFile(component: string): string;
  /** Stops everything and removes every trace from the host. Safe to call twice. */
  stop(): Promise<void>;
}

interface BringUpInit {
  readonly record: ClusterRecord;
  readonly layout: ClusterLayout;
  readonly binaries: c.Binaries;
  readonly log: (line: string) => void;
  readonly options: NodeClusterOptions;
  /** Tells the watchdog the cluster was stopped on purpose. */
  readonly release: () => void;
}

export class BringUp {
  cgroupProcs: readonly string[] = [];
  private readonly procs: Proc[] = [];
  private ns?: Namespaces;
  private pki?: ClusterPki;
  private forward?: LoopbackForward;
  private images: BuiltImage[] = [];
  private readonly started = Date.now();

  constructor(private readonly init: BringUpInit) {}

  async step<T>(name: string, action: () => Promise<T>): Promise<T> {
    const t0 = Date.now();
    try {
      const result = await action();
      this.init.log(`[${((Date.now() - this.started) / 1000).toFixed(1).padStart(5)} s] ${name} (${Date.now() - t0} ms)`);
      return result;
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new ComponentError(`test cluster bring-up failed at "${name}": ${detail}\n(cluster directory: ${this.init.layout.dir})`, { cause: error });
    }
  }

  private start(spec: c.ComponentSpec): Proc {
    if (!this.ns) throw new Error('namespaces not ready');
    const proc = startComponent(this.ns, this.init.layout.logs, spec.name, spec.argv, spec.env);
    this.procs.push(proc);
    return proc;
  }

  async stopProcesses(): Promise<void> {
    await this.forward?.close();
    for (const proc of [...this.procs].reverse()) await stopProc(proc, 5_000);
  }

  async run(): Promise<NodeCluster> {
    const { layout, binaries, options } = this.init;
    const pki = await this.step('certificates and config files', () => this.files());
    this.pki = pki;
    const images = this.step('images (npm run images)', () => this.buildImages());
    await this.step('namespace holder (mount namespace)', () => this.holder());
    const containerds = layout.nodes.map((n) => this.start(c.containerd(n)));
    await this.step('containerd', () => Promise.all(layout.nodes.map((n, i) => waitFor(`containerd of ${n.name}`, [containerds[i] as Proc], () => this.ctrReady(n)))));
    this.images = await images;
    await this.step('images imported into containerd', () => this.importImages());
    await this.step('image registry', () => this.registry());
    const etcd = this.start(c.etcd(layout, binaries));
    const apiserver = this.start(c.apiserver(layout, binaries));
    const forwarder = this.start(c.socketForward(layout));
    const { kubeConfig, path, kubectl } = await this.step('kube-apiserver', () => this.apiReady([etcd, apiserver, forwarder]));
    const cluster = this.handle(kubeConfig, path, kubectl);
    const kcm = this.start(c.controllerManager(layout, binaries, pki.kubeconfigs['kube-controller-manager'] ?? ''));
    const scheduler = this.start(c.scheduler(binaries, pki.kubeconfigs['kube-scheduler'] ?? ''));
    await this.step('kube-controller-manager, kube-scheduler', () => this.controllersReady(kubeConfig, [kcm, scheduler, apiserver]));
    const kubelets = await this.step('kubelets (nodes Ready)', async () => {
      // One at a time: each kubelet empties the device-plugin directory (a constant path, shared by every kubelet of
      // the mount namespace) and binds its socket there; two starting together can fail "address already in use".
      const started: Proc[] = [];
      for (const n of layout.nodes) {
        const before = await this.devicePluginSocket();
        started.push(this.start(c.kubelet(n, binaries, pki.kubeconfigs[`kubelet-${n.name}`] ?? '')));
        await waitFor(`the device-plugin socket of kubelet-${n.name}`, [...started, ...containerds], async () => {
          const now = await this.devicePluginSocket();
          return now !== undefined && now !== before;
        });
      }
      await this.nodesReady(kubectl, [...started, ...containerds]);
      return started;
    });
    const proxy = this.start(c.kubeProxy(layout, binaries));
    await this.step('kube-proxy (nftables)', () => this.proxyReady(cluster, proxy));
    await this.step('CSI drivers and StorageClasses', () => this.storage(kubectl, kubelets));
    if (options.install === 'kubernetes') return cluster;
    await this.step('Tekton Pipelines v1.15.0 (release config)', () => installTekton(kubectl, this.init.log));
    if (options.install === 'tekton') return cluster;
    const install = options.installTlr ?? ((cl: NodeCluster) => installTlrAsDocumented(cl, this.init.log));
    await this.step('Tekton Large Results (docs/install.md, own certificate)', () => install(cluster));
    return cluster;
  }

  private async files(): Promise<ClusterPki> {
    const { layout, record } = this.init;
    for (const d of [layout.pki, layout.logs, layout.etcdData, ...layout.nodes.flatMap((n) => [n.dir, n.cniConfDir, n.cniIpamDir, n.kubeletRoot, n.podLogsDir, n.volumePluginDir, n.csiData])]) {
      await mkdir(d, { recursive: true });
    }
    const pki = createClusterPki(layout);
    await writeConfigFiles(layout, record.cgroup, pki.kubeconfigs['kube-proxy'] ?? '');
    return pki;
  }

  private async buildImages(): Promise<BuiltImage[]> {
    const pkg = JSON.parse(await readFile(join(PROJECT_DIR, 'package.json'), 'utf8')) as { version: string };
    const outDir = this.init.options.imagesDir ?? join(PROJECT_DIR, 'dist/images');
    return buildImages(recipes(pkg.version), { projectDir: PROJECT_DIR, outDir, log: () => undefined });
  }

  private async holder(): Promise<void> {
    const { record, layout } = this.init;
    // Host paths containerd 1.6 and the kubelet write to whatever their configuration says (shim sockets in
    // /run/containerd, symlinks in /var/log/containers): a tmpfs of our own over each, inside our mount namespace.
    // /run/containerd is made if missing (and removed with the cluster, ./registry.ts).
    const holder = await startHolder(record.netns, this.cgroupProcs, [RUN_CONTAINERD, '/var/log', DEVICE_PLUGINS], layout.logs);
    this.procs.push(holder);
    if (holder.child.pid === undefined) throw new Error('the namespace holder has no pid');
    this.ns = { netns: record.netns, holderPid: holder.child.pid, cgroupProcs: this.cgroupProcs };
  }

  /** The inode and change time of the kubelets' device-plugin socket in the cluster's mount namespace, if it exists. */
  private async devicePluginSocket(): Promise<string | undefined> {
    const r = await run(PROGRAMS.nsenter, [`--target=${this.ns?.holderPid ?? 0}`, '--mount', '--', PROGRAMS.stat, '-c', '%i %Z %z', `${DEVICE_PLUGINS}/kubelet.sock`]);
    return r.code === 0 ? r.stdout.trim() : undefined;
  }

  private ctr(node: NodeLayout, args: readonly string[]): Promise<ExecResult> {
    return run(PROGRAMS.ctr, ['--address', node.containerdSocket, '--namespace', 'k8s.io', ...args]);
  }

  private async ctrReady(node: NodeLayout): Promise<boolean> {
    return (await this.ctr(node, ['version'])).code === 0;
  }

  private async importImages(): Promise<void> {
    // One at a time per node: parallel imports into one containerd thrash (measured: 62 s in parallel, 20 s in turn).
    await Promise.all(this.init.layout.nodes.map(async (node) => {
      for (const image of this.images) {
        const result = await this.ctr(node, ['images', 'import', image.file]);
        if (result.code !== 0) throw new Error(`ctr images import ${image.file} on ${node.name}: ${result.stderr.trim()}`);
        if (!SERVED_IMAGES.has(image.name)) continue;
        // Also under the names the registry serves it as, the tag and (what Tekton's entrypoint lookup puts in the
        // pod) the digest: present on the node, so the kubelet never pulls it (containerd would speak HTTPS to it).
        const served = servedName(image.ref);
        for (const name of [served, `${served.slice(0, served.lastIndexOf(':'))}@${image.digest}`]) {
          const tagged = await this.ctr(node, ['images', 'tag', image.ref, name]);
          if (tagged.code !== 0) throw new Error(`ctr images tag ${image.ref} ${name} on ${node.name}: ${tagged.stderr.trim()}`);
        }
      }
    }));
  }

  /** The read-only registry of ./oci-registry.ts, serving SERVED_IMAGES to Tekton's entrypoint lookup. */
  private async registry(): Promise<void> {
    const served = this.images.filter((i) => SERVED_IMAGES.has(i.name)).map((i) => ({ file: i.file, served: servedName(i.ref) }));
    const proc = this.start(c.imageRegistry(served));
    await waitFor('the image registry', [proc], async () => (await readFile(proc.log, 'utf8')).includes('listening on'), 30_000);
  }

  private async apiReady(watch: Proc[]): Promise<{ kubeConfig: KubeConfig; path: string; kubectl: Kubectl }> {
    const { layout } = this.init;
    this.forward = await forwardLoopbackToSocket(layout.apiSocket);
    const path = join(layout.dir, 'admin.kubeconfig');
    await writeFile(path, kubeconfigYaml(`https://127.0.0.1:${this.forward.port}`, join(layout.pki, 'ca.crt'), join(layout.pki, 'admin.crt'), join(layout.pki, 'admin.key')));
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(path);
    const kubectl = kubectlFor(join(this.init.binaries.kubernetes, 'kubectl'), path);
    await waitFor('kube-apiserver /readyz', watch, async () => (await kubectl(['get', '--raw=/readyz'], { allowFailure: true, timeoutMs: 5_000 })).stdout.trim() === 'ok');
    return { kubeConfig, path, kubectl };
  }

  private async controllersReady(kubeConfig: KubeConfig, watch: Proc[]): Promise<void> {
    const core = kubeConfig.makeApiClient(CoreV1Api);
    // The service-account controller made the default ServiceAccount, and the root CA is published for tokens.
    await waitFor('ServiceAccount default/default', watch, () => core.readNamespacedServiceAccount({ name: 'default', namespace: 'default' }).then(() => true));
    await waitFor('ConfigMap default/kube-root-ca.crt', watch, () => core.readNamespacedConfigMap({ name: 'kube-root-ca.crt', namespace: 'default' }).then(() => true));
  }

  private async nodesReady(kubectl: Kubectl, watch: Proc[]): Promise<void> {
    for (const node of this.init.layout.nodes) {
      await waitFor(`Node ${node.name} Ready`, watch, async () => {
        const got = await kubectl(['get', 'node', node.name, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}'], { allowFailure: true });
        return got.stdout.trim() === 'True';
      }, 180_000);
    }
  }

  private async proxyReady(cluster: NodeCluster, proxy: Proc): Promise<void> {
    await waitFor('kube-proxy\'s nftables rules for the kubernetes Service', [proxy], async () => {
      const rules = await cluster.exec([PROGRAMS.nft, 'list', 'table', 'ip', 'kube-proxy']);
      return rules.code === 0 && rules.stdout.includes('default/kubernetes/tcp/https');
    });
  }

  private async storage(kubectl: Kubectl, kubelets: Proc[]): Promise<void> {
    const { layout, binaries } = this.init;
    const kubeconfig = this.pki?.kubeconfigs['csi-provisioner'] ?? '';
    const drivers = layout.nodes.flatMap((n) => CSI_DRIVERS.map((d) => this.start(c.csiDriver(n, binaries, d))));
    const provisioners = layout.nodes.flatMap((n) => CSI_DRIVERS.map((d) => this.start(c.csiProvisioner(n, binaries, d, kubeconfig))));
    await kubectl(['apply', '-f', '-'], { input: storageManifests() });
    for (const node of layout.nodes) {
      await waitFor(`CSI drivers registered with the kubelet of ${node.name}`, [...drivers, ...provisioners, ...kubelets], async () => {
        const got = await kubectl(['get', 'csinode', node.name, '-o', 'jsonpath={.spec.drivers[*].name}'], { allowFailure: true });
        return CSI_DRIVERS.every((d) => got.stdout.split(' ').includes(d.name));
      });
    }
  }

  private handle(kubeConfig: KubeConfig, kubeConfigPath: string, kubectl: Kubectl): NodeCluster {
    const { record, layout, binaries } = this.init;
    const pki = this.pki as ClusterPki;
    let stopping: Promise<void> | undefined;
    return {
      id: record.id, holderPid: this.ns?.holderPid ?? -1, dir: layout.dir, netns: record.netns, server: kubeConfig.getCurrentCluster()?.server ?? '',
      kubeConfig, kubeConfigPath, caPem: pki.caPem, nodes: layout.nodes, layout, pki, binaries, images: this.images, kubectl,
      exec: (argv, options = {}) => {
        const holder = this.ns?.holderPid;
        if (!holder) return Promise.reject(new Error('the cluster is not running'));
        return run(PROGRAMS.nsenter, [`--target=${holder}`, '--mount', '--net', '--', ...argv], options);
      },
      logFile: (component) => join(layout.logs, `${component}.log`),
      stop: () => {
        stopping ??= (async () => {
          await this.stopProcesses();
          await cleanUp(record);
          this.init.release();
        })();
        return stopping;
      },
    };
  }
}

function run(file: string, args: readonly string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: '/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...options.env } });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', (error) => resolve({ code: -1, stdout: '', stderr: String(error) }));
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
    child.stdin.on('error', () => undefined); // the program may exit without reading it
    child.stdin.end(options.input ?? '');
  });
}

