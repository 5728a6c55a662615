/**
 * The heredoc guard, through the real substitute on real files, and each script then run by a real shell: a value
 * that would end its here-document (or be expanded in an unquoted one) is refused with the script unchanged; a value
 * that does not is delivered byte for byte. Every hostile value here ran injected shell before the guard existed.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CHUNK_SIZE } from '../../init/hash-file.js';
import { shebangInterpreter } from '../../init/heredoc-guard.js';
import { substituteScripts, type SubstituteOptions } from '../../init/substitute.js';
import { makeVolume, RUN_DIR, writeResult, type TempVolume } from './temp-volume.js';

const run = promisify(execFile);

function optionsFor(volume: TempVolume, refs: string, warnings: string[] = []): SubstituteOptions {
  const warn = (msg: string, fields: Record<string, unknown>): void => void warnings.push(`${msg}: ${String(fields.context)}`);
  return { root: volume.root, runDir: RUN_DIR, scriptsDir: volume.scriptsDir, refs, maxSubstituted: 1 << 30, log: () => undefined, warn };
}

/** A script around one value (`@` marks where the value's token goes); the value is written as a sealed result. */
async function setUp(t: import('ava').ExecutionContext, template: string, value: string): Promise<{ volume: TempVolume; script: string; token: string }> {
  const volume = await makeVolume(t);
  const token = await writeResult(volume, 'v', value);
  const script = join(volume.scriptsDir, 'script-0-test');
  await writeFile(script, template.replaceAll('@', token));
  await chmod(script, 0o755);
  return { volume, script, token };
}

const INJECTION = 'touch "$PWNED"';

const refusedCases: Array<[string, string, string, RegExp]> = [
  // The delimiter line across the boundary between two chunks of the value, both ways.
  ['the delimiter split across read chunks', "#!/bin/sh\ncat <<'EOF'\n@\nEOF\n", `${'a'.repeat(CHUNK_SIZE - 2)}\nEOF\n${INJECTION}`, /makes a line "EOF"/],
  ['the delimiter starting a new read chunk', "#!/bin/sh\ncat <<'EOF'\n@\nEOF\n", `${'a'.repeat(CHUNK_SIZE - 1)}\nEOF\n${INJECTION}`, /makes a line "EOF"/],
  ['the delimiter line inside the value', "#!/bin/sh\ncat <<'EOF'\n@\nEOF\n", `report\nEOF\n${INJECTION}\n`, /makes a line "EOF"/],
  ['the delimiter as the value\'s last line (no newline)', "#!/bin/sh\ncat <<'EOF'\n@\nEOF\n", `a\nEOF`, /makes a line "EOF"/],
  ['the delimiter as the value\'s first line', "#!/bin/sh\ncat <<'EOF'\n@\nEOF\n", `EOF\n${INJECTION}`, /makes a line "EOF"/],
  ['a value completing the delimiter with the text around it', "#!/bin/sh\ncat <<'TLR_END'\nTLR_@\nTLR_END\n", `END\n${INJECTION}`, /makes a line "TLR_END"/],
  ['<<- with tabs before the delimiter in the value', "#!/bin/bash\ncat <<-'EOF'\n\t@\n\tEOF\n", `x\n\t\tEOF\n${INJECTION}`, /makes a line "EOF"/],
  ['a double-quoted delimiter', '#!/bin/bash\ncat <<"END"\n@\nEND\n', `END\n${INJECTION}`, /makes a line "END"/],
  ['a heredoc in $( )', "#!/bin/sh\nx=$(cat <<'E'\n@\nE\n)\necho \"$x\"\n", `E\n${INJECTION}`, /makes a line "E"/],
  ['the second of two heredocs on one line', "#!/bin/bash\ncat <<'A' - <<'B'\na\nA\n@\nB\n", `B\n${INJECTION}`, /makes a line "B"/],
  ['$(…) in an unquoted heredoc', '#!/bin/sh\ncat <<EOF\n@\nEOF\n', `$(${INJECTION})`, /unquoted here-document .* holds "\$"/],
  ['backquotes in an unquoted heredoc', '#!/bin/sh\ncat <<EOF\n@\nEOF\n', '`id`', /holds "`"/],
  ['Tekton\'s default preamble (no shebang of its own)', "#!/bin/sh\nset -e\ncat <<'R'\n@\nR\n", `R\n${INJECTION}`, /makes a line "R"/],
];

for (const [name, template, value, message] of refusedCases) {
  test(`refused: ${name}`, async (t) => {
    const { volume, script, token } = await setUp(t, template, value);
    const before = await readFile(script);
    const error = await t.throwsAsync(substituteScripts(optionsFor(volume, token)));
    t.regex(error.message, message);
    t.regex(error.message, new RegExp(`^Script ${script.replaceAll('/', '\\/')}: the value of ${RUN_DIR}/producer/v substituted on line \\d+ `));
    t.like(error, { code: 'E_RESULT_UNSAFE' });
    t.deepEqual(await readFile(script), before, 'the script is unchanged');
  });
}

const deliveredCases: Array<[string, string, string]> = [
  ['a value holding the delimiter inside a longer line', "#!/bin/sh\ncat <<'EOF'\n@\nEOF\n", 'EOF is not alone\n EOF\nEOF \nxEOF\n'],
  ['shell syntax in a quoted heredoc', "#!/bin/sh\ncat <<'EOF'\n@\nEOF\n", `$(${INJECTION}) \`${INJECTION}\` \\ '"\n`],
  ['another heredoc\'s delimiter', "#!/bin/sh\ncat <<'A'\n@\nA\ncat <<'B'\nb\nB\n", 'B\nEOF\n'],
  ['arithmetic shifts and here-strings are not heredocs', "#!/bin/bash\necho $((1 << 2)) <<< x\ncat <<'E'\n@\nE\n", '2\nx\n'],
  ['"<<" in quotes and comments is not a heredoc', "#!/bin/sh\necho '<<A' \"<<B\" # <<C\ncat <<'E'\n@\nE\n", 'A\nB\nC\n'],
];

for (const [name, template, value] of deliveredCases) {
  test(`delivered literally: ${name}`, async (t) => {
    const { volume, script, token } = await setUp(t, template, value);
    const warnings: string[] = [];
    await substituteScripts(optionsFor(volume, token, warnings));
    t.deepEqual(warnings, [], 'a value in a quoted heredoc is checked, not warned about');
    const pwned = join(volume.base, 'pwned');
    const { stdout } = await run(script, [], { env: { PATH: process.env.PATH ?? '', PWNED: pwned } });
    t.true(stdout.includes(value.replace(/\n$/, '')), stdout);
    await t.throwsAsync(readFile(pwned), undefined, 'nothing injected ran');
  });
}

test('a value outside a heredoc, or in a non-shell script, is substituted with a warning naming where it sits', async (t) => {
  const { volume, token } = await setUp(t, "#!/bin/sh\necho '@'\n", 'plain');
  const py = join(volume.scriptsDir, 'script-1-py');
  await writeFile(py, `#!/usr/bin/env python3\nprint(r"""${token}""")\n`);
  const warnings: string[] = [];
  await substituteScripts(optionsFor(volume, token, warnings));
  t.deepEqual(warnings, [
    'Substituted result outside a quoted here-document: outside a here-document',
    'Substituted result outside a quoted here-document: in a script run by python3 (#!/usr/bin/env python3), not a shell',
  ]);
});

test('a quoted heredoc that an interpreter runs as a program is not a safe place: warned, and its delimiter still checked', async (t) => {
  const cases: Array<[string, string | undefined]> = [
    ["python3 - <<'E'", 'python3'],
    ["bash <<'E'", 'bash'],
    ["FOO=1 env sh -s x y <<'E'", 'sh'],
    ["cat in | /usr/bin/node <<'E'", 'node'],
    ["x=$(perl <<'E'", 'perl'],
    ["python3 -c 'import sys; print(sys.stdin.read())' <<'E'", undefined],
    ["python3 read.py <<'E'", undefined],
    ["jq . <<'E'", undefined],
  ];
  for (const [opener, runBy] of cases) {
    const close = opener.includes('$(') ? 'E\n)\n' : 'E\n';
    const { volume, token } = await setUp(t, `#!/bin/sh\n${opener}\n@\n${close}`, 'data');
    const warnings: string[] = [];
    await substituteScripts(optionsFor(volume, token, warnings));
    t.deepEqual(warnings, runBy === undefined ? [] : [`Substituted result outside a quoted here-document: in a here-document <<'E' opened on line 2 that ${runBy} runs as a program`], opener);
  }
  const { volume, token } = await setUp(t, "#!/bin/sh\npython3 - <<'E'\n@\nE\n", `E\n${INJECTION}`);
  await t.throwsAsync(substituteScripts(optionsFor(volume, token)), { message: /makes a line "E"/ });
});

test('the interpreter of a shebang line', (t) => {
  const cases: Array<[string, string | undefined]> = [
    ['#!/bin/sh', 'sh'],
    ['#!/usr/bin/env bash', 'bash'],
    ['#!/usr/bin/env -S bash -eu', 'bash'],
    ['#!/bin/busybox ash', 'ash'],
    ['#! /usr/bin/python3 -u', 'python3'],
    ['echo no shebang', undefined],
  ];
  for (const [line, expected] of cases) t.is(shebangInterpreter(line), expected, line);
});
