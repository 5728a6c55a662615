/**
 * Tekton Pipelines v1.15.0 installed as its users install it: its CRDs, then every file of its release `config/`
 * (RBAC, ConfigMaps, the controller, webhook, events and resolvers Deployments, the webhook configurations) applied
 * with kubectl, after doing what `ko resolve` does when Tekton cuts a release: each `ko://github.com/tektoncd/
 * pipeline/cmd/<name>` becomes the image built from those sources (images/recipes.ts). The one image the release
 * names by digest, the shell image (a chainguard busybox), is replaced by its stand-in: a local build cannot have
 * that digest.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { TEKTON_REPOSITORY } from '../../../images/recipes.js';
import { CRD_DIR } from '../../schema/tekton-release.js';
import type { Kubectl } from './kubectl.js';

export const TEKTON_VERSION = 'v1.15.0';
export const TEKTON_NAMESPACE = 'tekton-pipelines';
export const TEKTON_RESOLVERS_NAMESPACE = 'tekton-pipelines-resolvers';
export const TEKTON_CONFIG_DIR = join(CRD_DIR, '..', 'config');
export const SHELL_IMAGE_STAND_IN = 'cgr.dev/chainguard/busybox:1.35';

async function yamlFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.yaml'))
    .map((e) => join(e.parentPath, e.name))
    .sort((a, b) => (relative(dir, a) < relative(dir, b) ? -1 : 1));
}

/** Tekton's release config with its images resolved to ours, as one multi-document YAML stream. */
export async function resolvedTektonConfig(configDir = TEKTON_CONFIG_DIR): Promise<string> {
  const docs: string[] = [];
  for (const file of await yamlFiles(configDir)) {
    const text = (await readFile(file, 'utf8'))
      .replace(/ko:\/\/github\.com\/tektoncd\/pipeline\/cmd\/([a-z]+)/g, (_m, cmd: string) => `${TEKTON_REPOSITORY}/${cmd}:${TEKTON_VERSION}`)
      .replace(/cgr\.dev\/chainguard\/busybox@sha256:[0-9a-f]{64}/g, SHELL_IMAGE_STAND_IN);
    docs.push(`# Source: ${relative(configDir, file)}\n${text}`);
  }
  const resolved = docs.join('\n---\n');
  const unresolved = /ko:\/\/\S+/.exec(resolved);
  if (unresolved) throw new Error(`Tekton's config names ${unresolved[0]}, which no image recipe builds`);
  return resolved;
}

/** The pods of a namespace, the events and the last log lines of containers that are not ready: why a wait failed. */
export async function podReport(kubectl: Kubectl, namespace: string): Promise<string> {
  const parts: string[] = [];
  const show = async (args: string[]): Promise<string> => {
    const r = await kubectl(['-n', namespace, ...args], { allowFailure: true });
    const text = (r.stdout + r.stderr).trim();
    parts.push(`$ kubectl -n ${namespace} ${args.join(' ')}\n${text}`);
    return r.stdout;
  };
  await show(['get', 'pods', '-o', 'wide']);
  await show(['get', 'events', '--sort-by=.lastTimestamp']);
  const pods = await kubectl(['-n', namespace, 'get', 'pods', '-o', 'jsonpath={range .items[*]}{.metadata.name}{" "}{.status.containerStatuses[*].ready}{"\\n"}{end}'], { allowFailure: true });
  for (const line of pods.stdout.split('\n')) {
    const [pod, ...ready] = line.trim().split(' ');
    if (pod && ready.some((r) => r !== 'true')) await show(['logs', pod, '--all-containers', '--tail=30']);
  }
  return parts.join('\n\n').slice(-8000);
}

/** kubectl apply of the CRDs, then of the resolved config; waits until every Tekton Deployment is Available. */
export async function installTekton(kubectl: Kubectl, log: (line: string) => void): Promise<void> {
  await kubectl(['apply', '--server-side', '--force-conflicts', '-f', CRD_DIR]);
  await kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
  await kubectl(['apply', '-f', '-'], { input: await resolvedTektonConfig() });
  log('applied Tekton v1.15.0\'s release config; waiting for its Deployments');
  for (const namespace of [TEKTON_NAMESPACE, TEKTON_RESOLVERS_NAMESPACE]) {
    const wait = await kubectl(['-n', namespace, 'wait', '--for=condition=Available', 'deployment', '--all', '--timeout=300s'], {
      timeoutMs: 310_000, allowFailure: true,
    });
    if (wait.code !== 0) throw new Error(`Tekton's Deployments in ${namespace} did not become Available: ${(wait.stdout + wait.stderr).trim()}\n${await podReport(kubectl, namespace)}`);
  }
  // Tekton's webhook writes its own CA into its webhook configurations; until then every Tekton create fails.
  for (const config of ['validatingwebhookconfiguration/validation.webhook.pipeline.tekton.dev', 'mutatingwebhookconfiguration/webhook.pipeline.tekton.dev']) {
    await kubectl(['wait', config, '--for=jsonpath={.webhooks[0].clientConfig.caBundle}', '--timeout=120s'], { timeoutMs: 130_000 });
  }
}
