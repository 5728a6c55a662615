import type { KubeObject, PipelineSpec } from '../api/tekton.js';
import type { CrdValidator, SchemaProblem } from './crd-validator.js';

/**
 * Tekton's CRDs mark embedded `pipelineSpec` / `taskSpec` as x-kubernetes-preserve-unknown-fields: the API server
 * checks nothing inside them, but Tekton's webhook decodes them strictly into PipelineSpec / TaskSpec. This validates
 * what is embedded against the Pipeline / Task CRDs' `spec` schemas, as that webhook would.
 */
export function validateWithEmbedded(validator: CrdValidator, object: KubeObject): SchemaProblem[] {
  const problems = [...validator.validate(object)];
  for (const { path, spec, kind } of embeddedSpecs(object)) {
    const synthetic = { apiVersion: object.apiVersion, kind, metadata: { name: 'embedded' }, spec };
    for (const p of validator.validate(synthetic)) {
      if (!p.path.startsWith('spec')) continue;
      problems.push({ path: `${path}${p.path.slice('spec'.length)}`, message: p.message });
    }
  }
  return problems;
}

interface Embedded {
  path: string;
  kind: 'Pipeline' | 'Task';
  spec: unknown;
}

function embeddedSpecs(object: KubeObject): Embedded[] {
  const spec = (object.spec ?? {});
  if (object.kind === 'TaskRun' && isObject(spec.taskSpec)) return [{ path: 'spec.taskSpec', kind: 'Task', spec: spec.taskSpec }];
  if (object.kind === 'PipelineRun' && isObject(spec.pipelineSpec)) {
    return [{ path: 'spec.pipelineSpec', kind: 'Pipeline', spec: spec.pipelineSpec }, ...taskSpecs(spec.pipelineSpec, 'spec.pipelineSpec')];
  }
  if (object.kind === 'Pipeline') return taskSpecs(spec, 'spec');
  return [];
}

function taskSpecs(spec: PipelineSpec, path: string): Embedded[] {
  const out: Embedded[] = [];
  for (const list of ['tasks', 'finally'] as const) {
    (spec[list] ?? []).forEach((pt, i) => {
      if (!isObject(pt.taskSpec)) return;
      // An embedded task carries `metadata` (and, for custom tasks, apiVersion/kind/spec) besides TaskSpec fields.
      const { metadata: _m, apiVersion, kind: _k, spec: _s, ...taskSpec } = pt.taskSpec as Record<string, unknown>;
      if (apiVersion !== undefined) return;
      out.push({ path: `${path}.${list}[${i}].taskSpec`, kind: 'Task', spec: taskSpec });
    });
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
