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

/** kubectl apply of the CRDs, then of the resolved config; waits until every Tekton Deployment is Available. */
export async function installTekton(kubectl: Kubectl, log: (line: string) => void): Promise<void> {
  await kubectl(['apply', '--server-side', '--force-conflicts', '-f', CRD_DIR]);
  await kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
  await kubectl(['apply', '-f', '-'], { input: await resolvedTektonConfig() });
  log('applied Tekton v1.15.0\'s release config; waiting for its Deployments');
  for (const namespace of [TEKTON_NAMESPACE, TEKTON_RESOLVERS_NAMESPACE]) {
    await kubectl(['-n', namespace, 'wait', '--for=condition=Available', 'deployment', '--all', '--timeout=300s'], { timeoutMs: 310_000 });
  }
  // Tekton's webhook writes its own CA into its webhook configurations; until then every Tekton create fails.
  for (const config of ['validatingwebhookconfiguration/validation.webhook.pipeline.tekton.dev', 'mutatingwebhookconfiguration/webhook.pipeline.tekton.dev']) {
    await kubectl(['wait', config, '--for=jsonpath={.webhooks[0].clientConfig.caBundle}', '--timeout=120s'], { timeoutMs: 130_000 });
  }
}
