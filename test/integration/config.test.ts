// config/ on a real API server: applies server-side with strict field validation, our PipelineRun webhook sorts
// before Tekton's, and the shipped RBAC is least privilege (checked with SubjectAccessReviews for each ServiceAccount).
import { readFile } from 'node:fs/promises';
import { AdmissionregistrationV1Api, AuthorizationV1Api } from '@kubernetes/client-node';
import anyTest, { type TestFn } from 'ava';
import { parseAllDocuments } from 'yaml';
import { CONTROLLER_SA, loadConfigManifests, startTlrEnvironment, WEBHOOK_SA, type TlrEnvironment } from '../support/tlr-env.js';

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
  { user: CONTROLLER_SA, verb: 'update', resource: 'pipelineruns', group: 'tekton.dev', namespace: 'demo', allowed: true },
  { user: CONTROLLER_SA, verb: 'update', resource: 'pipelineruns', subresource: 'status', group: 'tekton.dev', namespace: 'demo', allowed: true },
  { user: CONTROLLER_SA, verb: 'create', resource: 'persistentvolumeclaims', namespace: 'demo', allowed: true },
  { user: CONTROLLER_SA, verb: 'create', resource: 'resolutionrequests', group: 'resolution.tekton.dev', namespace: 'demo', allowed: true },
  { user: CONTROLLER_SA, verb: 'update', resource: 'leases', group: 'coordination.k8s.io', namespace: 'tlr-system', name: 'tlr-controller', allowed: true },
  // And nothing more.
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
