/** The public API of the pure core, for the CLI, the webhook and the controller. */
export { rewriteObject, convertOnly } from './core/rewrite.js';
export { rewritePipelineRun } from './core/pipeline-run.js';
export { rewriteTaskRun } from './core/task-run.js';
export { rewritePipeline } from './core/pipeline.js';
export { parseConfig, CONFIG_DEFAULTS, type Config } from './core/config.js';
export { parseFeatureFlags, type FeatureFlags } from './core/feature-flags.js';
export { resolverFromObjects, NO_RESOLVER, type Resolver } from './core/resolver.js';
export type { RewriteOptions, RewriteResult } from './core/options.js';
export { formatReference, parseReference, findReferences, type Reference } from './core/reference.js';
export { TlrError, RewriteError, type Diagnostic } from './errors.js';
export { admissionOptIn, type AdmissionOptIn } from './core/admission-opt-in.js';
