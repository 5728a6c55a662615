// The servers say what is wrong when the API server refuses or cannot be reached: each failure of the first list
// logged once, with the API call, the server's answer and what to check, and /readyz saying why it is not ready.
// On a real kube-apiserver, with an identity that has no RBAC at all, and with an address where nothing listens.
import anyTest, { type TestFn } from 'ava';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { makeClients } from '../../src/k8s/api.js';
import { startProbeServer } from '../../src/k8s/http.js';
import { SettingsSource } from '../../src/k8s/settings.js';
import { eventually, freePort, startTlrEnvironment, type TlrEnvironment } from '../support/tlr-env.js';

const test = anyTest as TestFn<{ env: TlrEnvironment }>;

test.before(async (t) => {
  t.context.env = await startTlrEnvironment({ start: false });
});
test.after.always(async (t) => {
  await t.context.env?.stop();
});

/** A logger whose JSON lines are kept. */
function capturedLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'info' }, sink), lines };
}

async function readyz(settings: SettingsSource): Promise<{ status: number; body: string }> {
  const probes = await startProbeServer({ port: 0, host: '127.0.0.1', ready: () => false, notReadyReason: () => settings.notReadyReason(), registry: new Registry() });
  try {
    const res = await fetch(`http://127.0.0.1:${probes.port}/readyz`);
    return { status: res.status, body: await res.text() };
  } finally {
    await probes.close();
  }
}

test.serial('an identity without RBAC: one warning per ConfigMap naming the call, the 403 and the RBAC to check; /readyz says it', async (t) => {
  const { logger, lines } = capturedLogger();
  const kubeConfig = t.context.env.cluster.kubeConfigAs('system:serviceaccount:demo:nobody');
  const settings = new SettingsSource({ clients: makeClients(kubeConfig), namespace: 'tlr-system', configMap: 'tlr-config', tektonNamespace: 'tekton-pipelines', logger });
  try {
    await eventually(() => Promise.resolve(lines.filter((l) => l['msg'] === 'cannot list; retrying every second').length >= 2 ? true : undefined), 'both lists to fail', 15_000);
    await new Promise((r) => setTimeout(r, 3000)); // three more retries each
    const warnings = lines.filter((l) => l['msg'] === 'cannot list; retrying every second');
    t.is(warnings.length, 2, 'each failure logged once, not once a second');
    const ours = warnings.map((w) => w['err']).find((e): e is string => typeof e === 'string' && e.includes('/tlr-system/')) ?? '';
    t.regex(ours, /^list \/api\/v1\/namespaces\/tlr-system\/configmaps at https:\/\/127\.0\.0\.1:\d+: .*forbidden.*\(HTTP 403\); this process's identity may not list and watch .*check its RBAC/);
    t.notRegex(ours, /Headers|HTTP-Code/, 'no raw client dump');
    t.is(warnings[0]?.['level'], 40);
    const probe = await readyz(settings);
    t.is(probe.status, 503);
    t.regex(probe.body, /^not ready: list \/api\/v1\/namespaces\/tlr-system\/configmaps .*HTTP 403.*; and list \/api\/v1\/namespaces\/tekton-pipelines\/configmaps /);
  } finally {
    await settings.stop();
  }
});

test.serial('an API server that cannot be reached: the address and the cause, once', async (t) => {
  const { logger, lines } = capturedLogger();
  const port = await freePort(); // nothing listens there
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'c', server: `https://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'x' }],
    contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
    currentContext: 'c',
  });
  const settings = new SettingsSource({ clients: makeClients(kubeConfig), namespace: 'tlr-system', configMap: 'tlr-config', tektonNamespace: 'tekton-pipelines', logger });
  try {
    await eventually(() => Promise.resolve(lines.length >= 2 ? true : undefined), 'both lists to fail', 15_000);
    await new Promise((r) => setTimeout(r, 2500));
    const warnings = lines.filter((l) => l['msg'] === 'cannot list; retrying every second');
    t.is(warnings.length, 2);
    t.regex(String(warnings[0]?.['err']), new RegExp(`at https://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED.*; check that https://127\\.0\\.0\\.1:${port} is the API server's address and reachable`));
    t.regex((await readyz(settings)).body, /not ready: .*ECONNREFUSED/);
  } finally {
    await settings.stop();
  }
});
