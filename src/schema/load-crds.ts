/**
 * Reads the CustomResourceDefinitions of a directory (every `*.yaml` in it, not recursive) into a CrdValidator.
 * Documents of other kinds are skipped.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { TlrError } from '../errors.js';
import { readYamlFile } from '../yaml/documents.js';
import { createCrdValidator, type CrdValidator } from './crd-validator.js';

export async function loadCrdValidator(dir: string): Promise<CrdValidator> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    throw new TlrError('E_INPUT', `${dir}: cannot list the CRD directory: ${(error as Error).message}`, { cause: error });
  }
  const files = names.filter((name) => name.endsWith('.yaml')).sort();
  const crds: unknown[] = [];
  for (const file of files) {
    for (const doc of await readYamlFile(join(dir, file))) {
      if ((doc.object as { kind?: unknown }).kind === 'CustomResourceDefinition') {
        crds.push(doc.object);
      }
    }
  }
  if (crds.length === 0) {
    throw new TlrError('E_SCHEMA', `${dir}: no CustomResourceDefinition in any *.yaml file`);
  }
  return createCrdValidator(crds);
}
