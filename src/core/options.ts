import type { Diagnostic } from '../errors.js';
import type { Config } from './config.js';
import type { FeatureFlags } from './feature-flags.js';
import type { Resolver } from './resolver.js';

export interface RewriteOptions {
  readonly config: Config;
  readonly featureFlags: FeatureFlags;
  /** Lookup of referenced Pipelines/Tasks (already fetched by the caller). Default: nothing resolvable. */
  readonly resolver?: Resolver;
  /** Name of a PVC the controller provisioned for this run; without it, a volumeClaimTemplate is bound. */
  readonly provisionedClaim?: string;
}

export interface RewriteResult<T> {
  /** The rewritten object; the input object itself when nothing changed. */
  readonly object: T;
  readonly changed: boolean;
  /** Warnings (errors are thrown as a RewriteError). */
  readonly diagnostics: readonly Diagnostic[];
}
