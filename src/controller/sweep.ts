import type { Logger } from 'pino';
import { ANNOTATION_REWRITTEN, LABEL_OPTED_IN } from '../api/names.js';
import type { PipelineRun } from '../api/tekton.js';
import { apiMessage, TEKTON, type Clients } from '../k8s/api.js';
import { pointerToken } from '../core/json-walk.js';

/**
 * The controller watches only runs labelled `tlr.dev/opted-in`. A writer that replaces a run's whole label map would
 * detach a held run from it (stuck pending) or a finished one from retention. This sweep, run at start and then
 * periodically, lists the unlabelled PipelineRuns page by page and puts the label back on any run that carries our hold or a volume
 * we provisioned; the informer then sees it again. Returns how many runs it repaired.
 */
export async function relabelDetachedRuns(clients: Clients, logger: Logger, pageSize = 500): Promise<number> {
  let repaired = 0;
  let next: string | undefined;
  do {
    const page = (await clients.custom.listClusterCustomObject({
      ...TEKTON,
      plural: 'pipelineruns',
      labelSelector: `!${LABEL_OPTED_IN}`,
      limit: pageSize,
      _continue: next,
    })) as {
      items: PipelineRun[];
      metadata?: { continue?: string };
    };
    for (const run of page.items.filter(isDetached)) {
      if (await relabel(clients, run, logger)) repaired++;
    }
    next = page.metadata?.continue || undefined;
  } while (next !== undefined);
  return repaired;
}

function isDetached(run: PipelineRun): boolean {
  if (run.metadata?.labels?.[LABEL_OPTED_IN] !== undefined) return false;
  // Rewritten at admission (the webhook also labels it): ours, whatever became of its labels since.
  return run.metadata?.annotations?.[ANNOTATION_REWRITTEN] !== undefined;
}

async function relabel(clients: Clients, run: PipelineRun, logger: Logger): Promise<boolean> {
  const { namespace = 'default', name = '' } = run.metadata ?? {};
  const body =
    run.metadata?.labels === undefined
      ? [{ op: 'add', path: '/metadata/labels', value: { [LABEL_OPTED_IN]: 'true' } }]
      : [{ op: 'add', path: `/metadata/labels/${pointerToken(LABEL_OPTED_IN)}`, value: 'true' }];
  try {
    await clients.custom.patchNamespacedCustomObject({ ...TEKTON, namespace, plural: 'pipelineruns', name, body });
    logger.warn({ run: `${namespace}/${name}` }, `run had lost its ${LABEL_OPTED_IN} label; put it back`);
    return true;
  } catch (err) {
    // Gone, or changed meanwhile: the next sweep looks again.
    logger.info({ run: `${namespace}/${name}`, err: apiMessage(err) }, 'could not relabel the run');
    return false;
  }
}
