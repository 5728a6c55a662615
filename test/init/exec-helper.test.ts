/**
 * The exec helper (exec/, the static tlr-exec), built with Go as the image build does and run as Tekton's entrypoint
 * runs it: `tlr-exec --root <mountPath> -- <command> <args>…` with the step's env (TLR_REFS, TLR_RUN_DIR, TLR_VIEW and
 * the user's variables holding reference tokens). The command is python3, which writes its argv and environment as
 * raw bytes (hex), so every byte the helper hands over is compared.
 */
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatReference } from '../../src/core/reference.js';
import { builtExecHelper } from '../support/go-builds.js';
import { tempDir } from './temp-volume.js';

const RUN = '0c9f4d3e-run';

/** Dumps argv[1:] and the environment, each as hex of its raw bytes, as JSON on stdout. */
const DUMP = 'import os, sys, json; json.dump({"argv": [os.fsencode(a).hex() for a in sys.argv[1:]], "env": {k.decode(): v.hex() for k, v in os.environb.items()}}, sys.stdout)';

interface Volume {
  readonly root: string;
  /** Writes the value of result `result` of task `task`; returns its labelled declaration and its token. */
  result(task: string, result: string, value: Buffer | string): Promise<{ declared: string; token: string; file: string }>;
}

async function volume(t: ExecutionContext): Promise<Volume> {
  const root = await tempDir(t, 'tlr-exec-');
  return {
    root,
    async result(task, result, value) {
      const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value);
      await mkdir(join(root, task), { recursive: true });
      const file = join(root, task, result);
      await writeFile(file, bytes);
      const token = formatReference({ sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length, path: `${RUN}/${task}/${result}` });
      return { declared: `${task}/${result}=${token}`, token, file };
    },
  };
}

interface Ran {
  readonly code: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

async function run(args: readonly string[], env: Record<string, string>, shellPrefix?: string): Promise<Ran> {
  const bin = await builtExecHelper();
  // Values come from files on the volume; what we pass here is tokens and plain text, so strings suffice.
    const argv = shellPrefix ? ['-c', `${shellPrefix}; exec "$@"`, 'sh', bin, ...args] : args;
  const child = spawn(shellPrefix ? '/bin/sh' : bin, argv, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });
  const out: Buffer[] = [];
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, stdout: Buffer.concat(out), stderr };
}

function dumped(r: Ran): { argv: Buffer[]; env: Record<string, Buffer> } {
  const j = JSON.parse(r.stdout.toString()) as { argv: string[]; env: Record<string, string> };
  return { argv: j.argv.map((h) => Buffer.from(h, 'hex')), env: Object.fromEntries(Object.entries(j.env).map(([k, v]) => [k, Buffer.from(v, 'hex')])) };
}

const stepEnv = (declared: readonly string[]): Record<string, string> => ({ TLR_REFS: declared.join(' '), TLR_RUN_DIR: RUN, TLR_VIEW: 'run' });

const HOSTILE = `it's "quoted" \\ $(params.x) $HOME \`id\`; rm -rf / #\r\nsecond line\n\n  --flag=1 [[tlr:v1:nope]] ${'é'}`;

test('values reach args and env byte-exact: quotes, $( ), CRLF, newlines, spaces stay in one argument', async (t) => {
  const v = await volume(t);
  const a = await v.result('gen', 'report', HOSTILE);
  const empty = await v.result('gen', 'empty', '');
  const r = await run(['--root', v.root, '--', 'python3', '-c', DUMP, a.token, `--report=${a.token}!${a.token}`, empty.token, 'plain'], {
    ...stepEnv([a.declared, empty.declared]),
    PARAM_REPORT: a.token,
    PARAM_EMPTY: empty.token,
    MIXED: `<${empty.token}|${a.token}>`,
  });
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr, '');
  const d = dumped(r);
  t.deepEqual(d.argv.map((b) => b.toString()), [HOSTILE, `--report=${HOSTILE}!${HOSTILE}`, '', 'plain']);
  t.is(d.env.PARAM_REPORT?.toString(), HOSTILE);
  t.is(d.env.PARAM_EMPTY?.toString(), '');
  t.is(d.env.MIXED?.toString(), `<|${HOSTILE}>`);
  // Ours are left as they are (the step sees them today); nothing else is added.
  t.is(d.env.TLR_REFS?.toString(), `${a.declared} ${empty.declared}`);
});

test('non-UTF-8 bytes arrive exactly', async (t) => {
  const v = await volume(t);
  const bytes = Buffer.from([0xff, 0xfe, 0x80, 0x41, 0xc3, 0x28, 0x0a, 0x7f, 0x01]);
  const a = await v.result('gen', 'bin', bytes);
  const r = await run(['--root', v.root, '--', 'python3', '-c', DUMP, a.token], { ...stepEnv([a.declared]), RAW: a.token });
  t.is(r.code, 0, r.stderr);
  const d = dumped(r);
  t.deepEqual(d.argv[0], bytes);
  t.deepEqual(d.env.RAW, bytes);
});

test('a value is never scanned again: a token inside a value, or an undeclared one, stays text', async (t) => {
  const v = await volume(t);
  const inner = await v.result('gen', 'inner', 'SECRET');
  const outer = await v.result('gen', 'outer', `before ${inner.token} after`);
  const stranger = formatReference({ sha256: '0'.repeat(64), size: 3, path: `${RUN}/other/x` });
  const r = await run(['--root', v.root, '--', 'python3', '-c', DUMP, outer.token, stranger, inner.token], stepEnv([outer.declared, inner.declared]));
  t.is(r.code, 0, r.stderr);
  t.deepEqual(dumped(r).argv.map((b) => b.toString()), [`before ${inner.token} after`, stranger, 'SECRET']);
});

test('the command named by Tekton from the image (TEKTON_PLATFORM_COMMANDS) is run when the step names none', async (t) => {
  const v = await volume(t);
  const a = await v.result('gen', 'r', 'value');
  const platform = `linux/${process.arch === 'x64' ? 'amd64' : process.arch}`;
  const r = await run(['--root', v.root, '--platform-commands', '--', a.token], {
    ...stepEnv([a.declared]),
    TEKTON_PLATFORM_COMMANDS: JSON.stringify({ 'windows/amd64': ['nope.exe'], [platform]: ['python3', '-c', DUMP] }),
  });
  t.is(r.code, 0, r.stderr);
  t.deepEqual(dumped(r).argv.map((b) => b.toString()), ['value']);
});

test('the command’s exit code is the step’s (the helper becomes the command)', async (t) => {
  const v = await volume(t);
  const r = await run(['--root', v.root, '--', 'python3', '-c', 'import sys; sys.exit(7)'], stepEnv([]));
  t.is(r.code, 7);
});

/** Runs a command that would leave a marker; asserts it was refused before it ran. */
async function refused(t: ExecutionContext, v: Volume, tokens: readonly string[], env: Record<string, string>, prefix?: string): Promise<string> {
  const marker = join(v.root, 'ran');
  const r = await run(['--root', v.root, '--', 'python3', '-c', `open(${JSON.stringify(marker)}, "w")`, ...tokens], env, prefix);
  t.is(r.code, 1, r.stderr);
  await t.throwsAsync(access(marker), undefined, 'the command must not run');
  t.regex(r.stderr, /^tlr-exec: error: /);
  t.is(r.stderr.trim().split('\n').length, 1, 'one line');
  return r.stderr;
}

test('a value with a NUL byte fails the step before its command runs, naming the result and the offset', async (t) => {
  const v = await volume(t);
  const a = await v.result('gen', 'blob', Buffer.from('ab\0cd'));
  const err = await refused(t, v, [a.token], stepEnv([a.declared]));
  t.regex(err, /result "blob" of task "gen" has a NUL byte at offset 2/);
  t.regex(err, /\$\(tasks\.gen\.results\.blob\.path\)/);
});

test('a value over 128 KiB in one argument or variable fails before the command runs, with the sizes and the limit', async (t) => {
  const v = await volume(t);
  const big = await v.result('gen', 'big', 'x'.repeat(128 * 1024));
  let err = await refused(t, v, [big.token], stepEnv([big.declared]));
  t.regex(err, /argument 3 of the command would take result "big" of task "gen", 131072 bytes; Linux passes at most 131072 bytes per argument or environment variable \(MAX_ARG_STRLEN\)/);
  // Just fits alone, but not with the variable's name.
  const edge = await v.result('gen', 'edge', 'y'.repeat(128 * 1024 - 2));
  err = await refused(t, v, [], { ...stepEnv([edge.declared]), LONG_NAME: edge.token });
  t.regex(err, /environment variable LONG_NAME would be 131081 bytes with result "edge" of task "gen" \(131070 bytes\) substituted; Linux passes at most 131072 bytes/);
  // The same value in an argument fits exactly (131070 + NUL).
  const r = await run(['--root', v.root, '--', 'python3', '-c', 'import sys; print(len(sys.argv[1]))', edge.token], stepEnv([edge.declared]));
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.toString().trim(), String(128 * 1024 - 2));
});

test('values that together exceed what execve takes (a quarter of the stack limit) fail before the command runs', async (t) => {
  const v = await volume(t);
  const part = await v.result('gen', 'part', 'z'.repeat(100 * 1024));
  // ulimit -s 1024 KiB: execve takes 256 KiB of arguments and environment.
  const err = await refused(t, v, [part.token, part.token, part.token], stepEnv([part.declared]), 'ulimit -s 1024');
  t.regex(err, /would need \d+ bytes \(arguments \d+, environment \d+, pointers \d+\); Linux passes at most 262144 bytes to a command/);
});

test('a changed file, a reference to another result’s file, or a malformed declaration is refused before the command runs', async (t) => {
  const v = await volume(t);
  const a = await v.result('gen', 'report', 'sealed');
  await appendFile(a.file, '!');
  t.regex(await refused(t, v, [a.token], stepEnv([a.declared])), /does not match its reference: expected sha256 [0-9a-f]{64} and 6 bytes, found 7 bytes/);

  const b = await v.result('gen', 'b', 'value');
  t.regex(await refused(t, v, [b.token], stepEnv([`gen/other=${b.token}`])), /result "other" of task "gen" is a reference to .*\/gen\/b, expected its own file .*\/gen\/other/);
  t.regex(await refused(t, v, [b.token], stepEnv([`gen/b=${b.token}extra`])), /must be <task>\/<result>=\[\[tlr:v1:…\]\] separated by spaces/);
});

test('a symlinked result file is refused', async (t) => {
  const v = await volume(t);
  const a = await v.result('gen', 'real', 'value');
  const { symlink } = await import('node:fs/promises');
  await symlink(a.file, join(v.root, 'gen', 'link'));
  const linked = formatReference({ sha256: createHash('sha256').update('value').digest('hex'), size: 5, path: `${RUN}/gen/link` });
  t.regex(await refused(t, v, [linked], stepEnv([`gen/link=${linked}`])), /is a symbolic link, expected a regular file/);
});

test('with the labels the rewrite declared (TLR_REF_LABELS), a spliced-in label and reference is refused', async (t) => {
  const v = await volume(t);
  const own = await v.result('gen', 'report', 'mine');
  const other = await v.result('victim', 'secret', 'theirs');
  const ok = await run(['--root', v.root, '--', 'python3', '-c', DUMP, own.token], { ...stepEnv([own.declared]), TLR_REF_LABELS: 'gen/report' });
  t.is(ok.code, 0, ok.stderr);
  t.deepEqual(dumped(ok).argv.map((b) => b.toString()), ['mine']);
  // gen published "<its reference> victim/secret=<the victim's>": both sealed, both labelled, one too many.
  const spliced = { ...stepEnv([own.declared, other.declared]), TLR_REF_LABELS: 'gen/report' };
  t.regex(await refused(t, v, [own.token, other.token], spliced), /expected 1 item\(s\) \(gen\/report\), found 2: a producing task published more than its own reference/);
});

test('usage errors exit 2 and say what is expected', async (t) => {
  const r = await run(['--', 'true'], {});
  t.is(r.code, 2);
  t.regex(r.stderr, /--root <dir> \(where the result workspace is mounted\) is required/);
  const u = await run(['--root', '/x'], {});
  t.is(u.code, 2);
  t.regex(u.stderr, /expected -- before the command/);
  const w = await run(['--root', '/x', 'true'], {});
  t.is(w.code, 2);
  t.regex(w.stderr, /unknown option "true"/);
});

test('elements of structured results (TLR_SELECTORS) reach args and env; a large object yields a small element', async (t) => {
  const v = await volume(t);
  const image = await v.result('build', 'image', JSON.stringify({ url: HOSTILE, big: 'x'.repeat(300 * 1024), digest: 'sha256:\u00e9' }));
  const files = await v.result('build', 'files', '["a.txt", null, "it\'s \\"c\\""]');
  const sel = (s: string, token: string): string => `[[tlr:select:${s}:${token}]]`;
  const env = { ...stepEnv([image.declared, files.declared]), TLR_REF_LABELS: 'build/image build/files', TLR_SELECTORS: 'build/image.url build/image.digest build/files[1] build/files[2]' };
  const r = await run(['--root', v.root, '--', 'python3', '-c', DUMP, sel('.url', image.token), `${sel('.digest', image.token)}|${sel('[2]', files.token)}`, sel('[0]', files.token)], {
    ...env,
    PARAM_EMPTY: sel('[1]', files.token),
  });
  t.is(r.code, 0, r.stderr);
  const d = dumped(r);
  // [0] is not declared: it stays text, but the reference inside it is, so that part is the whole value.
  t.deepEqual(d.argv.map((b) => b.toString()), [HOSTILE, 'sha256:\u00e9|it\'s "c"', '[[tlr:select:[0]:["a.txt", null, "it\'s \\"c\\""]]]']);
  t.is(d.env.PARAM_EMPTY?.toString(), '');
});

test('a missing key, an index out of range, a value not as declared or changed after sealing fail before the command runs', async (t) => {
  const v = await volume(t);
  const image = await v.result('build', 'image', '{"url":"u"}');
  const files = await v.result('build', 'files', '["a", 1]');
  const env = { ...stepEnv([image.declared, files.declared]), TLR_REF_LABELS: 'build/image build/files', TLR_SELECTORS: 'build/image.tag build/files[5] build/files[0]' };
  const cases: Array<[string, RegExp]> = [
    [`[[tlr:select:.tag:${image.token}]]`, /has no key "tag"; found keys "url"/],
    [`[[tlr:select:[5]:${files.token}]]`, /declared an array, expected a string .*found "1" in element \[1\]/],
  ];
  for (const [arg, message] of cases) {
    const r = await run(['--root', v.root, '--', 'python3', '-c', 'print("ran")', arg], env);
    t.is(r.code, 1, arg);
    t.regex(r.stderr, message);
    t.is(r.stdout.length, 0);
  }
  await writeFile(image.file, '{"url":"v"}');
  const changed = await run(['--root', v.root, '--', 'python3', '-c', 'print("ran")', `[[tlr:select:.url:${image.token}]]`], { ...env, TLR_SELECTORS: 'build/image.url' });
  t.is(changed.code, 1);
  t.regex(changed.stderr, /does not match its reference/);
  const undeclared = await run(['--root', v.root, '--', 'python3', '-c', 'print("ran")'], { ...env, TLR_SELECTORS: 'other/image.url' });
  t.is(undeclared.code, 1);
  t.regex(undeclared.stderr, /TLR_SELECTORS.*found "other\/image.url"/);
});

test('the exec helper\'s Go tests pass: its JSON reader never reads another value than encoding/json (Tekton\'s parser)', async (t) => {
  await builtExecHelper();
  const child = spawn('go', ['test', '-count=1', './...'], { cwd: new URL('../../../exec/', import.meta.url).pathname, env: { ...process.env, CGO_ENABLED: '0' } });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.is(code, 0, output);
});

test('--workdir: the step runs in the directory the value names, created if missing; an empty value leaves it where it started', async (t) => {
  const v = await volume(t);
  const base = await tempDir(t, 'tlr-exec-wd-');
  const sub = await v.result('gen', 'subdir', "pkg/it's $(x) dir");
  const cwd = 'import os; print(os.getcwd())';
  let r = await run(['--root', v.root, '--workdir', `${base}/src/${sub.token}`, '--', 'python3', '-c', cwd], stepEnv([sub.declared]));
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.toString().trim(), `${base}/src/pkg/it's $(x) dir`);
  await access(join(base, 'src', "pkg/it's $(x) dir"));
  // The directory exists already: entered as it is.
  r = await run(['--root', v.root, '--workdir', `${base}/src/${sub.token}`, '--', 'python3', '-c', cwd], stepEnv([sub.declared]));
  t.is(r.stdout.toString().trim(), `${base}/src/pkg/it's $(x) dir`);
  // An empty value, alone: as with no workingDir, the step stays where the container started.
  const empty = await v.result('gen', 'empty', '');
  const child = spawn(await builtExecHelper(), ['--root', v.root, '--workdir', empty.token, '--', 'python3', '-c', cwd], {
    cwd: base,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...stepEnv([empty.declared]) },
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  t.is(await new Promise<number | null>((resolve) => child.on('close', resolve)), 0);
  t.is(out.trim(), base);
});

test('--workdir: a path Linux cannot take, or a directory that cannot be made, fails before the command runs, naming the workingDir', async (t) => {
  const v = await volume(t);
  const base = await tempDir(t, 'tlr-exec-wd-');
  const marker = join(v.root, 'ran');
  const runIn = (workdir: string, declared: string[]): Promise<Ran> =>
    run(['--root', v.root, '--workdir', workdir, '--', 'python3', '-c', `open(${JSON.stringify(marker)}, "w")`], stepEnv(declared));
  const long = await v.result('gen', 'long', 'd/'.repeat(2100));
  let r = await runIn(`${base}/${long.token}`, [long.declared]);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /^tlr-exec: error: the working directory \(workingDir\) would take result "long" of task "gen", 4200 bytes; Linux takes paths of at most 4095 bytes \(PATH_MAX\)/);
  const half = await v.result('gen', 'half', 'e/'.repeat(1100));
  r = await runIn(`${base}/${half.token}/${half.token}`, [half.declared]);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /^tlr-exec: error: the working directory \(workingDir ".*"\) would be \d{4} bytes with its results substituted; Linux takes paths of at most 4095 bytes \(PATH_MAX\)/);
  await writeFile(join(base, 'file'), 'not a directory');
  const name = await v.result('gen', 'name', 'file/below');
  r = await runIn(`${base}/${name.token}`, [name.declared]);
  t.is(r.code, 1, r.stderr);
  t.true(r.stderr.startsWith(`tlr-exec: error: cannot create the working directory "${base}/file/below" (workingDir "${base}/${name.token}"`), r.stderr);
  t.regex(r.stderr, /not a directory\n$/);
  const nul = await v.result('gen', 'nul', Buffer.from('a\0b'));
  r = await runIn(`${base}/${nul.token}`, [nul.declared]);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /result "nul" of task "gen" has a NUL byte at offset 1, .*the working directory \(workingDir\) cannot carry it/);
  await t.throwsAsync(access(marker), undefined, 'the command never ran');
});
