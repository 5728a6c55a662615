/**
 * The first thing every rewrite does with an object it did not make: check that it is small and shallow enough
 * (src/core/limits.ts) and shaped as the rewrite reads it (tekton-shapes.ts). Problems become diagnostics naming the
 * field path, what was expected and what was found; the rewrite refuses the object instead of failing on it.
 */
import type { Diagnostic, RewriteError } from '../../errors.js';
import { Diagnostics } from '../diagnostics.js';
import { MAX_NESTING_DEPTH, MAX_OBJECT_BYTES } from '../limits.js';
import { measure } from './measure.js';
import { checkShape, describeValue, isMapping } from './shape.js';
import { objectShape } from './tekton-shapes.js';

/**
 * Reports to `diags` every way `object`, a Tekton object of `kind`, is not what the rewrite reads; `where` prefixes
 * the paths of an object other than the one being rewritten (`spec.pipelineRef (Pipeline "build")`). Returns its size
 * (about its JSON length) when the object can be read, undefined when it cannot.
 */
export function checkObjectShape(object: unknown, kind: string, diags: Diagnostics, where = ''): number | undefined {
  const at = (path: string): string => (where === '' ? path : path === '' ? where : `${where} ${path}`);
  const before = diags.errorCount;
  const size = measure(object, { maxBytes: MAX_OBJECT_BYTES, maxDepth: MAX_NESTING_DEPTH });
  if (size.tooDeepAt !== undefined) {
    diags.error(at(size.tooDeepAt), `expected maps and lists nested at most ${MAX_NESTING_DEPTH} deep (Tekton objects nest about 15), found deeper nesting`);
    return undefined;
  }
  if (size.exceeded) {
    diags.error(at(''), `expected an object of at most ${MAX_OBJECT_BYTES} bytes as JSON (what etcd stores; it cannot be stored, nor rewritten into something that can), found more than ${MAX_OBJECT_BYTES}`);
    return undefined;
  }
  if (!isMapping(object)) {
    diags.error(at(''), `expected a ${kind} (a mapping), found ${describeValue(object)}`);
    return undefined;
  }
  const shape = objectShape(kind);
  const report = (path: string, message: string): void => diags.error(at(path), message);
  if (object.metadata !== undefined && object.metadata !== null) checkShape(object.metadata, shape.metadata, 'metadata', report);
  if (shape.spec !== undefined) {
    if (object.spec === undefined || object.spec === null) report('spec', `expected the ${kind}'s spec (a mapping), found ${describeValue(object.spec)}`);
    else checkShape(object.spec, shape.spec, 'spec', report);
  }
  return diags.errorCount === before ? size.bytes : undefined;
}

/**
 * The shape problems of an object the controller fetched or was given (errors, with the count of those not listed
 * when there are many); empty when it can be read. `object` names it in the diagnostics (`PipelineRun demo/x`).
 */
export function shapeProblems(value: unknown, kind: string, object: string, where = ''): readonly Diagnostic[] {
  const diags = new Diagnostics(object);
  if (checkObjectShape(value, kind, diags, where) !== undefined) return [];
  try {
    diags.throwIfErrors();
  } catch (error) {
    return (error as RewriteError).diagnostics;
  }
  return [];
}
