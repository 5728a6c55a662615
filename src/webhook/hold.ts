import { PREFIX } from '../api/names.js';

/**
 * On a PipelineRun held by the admission webhook (`spec.status: PipelineRunPending`) for the controller, which
 * rewrites the run and releases the hold. A run created pending by its user does not get it: the controller never
 * releases a hold it did not place. (To move to src/api/names.ts.)
 */
export const ANNOTATION_HOLD = `${PREFIX}/hold`;
/** The value of ANNOTATION_HOLD: who releases the run. */
export const HOLD_CONTROLLER = 'controller';
/** Tekton's `spec.status` that keeps a PipelineRun from being resolved or started. */
export const PIPELINE_RUN_PENDING = 'PipelineRunPending';
