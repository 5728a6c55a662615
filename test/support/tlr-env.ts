import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CoreV1Api, CustomObjectsApi, KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { parse as parseYaml } from 'yaml';
import type { PipelineRun } from '../../src/api/tekton.js';
import { startController, type RunningController } from '../../src/controller/controller.js';
import { SettingsSource } from '../../src/k8s/settings.js';
import { makeClients } from '../../src/k8s/api.js';
import { startWebhookServer, type WebhookServer } from '../../src/webhook/server.js';
import { freePorts, parseYamlObjects, startCluster, type TestCluster } from './cluster.js';

export const SYSTEM_NS = 'tlr-system';
export const TEKTON_NS = 'tekton-pipelines';
export const CONTROLLER_SA = `system:serviceaccount:${SYSTEM_NS}:tlr-controller`;
export const WEBHOOK_SA = `system:serviceaccount:${SYSTEM_NS}:tlr-webhook`;
const TEKTON_SHARED = '../shared/tekton/v1.15.0';

/** The files `config/kustomization.yaml` lists, parsed, in order. */
export async function loadConfigManifests(dir = 'config'): Promise<KubernetesObject[]> {
  const kustomization = parseYaml(await readFile(join(dir, 'kustomization.yaml'), 'utf8')) as { resources?: string[] };
  const objects: KubernetesObject[] = [];
  for (const file of kustomization.resources ?? []) objects.push(...parseYamlObjects(await readFile(join(dir, file), 'utf8'), join(dir, file)));
  return objects;
}

export interface TlrEnvironment {
  readonly cluster: TestCluster;
  /** Admin clients (the test's "user"). */
  readonly custom: CustomObjectsApi;
  readonly core: CoreV1Api;
  readonly webhookRegistry: Registry;
  controller?: RunningController;
  webhook?: WebhookServer;
  startController(): Promise<RunningController>;
  stopController(): Promise<void>;
  startWebhook(): Promise<WebhookServer>;
  stopWebhook(): Promise<void>;
  setConfig(data: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

export interface EnvOptions {
  readonly config?: Record<string, string>;
  readonly featureFlags?: Record<string, string>;
  /** Start the webhook and controller (default true). */
  readonly start?: boolean;
}

/**
 * A real API server with Tekton's CRDs and our config/ applied (webhook configurations pointed at an in-process
 * webhook server over TLS), the webhook and the controller running in this process as their ServiceAccounts
 * (impersonation), so the shipped RBAC is what they get.
 */
export async function startTlrEnvironment(options: EnvOptions = {}): Promise<TlrEnvironment> {
  const cluster = await startCluster();
  const kc = cluster.kubeConfig;
  const { custom, core } = makeClients(kc);
  await core.createNamespace({ body: { metadata: { name: TEKTON_NS } } });
  const flags = parseYaml(await readFile(join(TEKTON_SHARED, 'config/config-feature-flags.yaml'), 'utf8')) as KubernetesObject & { data: Record<string, string> };
  await cluster.serverSideApply([{ ...flags, data: { ...flags.data, ...options.featureFlags } } as KubernetesObject]);

  const certDir = mkdtempSync(join(tmpdir(), 'tlr-webhook-cert-'));
  const serving = await cluster.issueServingCert(['127.0.0.1', 'localhost']);
  writeFileSync(join(certDir, 'tls.crt'), serving.certPem);
  writeFileSync(join(certDir, 'tls.key'), serving.keyPem);
  // Port chosen now so the webhook configurations can name it before the server starts.
  const webhookPort = await freePort();

  const manifests = await loadConfigManifests();
  const pointed = manifests.map((o) => (o.kind === 'MutatingWebhookConfiguration' ? pointAt(o, webhookPort, serving.caPem) : o));
  const withConfig = pointed.map((o) =>
    o.kind === 'ConfigMap' && o.metadata?.name === 'tlr-config' ? { ...o, data: { ...(o as { data?: object }).data, ...options.config } } : o,
  );
  await cluster.serverSideApply(withConfig, { strict: true, fieldManager: 'tlr-test' });
  await core.createNamespace({ body: { metadata: { name: 'demo' } } });
  await core.createNamespacedServiceAccount({ namespace: 'demo', body: { metadata: { name: 'default' } } }).catch(() => undefined);

  const logger = pino({ level: process.env.TLR_TEST_LOG ?? 'silent' });
  const webhookRegistry = new Registry();
  let webhookSettings: SettingsSource | undefined;
  const env: TlrEnvironment = {
    cluster,
    custom,
    core,
    webhookRegistry,
    async startController() {
      env.controller = await startController({
        kubeConfig: cluster.kubeConfigAs(CONTROLLER_SA),
        namespace: SYSTEM_NS,
        configMap: 'tlr-config',
        tektonNamespace: TEKTON_NS,
        leaseName: 'tlr-controller',
        httpPort: 0,
        workers: 8,
        logger: logger.child({ component: 'controller' }),
        onLeadershipLost: () => undefined,
      });
      await env.controller.leading;
      return env.controller;
    },
    async stopController() {
      await env.controller?.stop();
      env.controller = undefined;
    },
    async startWebhook() {
      webhookSettings ??= new SettingsSource({
        clients: makeClients(cluster.kubeConfigAs(WEBHOOK_SA)),
        namespace: SYSTEM_NS,
        configMap: 'tlr-config',
        tektonNamespace: TEKTON_NS,
        logger,
      });
      await webhookSettings.synced;
      env.webhook = await startWebhookServer({
        port: webhookPort,
        host: '127.0.0.1',
        certFile: join(certDir, 'tls.crt'),
        keyFile: join(certDir, 'tls.key'),
        settings: webhookSettings,
        logger: logger.child({ component: 'webhook' }),
        metrics: webhookRegistry,
      });
      return env.webhook;
    },
    async stopWebhook() {
      await env.webhook?.close();
      env.webhook = undefined;
    },
    async setConfig(data) {
      await core.patchNamespacedConfigMap(
        { namespace: SYSTEM_NS, name: 'tlr-config', body: [{ op: 'replace', path: '/data', value: data }] },
      );
    },
    async stop() {
      await env.stopController();
      await env.stopWebhook();
      await webhookSettings?.stop();
      await cluster.stop();
      rmSync(certDir, { recursive: true, force: true });
    },
  };
  if (options.start !== false) {
    await env.startWebhook();
    await env.startController();
  }
  return env;
}

function pointAt(config: KubernetesObject, port: number, caPem: string): KubernetesObject {
  const webhooks = ((config as { webhooks?: Array<Record<string, unknown>> }).webhooks ?? []).map((w) => {
    const clientConfig = w.clientConfig as { service?: { path?: string } };
    return { ...w, clientConfig: { url: `https://127.0.0.1:${port}${clientConfig.service?.path ?? '/'}`, caBundle: Buffer.from(caPem).toString('base64') } };
  });
  return { ...config, webhooks } as KubernetesObject;
}

/** A port nothing listens on now. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error('no free port');
  return port;
}

export { eventually } from './eventually.js';

export function getRun(env: TlrEnvironment, namespace: string, name: string): Promise<PipelineRun> {
  return env.custom.getNamespacedCustomObject({ group: 'tekton.dev', version: 'v1', namespace, plural: 'pipelineruns', name }) as Promise<PipelineRun>;
}

export async function createRun(env: TlrEnvironment, run: PipelineRun, namespace = 'demo'): Promise<PipelineRun> {
  return (await env.custom.createNamespacedCustomObject({
    group: 'tekton.dev',
    version: 'v1',
    namespace,
    plural: 'pipelineruns',
    body: { ...run, metadata: { ...run.metadata, namespace } },
    fieldValidation: 'Strict',
  })) as PipelineRun;
}

/**
 * An opted-in, self-contained run (TEP form): `make` writes 10 MiB to a reference result, `use` gets it by value in its
 * script. What the restart tests and the 1,000-run benchmark create.
 */
export function sampleOptedInRun(prefix: string): PipelineRun {
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    metadata: { generateName: `${prefix}-` },
    spec: {
      pipelineSpec: {
        resultWorkspace: { name: 'results' },
        tasks: [
          { name: 'make', taskSpec: { results: [{ name: 'blob', storage: 'reference' }], steps: [{ name: 's', image: 'alpine', script: 'head -c 10M /dev/urandom > $(results.blob.path)' }] } },
          { name: 'use', params: [{ name: 'b', value: '$(tasks.make.results.blob)' }], taskSpec: { params: [{ name: 'b' }], steps: [{ name: 's', image: 'alpine', script: "cat <<'EOF' | wc -c\n$(params.b)\nEOF" }] } },
        ],
      },
    },
  };
}

export type { KubeConfig };
