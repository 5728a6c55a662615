import { readFile } from 'node:fs/promises';
import type { KubeObject } from '../../src/api/tekton.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { resolverFromObjects } from '../../src/core/resolver.js';
import { convertOnly, rewriteObject } from '../../src/core/rewrite.js';
import { parseYamlDocuments } from '../../src/yaml/documents.js';

/** What `tlr render files… --config examples/config.yaml` prints, as objects, with config keys overridden. */
export async function renderFiles(files: readonly string[], overrides: Record<string, string> = {}): Promise<KubeObject[]> {
  const objects: KubeObject[] = [];
  for (const file of files) objects.push(...parseYamlDocuments(await readFile(file, 'utf8'), file).map((d) => d.object as KubeObject));
  const configDoc = parseYamlDocuments(await readFile('examples/config.yaml', 'utf8'), 'examples/config.yaml')[0]?.object as { data: Record<string, string> };
  const options = {
    config: parseConfig({ ...configDoc.data, ...overrides }),
    featureFlags: parseFeatureFlags({ 'enable-api-fields': 'alpha' }),
    resolver: resolverFromObjects(objects),
  };
  return objects.map((o) => (o.kind === 'PipelineRun' || o.kind === 'TaskRun' ? rewriteObject(o, options) : convertOnly(o)).object);
}
