/**
 * Golden tests for the rewrite: one directory per case under test/fixtures/rewrite, holding `input.yaml` (the run
 * first, then the Pipelines/Tasks it references), an optional `options.yaml` (`claim`, `config`, `featureFlags`),
 * and either `expected.yaml` (the rewritten run) or `error.txt` (the exact refusal). Drop a folder to add a case.
 * Regenerate on purpose only: `UPDATE_GOLDEN=1 npm test`, then review the diff like code.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { ANNOTATION_REWRITTEN } from '../../src/api/names.js';
import type { KubeObject } from '../../src/api/tekton.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import type { RewriteOptions } from '../../src/core/options.js';
import { resolverFromObjects } from '../../src/core/resolver.js';
import { rewriteObject } from '../../src/core/rewrite.js';
import { RewriteError } from '../../src/errors.js';
import { validateWithEmbedded } from '../../src/schema/embedded-specs.js';
import { loadCrdValidator } from '../../src/schema/load-crds.js';
import { parseYamlDocuments, stringifyYamlDocuments } from '../../src/yaml/documents.js';

const ROOT = 'test/fixtures/rewrite';
const UPDATE = process.env.UPDATE_GOLDEN === '1';

interface Case {
  run: KubeObject;
  options: RewriteOptions;
}

async function load(dir: string): Promise<Case> {
  const objects = parseYamlDocuments(await readFile(join(dir, 'input.yaml'), 'utf8'), join(dir, 'input.yaml')).map((d) => d.object as KubeObject);
  const optionsFile = join(dir, 'options.yaml');
  const raw = existsSync(optionsFile)
    ? (parseYamlDocuments(`kind: Options\napiVersion: test/v1\n${await readFile(optionsFile, 'utf8')}`, optionsFile)[0]?.object as {
        claim?: string;
        config?: Record<string, string>;
        featureFlags?: Record<string, string>;
      })
    : {};
  const [run] = objects as [KubeObject];
  return {
    run,
    options: {
      config: parseConfig(raw.config ?? {}, run.metadata?.namespace),
      featureFlags: parseFeatureFlags(raw.featureFlags ?? {}),
      resolver: resolverFromObjects(objects),
      ...(raw.claim !== undefined ? { provisionedClaim: raw.claim } : {}),
    },
  };
}

const validator = await loadCrdValidator('../shared/tekton/v1.15.0/crds');
const cases = (await readdir(ROOT, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();

for (const name of cases) {
  const dir = join(ROOT, name);
  test(`golden: ${name}`, async (t) => {
    const { run, options } = await load(dir);
    const frozen = structuredClone(run);
    let actual: string;
    let kind: 'expected.yaml' | 'error.txt';
    try {
      const out = rewriteObject(run, options).object;
      t.deepEqual(validateWithEmbedded(validator, out), [], 'the output and its embedded specs pass Tekton\'s CRD schemas');
      actual = stringifyYamlDocuments([out]);
      kind = 'expected.yaml';
    } catch (error) {
      if (!(error instanceof RewriteError)) throw error;
      actual = `${error.message}\n`;
      kind = 'error.txt';
    }
    t.deepEqual(run, frozen, 'the rewrite does not mutate its input');
    const file = join(dir, kind);
    if (UPDATE) await writeFile(file, actual);
    t.true(existsSync(file), `${file} exists (UPDATE_GOLDEN=1 creates it)`);
    t.is(actual, await readFile(file, 'utf8'));
  });

  test(`golden: ${name}: rewriting the output again changes nothing`, async (t) => {
    const { run, options } = await load(dir);
    let once: KubeObject;
    try {
      once = rewriteObject(run, options).object;
    } catch {
      t.pass('refused inputs have no output');
      return;
    }
    const twice = rewriteObject(once, options);
    t.false(twice.changed, 'the marker annotation makes a second rewrite a no-op');
    // Without the marker the rewrite must still converge: it recognises its own seal step and refs param.
    const unmarked = structuredClone(once);
    delete unmarked.metadata?.annotations?.[ANNOTATION_REWRITTEN];
    const again = rewriteObject(unmarked, options).object;
    const { [ANNOTATION_REWRITTEN]: _a, ...againAnnotations } = again.metadata?.annotations ?? {};
    const { [ANNOTATION_REWRITTEN]: _b, ...onceAnnotations } = once.metadata?.annotations ?? {};
    t.true(isDeepStrictEqual({ ...again, metadata: { ...again.metadata, annotations: againAnnotations } }, { ...once, metadata: { ...once.metadata, annotations: onceAnnotations } }));
  });
}
