import test from 'ava';
import type { V1Pod } from '@kubernetes/client-node';
import pino from 'pino';
import type { KubeObject } from '../../src/api/tekton.js';
import { ConsumerFailureReporter, eventTargets, REPORT_WITHIN_MS, substituteFailure } from '../../src/controller/consumer-failures.js';
import type { EventRecorder } from '../../src/controller/events.js';

const NOW = new Date('2026-12-01T12:00:00Z');

function pod(init: { exitCode: number; message?: string; finishedAt?: Date } | undefined, uid = 'pod-uid'): V1Pod {
  return {
    metadata: {
      name: 'run-consume-pod', namespace: 'ci', uid,
      labels: { 'tlr.dev/consumer': 'true', 'tekton.dev/pipelineRun': 'run', 'tekton.dev/pipelineRunUID': 'run-uid', 'tekton.dev/pipelineTask': 'consume' },
      ownerReferences: [{ apiVersion: 'tekton.dev/v1', kind: 'TaskRun', name: 'run-consume', uid: 'tr-uid', controller: true }],
    },
    status: {
      initContainerStatuses: init === undefined ? [] : [{
        name: 'tlr-substitute', image: 'x', imageID: '', ready: false, restartCount: 0,
        state: { terminated: { exitCode: init.exitCode, message: init.message, finishedAt: init.finishedAt ?? NOW, reason: 'Error' } },
      }],
    },
  };
}

function recorder(): { recorder: EventRecorder; recorded: Array<{ object: KubeObject; type: string; reason: string; message: string }> } {
  const recorded: Array<{ object: KubeObject; type: string; reason: string; message: string }> = [];
  const fake = { record: (object: KubeObject, type: string, reason: string, message: string) => Promise.resolve(void recorded.push({ object, type, reason, message })) };
  return { recorder: fake as unknown as EventRecorder, recorded };
}

test('a failed tlr-substitute is read from the init container status, with its termination message', (t) => {
  t.deepEqual(substituteFailure(pod({ exitCode: 1, message: 'Result file x does not match its reference\n' })), {
    exitCode: 1, message: 'Result file x does not match its reference', finishedAt: NOW,
  });
  t.is(substituteFailure(pod({ exitCode: 0 })), undefined);
  t.is(substituteFailure(pod(undefined)), undefined);
  t.regex(substituteFailure(pod({ exitCode: 137 }))?.message ?? '', /exited with code 137 \(Error\), no message/);
});

test('the Event goes on the TaskRun that owns the pod and on its PipelineRun', (t) => {
  t.deepEqual(eventTargets(pod({ exitCode: 1 })).map((o) => `${o.kind} ${o.metadata?.namespace}/${o.metadata?.name} ${o.metadata?.uid}`), [
    'TaskRun ci/run-consume tr-uid',
    'PipelineRun ci/run run-uid',
  ]);
});

test('each failed pod is reported once, as a Warning ResultUnusable naming the pod, the task and the reason', async (t) => {
  const { recorder: events, recorded } = recorder();
  const reporter = new ConsumerFailureReporter(events, pino({ level: 'silent' }), () => NOW);
  const failed = pod({ exitCode: 1, message: 'sha256 mismatch' });
  await reporter.onPod(failed);
  await reporter.onPod(failed);
  t.is(recorded.length, 2, 'one Event per target, once');
  for (const r of recorded) {
    t.is(r.type, 'Warning');
    t.is(r.reason, 'ResultUnusable');
    t.is(r.message, 'consumer pod ci/run-consume-pod (pipeline task consume): tlr-substitute refused a result: sha256 mismatch');
  }
});

test('old failures (a restarted controller listing old pods) and successes are not reported; long messages are cut', async (t) => {
  const { recorder: events, recorded } = recorder();
  const reporter = new ConsumerFailureReporter(events, pino({ level: 'silent' }), () => NOW);
  await reporter.onPod(pod({ exitCode: 1, message: 'old', finishedAt: new Date(NOW.getTime() - REPORT_WITHIN_MS - 1000) }, 'a'));
  await reporter.onPod(pod({ exitCode: 0 }, 'b'));
  t.is(recorded.length, 0);
  await reporter.onPod(pod({ exitCode: 1, message: 'x'.repeat(5000) }, 'c'));
  t.true(recorded.every((r) => r.message.length <= 1000 && r.message.endsWith('…')));
});
