import type { Command } from 'commander';
import { resolverFromObjects } from '../../core/resolver.js';
import { isTektonApiVersion, type Pipeline } from '../../api/tekton.js';
import { rewritePipeline } from '../../core/pipeline.js';
import { convertOnly, rewriteObject } from '../../core/rewrite.js';
import { stringifyYamlDocuments } from '../../yaml/documents.js';
import { asKubeObject, readObjects, readSettings } from '../inputs.js';
import type { CliIo } from '../io.js';
import {
  collectAll,
  CommandRefused,
  failOnWarnings,
  formatLocated,
  reportWarnings,
  warningsOf,
  type Collected,
  type RenderedDocument,
} from '../report.js';

export interface RenderFlags {
  strict?: boolean;
  config?: string;
  featureFlags?: string;
  namespace?: string;
  claim?: string;
}

/**
 * What both `render` and `validate` do: read the files, rewrite runs (resolving refs from the other files) and convert
 * everything else, every document tried; nothing printed.
 */
export async function renderDocuments(files: readonly string[], flags: RenderFlags, io: CliIo): Promise<Collected> {
  const docs = await readObjects(files, () => io.stdin());
  const settings = await readSettings(flags);
  const resolver = resolverFromObjects(docs.map((d) => d.object));
  const options = { ...settings, resolver, ...(flags.claim !== undefined ? { provisionedClaim: flags.claim } : {}) };
  return collectAll(docs, (doc) => {
    const object = asKubeObject(doc);
    if (object.kind === 'PipelineRun' || object.kind === 'TaskRun') return rewriteObject(object, options);
    const converted = convertOnly(object);
    if (object.kind !== 'Pipeline' || !isTektonApiVersion(object.apiVersion)) return converted;
    // A stored Pipeline is printed as kubectl apply should store it, but checked as every run naming it will be
    // rewritten (its Tasks from the other files): its refusals and warnings are the run's.
    // Its diagnostics include the conversion's (it converts first).
    const checked = rewritePipeline(object as Pipeline, options, true);
    return { ...converted, diagnostics: checked.diagnostics };
  });
}

/** `renderDocuments`, failing with every refusal at once; warnings go to stderr (and fail with --strict). */
export async function renderFiles(files: readonly string[], flags: RenderFlags, io: CliIo): Promise<RenderedDocument[]> {
  const { results, refusals, docs } = await renderDocuments(files, flags, io);
  if (refusals.length > 0) throw new CommandRefused(refusals.map(formatLocated).join('\n'));
  reportWarnings(results, io, docs);
  failOnWarnings(flags.strict, warningsOf(results, docs));
  return results;
}

export function addRenderOptions(command: Command): Command {
  return command
    .option('-c, --config <file>', 'tlr config: the tlr-config ConfigMap or a plain mapping (default: built-in defaults)')
    .option('--feature-flags <file>', "Tekton's feature-flags ConfigMap (coschedule: the one-PVC check; enable-api-fields and the other gates: which fields a run may use); Tekton's defaults without it")
    .option('-n, --namespace <ns>', 'namespace whose config overrides apply (namespace.<ns>.<key>)')
    .option('--claim <pvc>', 'bind this existing PVC (as a run that binds its own does) instead of a volumeClaimTemplate')
    .option('--strict', 'fail (exit 1) on warnings too, as a CI gate would');
}

export function renderCommand(program: Command, io: CliIo): void {
  addRenderOptions(
    program
      .command('render')
      .description(
        'Render PipelineRuns and TaskRuns offline exactly as the admission webhook rewrites them. Pipelines and Tasks in the\n' +
          'files resolve local pipelineRef/taskRef names; they are printed converted, as `kubectl apply` should store them.',
      )
      .argument('<files...>', 'YAML files (- for standard input)'),
  ).action(async (files: string[], flags: RenderFlags) => {
    const outputs = await renderFiles(files, flags, io);
    io.out(stringifyYamlDocuments(outputs.map((o) => o.object)));
  });
}
