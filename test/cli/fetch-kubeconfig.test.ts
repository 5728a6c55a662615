/**
 * `tlr fetch` reads the kubeconfig as kubectl does: `KUBECONFIG` may list several files (merged, the first to set a
 * value winning, missing ones skipped), `--context` picks a context, `-n` defaults to the context's namespace, a
 * missing kubeconfig is a usage error (exit 2), and a server that cannot be reached is named. The server here is a
 * loopback port nothing listens on (it refuses at once): nothing leaves the machine.
 */
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { runCli } from '../../src/cli/program.js';

async function tlr(env: string | undefined, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const before = process.env.KUBECONFIG;
  if (env === undefined) delete process.env.KUBECONFIG;
  else process.env.KUBECONFIG = env;
  let out = '';
  let err = '';
  try {
    const code = await runCli(args, { out: (s) => (out += s), err: (s) => (err += s), stdin: () => Promise.resolve('') });
    return { code, out, err };
  } finally {
    if (before === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = before;
  }
}

function kubeconfig(port: number, current: string, contexts: { name: string; namespace?: string }[]): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    `current-context: "${current}"`,
    'clusters:',
    '  - name: nowhere',
    '    cluster:',
    `      server: https://127.0.0.1:${port}`,
    'users:',
    '  - name: someone',
    '    user:',
    '      token: not-a-token',
    'contexts:',
    ...contexts.flatMap((c) => [`  - name: ${c.name}`, '    context:', '      cluster: nowhere', '      user: someone', ...(c.namespace ? [`      namespace: ${c.namespace}`] : [])]),
    '',
  ].join('\n');
}

/** A loopback port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let dir: string;
let port: number;
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tlr-kubeconfig-'));
  port = await closedPort();
  await writeFile(join(dir, 'a'), kubeconfig(port, 'team', [{ name: 'team', namespace: 'ci' }, { name: 'shared', namespace: 'from-a' }]));
  await writeFile(join(dir, 'b'), kubeconfig(port, 'other', [{ name: 'other', namespace: 'elsewhere' }, { name: 'shared', namespace: 'from-b' }]));
});
test.after.always(() => rm(dir, { recursive: true, force: true }));

test.serial("-n defaults to the current context's namespace; an unreachable server is named with the reason", async (t) => {
  const r = await tlr(join(dir, 'a'), 'fetch', 'my-run', '-o', join(dir, 'out'));
  t.is(r.code, 1, r.err);
  t.true(r.err.includes(`PipelineRun ci/my-run: cannot reach https://127.0.0.1:${port}: fetch failed: connect ECONNREFUSED 127.0.0.1:${port}`), r.err);
});

test.serial('KUBECONFIG lists files: merged as kubectl does (the first current-context and definition win, missing files skipped)', async (t) => {
  const r = await tlr([join(dir, 'missing'), join(dir, 'b'), join(dir, 'a')].join(':'), 'fetch', 'my-run', '-o', join(dir, 'out'));
  t.regex(r.err, /PipelineRun elsewhere\/my-run: cannot reach/, "b's current context, the first set");
  const shared = await tlr([join(dir, 'a'), join(dir, 'b')].join(':'), 'fetch', 'my-run', '--context', 'shared', '-o', join(dir, 'out'));
  t.regex(shared.err, /PipelineRun from-a\/my-run: cannot reach/, "the context a defines first wins over b's of the same name");
});

test.serial('--context picks a context; -n still wins over it; an unknown context is a usage error naming those there are', async (t) => {
  const other = await tlr(join(dir, 'a'), 'fetch', 'my-run', '--context', 'shared', '-n', 'explicit', '-o', join(dir, 'out'));
  t.regex(other.err, /PipelineRun explicit\/my-run: cannot reach/);
  const unknown = await tlr(join(dir, 'a'), 'fetch', 'my-run', '--context', 'nope');
  t.is(unknown.code, 2);
  t.regex(unknown.err, /--context: no context "nope" in the kubeconfig; it has "team", "shared"/);
});

test.serial('a missing kubeconfig is a usage error (exit 2), naming the file', async (t) => {
  const r = await tlr(undefined, 'fetch', 'my-run', '--kubeconfig', join(dir, 'absent'));
  t.is(r.code, 2, r.err);
  t.regex(r.err, /cannot load kubeconfig .*absent/);
  const listed = await tlr(join(dir, 'absent'), 'fetch', 'my-run');
  t.is(listed.code, 2, listed.err);
  t.regex(listed.err, /cannot load kubeconfig \(KUBECONFIG=.*absent\): none of its files exists/);
});
