/**
 * Where a catalog Task uses a param, which decides the value the catalog run feeds it (./on-cluster.ts valueFor): a
 * field a step gets at its start (script, args, command, env, workingDir) takes a long hostile value by reference;
 * a field set when the pod is created takes a copy (src/core/copies.ts), so a short value that still works there — an
 * image the cluster has, a Secret's or ConfigMap's name (the run creates them), a mount path.
 */
import type { EmbeddedTask } from '../../src/api/tekton.js';
import { mapStrings } from '../../src/core/json-walk.js';

export type Use =
  /** command[0] or a script's first line: must stay a program. */
  | 'program'
  /** the whole image of a step or sidecar: an image the cluster has. */
  | 'image'
  /** part of an image (`golang:$(params.version)`): no image of that name is on this offline cluster. */
  | 'image part'
  /** the volume a volumeMount names: a volume of the Task must have that name (its default names one). */
  | 'volume name'
  /** a Secret's, ConfigMap's, volume's or key's name: a DNS name, and the objects exist. */
  | 'name'
  /** the start of a mount path: absolute. */
  | 'mount path'
  /** a workingDir: short. */
  | 'path'
  /** elsewhere set at pod creation (a sidecar's args or env, a subPath, …): short enough for a copy. */
  | 'short'
  /** only where a step takes it at its start: long. */
  | 'long';

const RANK: readonly Use[] = ['program', 'image part', 'image', 'volume name', 'name', 'mount path', 'path', 'short', 'long'];

/** `$(params.<name>)` in its spellings (and v1beta1's `$(inputs.params.<name>)`), as text. */
function usesParam(text: string, name: string): boolean {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`\\$\\((inputs\\.)?params(\\.${escaped}|\\[['"]${escaped}['"]\\])\\)`).test(text);
}

const STEP_START = /^spec\.(?:(?:steps\[\d+\]|stepTemplate)\.(?:script|args\[\d+\]|command\[\d+\]|env\[\d+\]\.value)|sidecars\[\d+\]\.script)$/;

/** How `text` at `path` (in the task spec) uses the param. */
function useAt(path: string, text: string, name: string): Use {
  if (/^spec\.(?:steps|sidecars)\[\d+\]\.(?:command\[0\])$/.test(path)) return 'program';
  if (/^spec\.(?:steps|sidecars)\[\d+\]\.script$/.test(path) && usesParam(text.trimStart().split('\n')[0] ?? '', name)) return 'program';
  if (/\.image$/.test(path)) return /^\$\((inputs\.)?params[.[][^)]*\)$/.test(text.trim()) ? 'image' : 'image part';
  if (STEP_START.test(path)) return 'long';
  if (/^spec\.(?:steps|stepTemplate)(?:\[\d+\])?\.workingDir$/.test(path)) return 'path';
  if (/\.mountPath$/.test(path) && text.trimStart().startsWith('$(')) return 'mount path';
  if (/\.volumeMounts\[\d+\]\.name$/.test(path)) return 'volume name';
  if (/(?:\.name|Name|\.key)$/.test(path)) return 'name';
  return 'short';
}

/** The most demanding use of param `name` in `spec` (`long` when it is used nowhere special). */
export function useOf(spec: EmbeddedTask, name: string): Use {
  let found: Use = 'long';
  const { params: _params, results: _results, description: _description, ...substituted } = spec;
  mapStrings(substituted, 'spec', (text, at) => {
    if (!usesParam(text, name)) return text;
    const use = useAt(at(), text, name);
    if (RANK.indexOf(use) < RANK.indexOf(found)) found = use;
    return text;
  });
  return found;
}

/** Whether a use puts the value into a field set when the pod is created (so it travels as a copy). */
export const isCopied = (use: Use): boolean => !['program', 'path', 'long'].includes(use);
