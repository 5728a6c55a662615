/**
 * A marked script (it began with a value by reference) gets, with its values in, the preamble Tekton would have given
 * it inline: none when the script then starts with `#!` (white space skipped as Go's strings.TrimSpace skips it),
 * `#!/bin/sh\nset -e\n` otherwise; `#!win` and an empty script, which a pod created already cannot follow, are refused
 * with the original left intact. The heredoc guard follows the interpreter so decided.
 */
import test, { type ExecutionContext } from 'ava';
import { writeFileSync } from 'node:fs';
import { chmod, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { SCRIPT_PREAMBLE_MARK } from '../../src/api/names.js';
import { selectorToken } from '../../src/core/structured.js';
import { leadingSpace, preambleDecision } from '../../init/script-preamble.js';
import { defaultOutput, substituteScripts, type SubstituteOptions } from '../../init/substitute.js';
import { makeVolume, PRODUCER, RUN_DIR, writeResult, type TempVolume } from './temp-volume.js';

const PREAMBLE = '#!/bin/sh\nset -e\n';

function optionsFor(volume: TempVolume, refs: string, extra: Partial<SubstituteOptions> = {}): SubstituteOptions {
  return { root: volume.root, runDir: RUN_DIR, scriptsDir: volume.scriptsDir, maxSubstituted: 1 << 30, refs, log: () => undefined, warn: () => undefined, ...extra };
}

/** Writes `body` as a marked script (the rewrite's mark as its first line); returns its path. */
async function markedScript(volume: TempVolume, body: string): Promise<string> {
  const path = join(volume.scriptsDir, 'script-0-abcde');
  await writeFile(path, SCRIPT_PREAMBLE_MARK + body);
  return path;
}

/** The marked script `template` becomes with `value` in it (the template names the value as `VALUE`). */
async function substituted(t: ExecutionContext, value: string | Buffer, template = 'VALUE', extra: Partial<SubstituteOptions> = {}): Promise<Buffer> {
  const volume = await makeVolume(t);
  const ref = await writeResult(volume, 'code', value);
  const path = await markedScript(volume, template.replaceAll('VALUE', ref));
  await chmod(path, 0o755);
  await substituteScripts(optionsFor(volume, ref, extra));
  return readFile(path);
}

test('a value bringing its own #! line is the whole script: nothing prepended, the mark gone', async (t) => {
  const python = "#!/usr/bin/python\n\nimport openshift as oc\nprint('x')\n";
  t.is((await substituted(t, python)).toString(), python);
  t.is((await substituted(t, `#!/bin/bash\necho hi`, ' \n VALUE\n')).toString(), ' \n #!/bin/bash\necho hi\n', 'white space before it kept, as Tekton keeps it');
});

test('a value without a #! line gets Tekton’s #!/bin/sh and set -e, exactly as inline', async (t) => {
  t.is((await substituted(t, 'echo "$HOME"\n')).toString(), `${PREAMBLE}echo "$HOME"\n`);
  t.is((await substituted(t, '  \t')).toString(), `${PREAMBLE}  \t`, 'only white space: Tekton prepends');
  t.is((await substituted(t, '', 'VALUE#!/bin/bash\n')).toString(), '#!/bin/bash\n', 'an empty value before a literal #!');
  t.is((await substituted(t, 'x', 'VALUE#!/bin/bash\n')).toString(), `${PREAMBLE}x#!/bin/bash\n`);
});

test('white space is what Go’s TrimSpace skips: NBSP and U+3000 are, a BOM and an invalid byte are not', async (t) => {
  t.is((await substituted(t, '\u00a0\u3000#!/bin/bash\n')).toString(), '\u00a0\u3000#!/bin/bash\n');
  t.is((await substituted(t, '\ufeff#!/bin/bash\n')).toString(), `${PREAMBLE}\ufeff#!/bin/bash\n`);
  const invalid = Buffer.from([0xc2, 0x23, 0x21]); // a truncated sequence, then "#!"
  t.deepEqual(await substituted(t, invalid), Buffer.concat([Buffer.from(PREAMBLE), invalid]));
  t.is(leadingSpace(Buffer.from([0x20, 0xe3, 0x80]), false), undefined, 'a space cut in two: more is needed');
  t.is(leadingSpace(Buffer.from([0x20, 0xe3, 0x80]), true), 1);
  t.is(preambleDecision(Buffer.from(' #!wi'), false), undefined, 'could still be #!win');
  t.is(preambleDecision(Buffer.from(' #!wi'), true), 'shebang');
});

test('an element of a structured result at the start decides it as well', async (t) => {
  const volume = await makeVolume(t);
  const ref = await writeResult(volume, 'code', JSON.stringify({ main: '#!/usr/bin/env python3\nprint(1)\n', other: 'x' }));
  const path = await markedScript(volume, selectorToken({ key: 'main' }, ref));
  await substituteScripts(optionsFor(volume, `${PRODUCER}/code=${ref}`, { refLabels: `${PRODUCER}/code`, selectors: `${PRODUCER}/code.main` }));
  t.is((await readFile(path)).toString(), '#!/usr/bin/env python3\nprint(1)\n');
});

test('the heredoc guard follows the decided interpreter: on for /bin/sh, off for a Python #! line', async (t) => {
  const template = 'VALUE\ncat <<EOF\nVALUE\nEOF\n';
  await t.throwsAsync(substituted(t, 'echo $HOME', template), { message: /here-document/ });
  const value = '#!/usr/bin/python\n# $HOME\n';
  t.is((await substituted(t, value, template)).toString(), `${value}\ncat <<EOF\n${value}\nEOF\n`);
});

async function refusedWith(t: ExecutionContext, value: string, pattern: RegExp): Promise<void> {
  const volume = await makeVolume(t);
  const ref = await writeResult(volume, 'code', value);
  const path = await markedScript(volume, ref);
  await t.throwsAsync(substituteScripts(optionsFor(volume, ref)), { message: pattern });
  t.is(await readFile(path, 'utf8'), SCRIPT_PREAMBLE_MARK + ref, 'the original script is untouched');
  t.deepEqual((await readdir(volume.scriptsDir)).filter((n) => n.startsWith('.')), [], 'no temp file left');
}

test('#!win, an empty script and a start of only white space beyond the bound are refused, naming the script', async (t) => {
  await refusedWith(t, '#!win pwsh\nWrite-Host hi', /script-0-abcde begins with a value by reference .* starts with "#!win", found "#!win pwsh": Tekton runs such a script with PowerShell/);
  await refusedWith(t, '', /script-0-abcde begins with a value by reference .* it is empty: expected a script/);
  await refusedWith(t, ' '.repeat(2 * 1024 * 1024) + '#!/bin/sh', /first \d+ bytes are all white space: expected a #! line or the script's first command within 1048576 bytes/);
});

// A tampered value whose start would be refused (#!win) is reported as changed, not as the script it made.
const TAMPERED: ReadonlyArray<readonly [string, string]> = [['#!/usr/bin/python\nprint(1)\n', 'echo "python"; exit 1\n\n\n\n\n\n'], ['#!/bin/bash\necho hi\n', '#!win pwsh\nWrite-Ho\n']];
for (const [original, found] of TAMPERED) {
  test(`a value changed after it was sealed is refused by its digest, as in any script (${JSON.stringify(found.slice(0, 10))})`, async (t) => {
    const volume = await makeVolume(t);
    const ref = await writeResult(volume, 'code', original);
    t.is(found.length, original.length, 'the same size: only the digest tells');
    await writeFile(join(volume.root, RUN_DIR, PRODUCER, 'code'), found);
    const path = await markedScript(volume, ref);
    await t.throwsAsync(substituteScripts(optionsFor(volume, ref)), { message: /does not match its reference: expected sha256/ });
    t.is(await readFile(path, 'utf8'), SCRIPT_PREAMBLE_MARK + ref);
  });
}

test('a value that changes between the decision and the verified copy is refused: the decision stands on verified bytes', async (t) => {
  const volume = await makeVolume(t);
  // Large enough that the decision reads only its start (a small value is read to its end, digest and all).
  const original = `#!/usr/bin/python\n${'#'.repeat(4 << 20)}\n`;
  const ref = await writeResult(volume, 'code', original);
  const file = join(volume.root, RUN_DIR, PRODUCER, 'code');
  await writeFile(file, `echo "not python"\n${'#'.repeat(4 << 20)}\n`); // what the decision reads (same size)
  const path = await markedScript(volume, ref);
  const createOutput = (out: string): Writable => {
    writeFileSync(file, original); // put back before the verified copy reads it
    return defaultOutput(out);
  };
  await t.throwsAsync(substituteScripts(optionsFor(volume, ref, { createOutput })), { message: /substituted start differs from the bytes its #! line was decided on/ });
  t.is(await readFile(path, 'utf8'), SCRIPT_PREAMBLE_MARK + ref);
  t.deepEqual((await readdir(volume.scriptsDir)).filter((n) => n.startsWith('.')), [], 'no temp file left');
});

test('an element whose escapes arrive a byte at a time is decided in linear time (100,000 escaped newlines first)', async (t) => {
  const volume = await makeVolume(t);
  const main = `${'\n'.repeat(100_000)}echo hi\n`;
  const ref = await writeResult(volume, 'code', JSON.stringify({ main }));
  const path = await markedScript(volume, selectorToken({ key: 'main' }, ref));
  await substituteScripts(optionsFor(volume, `${PRODUCER}/code=${ref}`, { refLabels: `${PRODUCER}/code`, selectors: `${PRODUCER}/code.main` }));
  t.is((await readFile(path)).toString(), PREAMBLE + main);
});

test('a marked script holding no declared token is still decided (the mark never reaches the kernel)', async (t) => {
  const volume = await makeVolume(t);
  const path = await markedScript(volume, 'echo hi\n');
  await substituteScripts(optionsFor(volume, ''));
  t.is(await readFile(path, 'utf8'), `${PREAMBLE}echo hi\n`);
});
