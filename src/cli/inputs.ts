import { readFile } from 'node:fs/promises';
import type { KubeObject } from '../api/tekton.js';
import { parseConfig, type Config } from '../core/config.js';
import { parseFeatureFlags, type FeatureFlags } from '../core/feature-flags.js';
import { TlrError } from '../errors.js';
import { parseDocument } from 'yaml';
import { parseYamlDocuments, readYamlFile, type YamlDocument } from '../yaml/documents.js';
import { KUBECTL_PARSE } from '../yaml/kubectl-yaml.js';

/** Reads every document of every file (`-` is standard input), in order. */
export async function readObjects(files: readonly string[], stdin: () => Promise<string>): Promise<YamlDocument[]> {
  const docs: YamlDocument[] = [];
  for (const file of files) {
    docs.push(...(file === '-' ? parseYamlDocuments(await stdin(), '<stdin>') : await readYamlFile(file)));
  }
  return docs;
}

/**
 * A flat string map from a file: either a ConfigMap (its `data`) or a plain YAML mapping of strings.
 * `what` names the map in errors (`config`, `feature-flags`).
 */
export async function readStringMap(file: string | undefined, what: string): Promise<Record<string, string>> {
  if (file === undefined) return {};
  const first = parseYamlMapping(await readMapFile(file, what), file);
  const isConfigMap = first.kind === 'ConfigMap';
  const data = isConfigMap ? (first.data ?? {}) : first;
  if (typeof data !== 'object' || data === null) {
    throw new TlrError('E_INPUT', `${file}: expected a ConfigMap or a mapping of strings for ${what}, found ${typeof data}`);
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    if (!isConfigMap && OBJECT_FIELDS.has(key)) continue;
    out[key] = scalarString(value, `${file}: ${what} key "${key}"`);
  }
  return out;
}

/** Top-level fields of a Kubernetes object, skipped when a plain mapping carries them. */
const OBJECT_FIELDS = new Set(['apiVersion', 'kind', 'metadata']);

async function readMapFile(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new TlrError('E_INPUT', `${file}: cannot read the ${what} file: ${(error as Error).message}`, { cause: error });
  }
}

/** The YAML document in `text` as plain data (an empty document is `{}`); E_YAML on a syntax error. */
function parseYamlMapping(text: string, file: string): Record<string, unknown> {
  const doc = parseDocument(text, { ...KUBECTL_PARSE, prettyErrors: true }); // scalars typed as kubectl types them
  if (doc.errors.length > 0) {
    throw new TlrError('E_YAML', doc.errors.map((e) => `${file}:${e.linePos?.[0].line ?? 0}:${e.linePos?.[0].col ?? 0}: ${e.message.split('\n')[0]}`).join('\n'));
  }
  return (doc.toJS() ?? {}) as Record<string, unknown>;
}

/** A string, number or boolean map value as a string; anything else is E_INPUT. */
function scalarString(value: unknown, where: string): string {
  if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
    throw new TlrError('E_INPUT', `${where}: expected a string, found ${Array.isArray(value) ? 'a list' : typeof value}`);
  }
  return String(value);
}

export interface RenderSettings {
  readonly config: Config;
  readonly featureFlags: FeatureFlags;
}

/** Config for one namespace plus Tekton's feature flags, from the files given on the command line. */
export async function readSettings(opts: { config?: string; featureFlags?: string; namespace?: string }): Promise<RenderSettings> {
  const config = parseConfig(await readStringMap(opts.config, 'config'), opts.namespace);
  const featureFlags = parseFeatureFlags(await readStringMap(opts.featureFlags, 'feature-flags'));
  return { config, featureFlags };
}

export function asKubeObject(doc: YamlDocument): KubeObject {
  return doc.object as KubeObject;
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
