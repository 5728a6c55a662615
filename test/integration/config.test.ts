// config/ on a real API server: applies server-side with strict field validation, our PipelineRun webhook sorts
// before Tekton's, and the shipped RBAC is least privilege (checked with SubjectAccessReviews for each ServiceAccount).
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdmissionregistrationV1Api, AuthorizationV1Api } from '@kubernetes/client-node';
import anyTest, { type TestFn } from 'ava';
import { parseAllDocuments } from 'yaml';
import { freePorts } from '../support/cluster.js';
import { CONTROLLER_SA, eventually, loadConfigManifests, sampleOptedInRun, startTlrEnvironment, WEBHOOK_SA, type TlrEnvironment } from '../support/tlr-env.js';

const test = anyTest as TestFn<{ env: TlrEnvironment }>;

test.before(async (t) => {
  t.context.env = await startTlrEnvironment({ start: false });
});
test.after.always(async (t) => {
  await t.context.env?.stop();
});

test('every file config/kustomization.yaml lists applies again, server-side and strict, with no change', async (t) => {
  const { env } = t.context;
  const objects = await loadConfigManifests();
  t.true(objects.length >= 15);
  const kinds = new Set(objects.map((o) => o.kind));
  for (const kind of ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'ConfigMap', 'Deployment', 'Service', 'MutatingWebhookConfiguration']) {
    t.true(kinds.has(kind), kind);
  }
  // A second apply of the same files (webhooks included, as shipped) must be accepted as is.
  await t.notThrowsAsync(env.cluster.serverSideApply(objects.filter((o) => o.kind !== 'MutatingWebhookConfiguration'), { strict: true, fieldManager: 'tlr-test' }));
  // An unknown field is refused: strict validation is really on.
  const [config] = objects.filter((o) => o.kind === 'ConfigMap');
  await t.throwsAsync(env.cluster.serverSideApply([{ ...config, bogus: true } as never], { strict: true, fieldManager: 'tlr-test' }));
});

test('config/network-policy applies strict and admits only an ipBlock on the admission port and labelled scrapers on the metrics port', async (t) => {
  const { env } = t.context;
  const objects = await loadConfigManifests('config/network-policy');
  t.deepEqual(objects.map((o) => `${o.kind} ${o.metadata?.namespace}/${o.metadata?.name}`), ['NetworkPolicy tlr-system/tlr-webhook']);
  await t.notThrowsAsync(env.cluster.serverSideApply(objects, { strict: true, fieldManager: 'tlr-test' }));
  type Rule = { from?: Array<{ ipBlock?: { cidr: string }; podSelector?: unknown; namespaceSelector?: { matchLabels?: Record<string, string> } }>; ports?: Array<{ port: number }> };
  const policy = objects[0] as unknown as { spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress: Rule[] } };
  // It selects exactly the webhook's pods (the Deployment's pod template labels).
  const deployment = (await loadConfigManifests()).find((o) => o.kind === 'Deployment' && o.metadata?.name === 'tlr-webhook') as unknown as { spec: { template: { metadata: { labels: Record<string, string> } } } };
  for (const [k, v] of Object.entries(policy.spec.podSelector.matchLabels)) t.is(deployment.spec.template.metadata.labels[k], v, k);
  t.deepEqual(policy.spec.policyTypes, ['Ingress']);
  // 8443 from an ipBlock only (the API server is not a pod); 9090 from labelled namespaces; no rule lets pods in
  // generally (an empty `from`, or a bare podSelector, would).
  const [admission, metrics] = policy.spec.ingress;
  t.deepEqual(admission?.ports?.map((p) => p.port), [8443]);
  t.true((admission?.from ?? []).length > 0 && (admission?.from ?? []).every((f) => f.ipBlock !== undefined && f.podSelector === undefined && f.namespaceSelector === undefined));
  t.deepEqual(metrics?.ports?.map((p) => p.port), [9090]);
  t.deepEqual(metrics?.from, [{ namespaceSelector: { matchLabels: { 'tlr.dev/metrics-scraper': 'true' } } }]);
  t.is(policy.spec.ingress.length, 2);
});

test("our PipelineRun webhook configuration is called before Tekton's (the API server sorts them by name)", async (t) => {
  const { env } = t.context;
  const tekton = parseAllDocuments(await readFile('../shared/tekton/v1.15.0/config/500-webhooks.yaml', 'utf8'))
    .map((d) => d.toJS() as { kind?: string; metadata?: { name?: string } } | null)
    .find((o) => o?.kind === 'MutatingWebhookConfiguration');
  const tektonName = tekton?.metadata?.name ?? '';
  t.is(tektonName, 'webhook.pipeline.tekton.dev');
  const api = env.cluster.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
  const ours = (await api.listMutatingWebhookConfiguration()).items.map((c) => c.metadata?.name ?? '');
  t.true(ours.includes('pipelineruns.tlr.dev'));
  t.true('pipelineruns.tlr.dev' < tektonName);
  const pods = (await api.readMutatingWebhookConfiguration({ name: 'pods.tlr.dev' })).webhooks?.[0];
  t.deepEqual(pods?.objectSelector?.matchExpressions?.map((e) => [e.key, e.operator]), [['tlr.dev/consumer', 'Exists']]);
});

interface Check {
  readonly user: string;
  readonly verb: string;
  readonly resource: string;
  readonly group?: string;
  readonly subresource?: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly allowed: boolean;
}

const CHECKS: readonly Check[] = [
  // What the controller needs.
  { user: CONTROLLER_SA, verb: 'watch', resource: 'pipelineruns', group: 'tekton.dev', allowed: true },
  { user: CONTROLLER_SA, verb: 'patch', resource: 'pipelineruns', group: 'tekton.dev', namespace: 'demo', allowed: true },
  { user: CONTROLLER_SA, verb: 'list', resource: 'persistentvolumeclaims', namespace: 'demo', allowed: true },
  { user: CONTROLLER_SA, verb: 'delete', resource: 'persistentvolumeclaims', namespace: 'demo', allowed: true },
  { user: CONTROLLER_SA, verb: 'patch', resource: 'persistentvolumeclaims', namespace: 'demo', allowed: true },
  { user: CONTROLLER_SA, verb: 'list', resource: 'pods', namespace: 'demo', allowed: true },
  { user: CONTROLLER_SA, verb: 'delete', resource: 'pods', namespace: 'demo', allowed: false },
  { user: CONTROLLER_SA, verb: 'patch', resource: 'pods', namespace: 'demo', allowed: false },
  { user: CONTROLLER_SA, verb: 'watch', resource: 'pods', allowed: true },
  { user: CONTROLLER_SA, verb: 'get', resource: 'pods', subresource: 'exec', namespace: 'demo', allowed: false },
  { user: CONTROLLER_SA, verb: 'update', resource: 'leases', group: 'coordination.k8s.io', namespace: 'tlr-system', name: 'tlr-controller', allowed: true },
  // And nothing more: the rewrite happens at admission, so no spec writes, no PVC creates, no ResolutionRequests.
  { user: CONTROLLER_SA, verb: 'update', resource: 'pipelineruns', group: 'tekton.dev', namespace: 'demo', allowed: false },
  { user: CONTROLLER_SA, verb: 'update', resource: 'pipelineruns', subresource: 'status', group: 'tekton.dev', namespace: 'demo', allowed: false },
  { user: CONTROLLER_SA, verb: 'create', resource: 'persistentvolumeclaims', namespace: 'demo', allowed: false },
  { user: CONTROLLER_SA, verb: 'create', resource: 'resolutionrequests', group: 'resolution.tekton.dev', namespace: 'demo', allowed: false },
  { user: CONTROLLER_SA, verb: 'get', resource: 'pods', subresource: 'log', namespace: 'demo', allowed: false },
  { user: CONTROLLER_SA, verb: 'get', resource: 'secrets', namespace: 'demo', allowed: false },
  { user: CONTROLLER_SA, verb: 'create', resource: 'roles', group: 'rbac.authorization.k8s.io', namespace: 'demo', allowed: false },
  { user: CONTROLLER_SA, verb: 'create', resource: 'rolebindings', group: 'rbac.authorization.k8s.io', namespace: 'demo', allowed: false },
  { user: CONTROLLER_SA, verb: 'update', resource: 'pipelines', group: 'tekton.dev', namespace: 'demo', allowed: false },
  { user: CONTROLLER_SA, verb: 'delete', resource: 'pipelineruns', group: 'tekton.dev', namespace: 'demo', allowed: false },
  { user: CONTROLLER_SA, verb: 'get', resource: 'configmaps', namespace: 'tekton-pipelines', name: 'config-defaults', allowed: false },
  { user: CONTROLLER_SA, verb: 'update', resource: 'leases', group: 'coordination.k8s.io', namespace: 'tlr-system', name: 'someone-else', allowed: false },
  { user: CONTROLLER_SA, verb: 'create', resource: 'pods', namespace: 'demo', allowed: false },
  // The webhook reads two ConfigMaps and nothing else.
  { user: WEBHOOK_SA, verb: 'get', resource: 'configmaps', namespace: 'tlr-system', name: 'tlr-config', allowed: true },
  { user: WEBHOOK_SA, verb: 'get', resource: 'configmaps', namespace: 'tekton-pipelines', name: 'feature-flags', allowed: true },
  { user: WEBHOOK_SA, verb: 'get', resource: 'secrets', namespace: 'tlr-system', allowed: false },
  { user: WEBHOOK_SA, verb: 'list', resource: 'pipelineruns', group: 'tekton.dev', allowed: false },
  { user: WEBHOOK_SA, verb: 'get', resource: 'pipelines', group: 'tekton.dev', namespace: 'demo', allowed: true },
  { user: WEBHOOK_SA, verb: 'list', resource: 'pipelines', group: 'tekton.dev', namespace: 'demo', allowed: false },
  { user: WEBHOOK_SA, verb: 'get', resource: 'tasks', group: 'tekton.dev', namespace: 'demo', allowed: true },
  { user: WEBHOOK_SA, verb: 'list', resource: 'tasks', group: 'tekton.dev', namespace: 'demo', allowed: false },
  { user: WEBHOOK_SA, verb: 'create', resource: 'persistentvolumeclaims', namespace: 'demo', allowed: false },
];

test('the shipped RBAC grants each ServiceAccount what it needs and nothing more', async (t) => {
  const api = t.context.env.cluster.kubeConfig.makeApiClient(AuthorizationV1Api);
  for (const c of CHECKS) {
    const review = await api.createSubjectAccessReview({
      body: {
        spec: {
          user: c.user,
          groups: ['system:serviceaccounts', 'system:serviceaccounts:tlr-system', 'system:authenticated'],
          resourceAttributes: { verb: c.verb, resource: c.resource, group: c.group ?? '', subresource: c.subresource, namespace: c.namespace, name: c.name },
        },
      },
    });
    t.is(review.status?.allowed === true, c.allowed, `${c.user.split(':').pop()} ${c.verb} ${c.group ?? ''}/${c.resource}${c.subresource ? `/${c.subresource}` : ''} in ${c.namespace ?? '(cluster)'}${c.name ? ` name ${c.name}` : ''}`);
  }
});

test('tlr webhook as a process: answers AdmissionReviews over HTTPS as its ServiceAccount, serves metrics, exits 0 on SIGTERM', async (t) => {
  const { env } = t.context;
  const dir = await mkdtemp(join(tmpdir(), 'tlr-webhook-process-'));
  try {
    const cert = await env.cluster.issueServingCert(['127.0.0.1']);
    await writeFile(join(dir, 'tls.crt'), cert.certPem);
    await writeFile(join(dir, 'tls.key'), cert.keyPem);
    await writeFile(join(dir, 'kubeconfig'), env.cluster.kubeConfigAs(WEBHOOK_SA).exportConfig());
    const [port = 0, metricsPort = 0] = await freePorts(2);
    const child = spawn(process.execPath, [
      'dist/src/cli/main.js', 'webhook', '--kubeconfig', join(dir, 'kubeconfig'), '--port', String(port), '--metrics-port', String(metricsPort),
      '--tls-cert-file', join(dir, 'tls.crt'), '--tls-key-file', join(dir, 'tls.key'),
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      await eventually(async () => {
        if (child.exitCode !== null) throw new Error(`tlr webhook exited ${child.exitCode}: ${stderr}`);
        return (await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status === 200 ? true : undefined;
      }, 'the webhook to be ready');
      const review = {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: 'uid-123',
          kind: { group: 'tekton.dev', version: 'v1', kind: 'PipelineRun' },
          resource: { group: 'tekton.dev', version: 'v1', resource: 'pipelineruns' },
          operation: 'CREATE',
          namespace: 'demo',
          userInfo: { username: 'someone' },
          object: sampleOptedInRun('process'),
        },
      };
      const answer = await httpsPost(port, '/mutate/pipelineruns', JSON.stringify(review), cert.caPem);
      const response = (JSON.parse(answer) as { response: { uid: string; allowed: boolean; patch?: string } }).response;
      t.is(response.uid, 'uid-123');
      t.true(response.allowed);
      t.regex(Buffer.from(response.patch ?? '', 'base64').toString(), /"tlr.dev\/rewritten":"v1"/);
      t.regex(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text(), /tlr_webhook_requests_total\{[^}]*webhook="pipelineruns"[^}]*\} 1/);
      child.kill('SIGTERM');
      t.is(await exited, 0);
    } finally {
      child.kill('SIGKILL');
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

function httpsPost(port: number, path: string, body: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', ca, headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString()));
    });
    req.on('error', reject);
    req.end(body);
  });
}
