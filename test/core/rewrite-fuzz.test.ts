/**
 * Property-based fuzz of the rewrite (fast-check): generated opted-in PipelineRuns, and the same runs broken by
 * random mutations (any value of any type anywhere, null, removed fields, lists turned into mappings, non-string
 * annotations, nesting thousands deep). Whatever the input, the rewrite either returns an object or throws a
 * RewriteError whose every error names the object, a field path and what it expected; never anything else. What it
 * returns for a schema-valid input is schema-valid (Tekton's CRDs, embedded specs included), and rewriting that again
 * changes nothing. The input is deep-frozen: a rewrite that mutated it would throw.
 * A failure prints the seed and the shrunk counterexample; re-run it with FC_SEED=<seed>.
 */
import test from 'ava';
import fc from 'fast-check';
import { join } from 'node:path';
import type { KubeObject, PipelineRun } from '../../src/api/tekton.js';
import { parseConfig } from '../../src/core/config.js';
import { parseFeatureFlags } from '../../src/core/feature-flags.js';
import { rewritePipelineRun } from '../../src/core/pipeline-run.js';
import { RewriteError } from '../../src/errors.js';
import { validateWithEmbedded } from '../../src/schema/embedded-specs.js';
import { loadCrdValidator } from '../../src/schema/load-crds.js';
import { deepFreeze } from '../webhook/apply-patch.js';
import { mutate, mutation, optedInRun } from '../support/run-arbitrary.js';

const validator = await loadCrdValidator(join('../shared/tekton/v1.15.0', 'crds'));
const options = { config: parseConfig({}), featureFlags: parseFeatureFlags({ 'enable-api-fields': 'alpha', coschedule: 'disabled' }) };
const seed = process.env.FC_SEED !== undefined ? { seed: Number(process.env.FC_SEED) } : {};

/** fc.assert, with the counterexample's own error in the failure (ava does not print an error's cause). */
function check<T extends [unknown, ...unknown[]]>(property: fc.IProperty<T>, numRuns: number): void {
  const details = fc.check(property, { numRuns, ...seed });
  if (!details.failed) return;
  const error = details.errorInstance as Error | undefined;
  throw new Error(`seed ${details.seed}, counterexample ${JSON.stringify(details.counterexample)?.slice(0, 4000)}\n${error?.stack ?? 'the property returned false'}`);
}

type Outcome = { kind: 'rewritten'; object: PipelineRun } | { kind: 'unchanged' } | { kind: 'refused'; error: RewriteError };

/** The rewrite's outcome; anything thrown but a RewriteError fails the property (with the input). */
function outcome(run: PipelineRun): Outcome {
  try {
    const result = rewritePipelineRun(deepFreeze(run), options);
    return result.changed ? { kind: 'rewritten', object: result.object } : { kind: 'unchanged' };
  } catch (error) {
    if (error instanceof RewriteError) return { kind: 'refused', error };
    throw new Error(`the rewrite threw ${String(error)} (not a RewriteError)`, { cause: error });
  }
}

/** Every error names the object ("Kind namespace/name", a kind or name that is not a name JSON-quoted), has a field path (empty only for the whole object) and says what it expected. */
function explainsItself(error: RewriteError): boolean {
  const errors = error.diagnostics.filter((d) => d.severity === 'error');
  const bad = errors.find((d) => !/^(?:"(?:[^"\\]|\\.)*"|\S+) \S/.test(d.object) || typeof d.path !== 'string' || d.message.length < 20);
  if (errors.length === 0 || bad) throw new Error(`a refusal that does not explain itself: ${JSON.stringify(bad ?? error.diagnostics)}`);
  return true;
}

const valid = (object: unknown): boolean => validateWithEmbedded(validator, object as KubeObject).length === 0;

/** A rewritten run is schema-valid and a fixed point; also without the rewritten marker (it converges). */
function wellRewritten(object: PipelineRun): boolean {
  const problems = validateWithEmbedded(validator, object);
  if (problems.length > 0) throw new Error(`the rewritten run is not schema-valid: ${JSON.stringify(problems)}\n${JSON.stringify(object)}`);
  const again = rewritePipelineRun(object, options);
  const { ['tlr.dev/rewritten']: _marker, ...annotations } = object.metadata?.annotations ?? {};
  const unmarked = { ...object, metadata: { ...object.metadata, annotations } };
  const converged = rewritePipelineRun(unmarked, options).object;
  if (again.object !== object || JSON.stringify(converged.spec) !== JSON.stringify(object.spec)) throw new Error('rewriting the rewritten run changed it');
  return true;
}

test('generated opted-in runs: rewritten into schema-valid fixed points, or refused with field paths', (t) => {
  const seen = { rewritten: 0, refused: 0, unchanged: 0 };
  check(
    fc.property(optedInRun, (run) => {
      const result = outcome(run);
      seen[result.kind] += 1;
      if (result.kind === 'refused') return explainsItself(result.error);
      if (result.kind === 'rewritten') return wellRewritten(result.object);
      return true;
    }),
    2500,
  );
  t.log(`rewritten ${seen.rewritten}, refused ${seen.refused}, unchanged ${seen.unchanged}`);
  // The generator is not degenerate: both outcomes are common.
  t.true(seen.rewritten > 250 && seen.refused > 250, JSON.stringify(seen));
});

test('mutated runs: never an error but a RewriteError naming object and field path; valid input gives valid output', (t) => {
  const seen = { rewritten: 0, refused: 0, unchanged: 0 };
  check(
    fc.property(optedInRun, fc.array(mutation, { minLength: 1, maxLength: 3 }), (run, mutations) => {
      const broken = mutate(run, mutations);
      const result = outcome(broken);
      seen[result.kind] += 1;
      if (result.kind === 'refused') return explainsItself(result.error);
      if (result.kind === 'rewritten' && valid(broken)) return wellRewritten(result.object);
      return true;
    }),
    4000,
  );
  t.log(`rewritten ${seen.rewritten}, refused ${seen.refused}, unchanged ${seen.unchanged}`);
  t.true(seen.refused > 1000, JSON.stringify(seen));
});
