/**
 * The inputs of the kubectl YAML comparison, shared by the test and by the generator of its expected values: the
 * corpus files, the scalar candidates, and the canonical form documents are compared in.
 */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

export const FIXTURES = 'test/fixtures/kubectl-yaml';
const TEKTON = '../shared/tekton/v1.15.0';

/** What the oracle printed for one document: kubectl's JSON, or its error. */
export interface OracleResult {
  readonly json?: string;
  readonly error?: string;
}

/** Every YAML file of the corpus: Tekton v1.15.0's examples and our fixture Tasks, by a stable name. */
export function corpusFiles(): Array<{ name: string; path: string }> {
  const files: Array<{ name: string; path: string }> = [];
  for (const [base, prefix] of [[join(TEKTON, 'examples'), 'tekton/examples'], [join(FIXTURES, 'tasks'), 'tasks']] as const) {
    for (const entry of readdirSync(base, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !/\.ya?ml$/.test(entry.name)) continue;
      const path = join(entry.parentPath, entry.name);
      files.push({ name: `${prefix}/${relative(base, path)}`, path });
    }
  }
  return files.sort((a, b) => a.name.localeCompare(b.name));
}

/** JSON with keys sorted, hashed: equal for equal documents whatever the key order or number spelling. */
export function canonicalHash(value: unknown): string {
  return createHash('sha256').update(canonical(value)).digest('hex');
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * Plain scalars where YAML 1.1, YAML 1.2 and go-yaml v2 disagree, or could: Go's strconv prefixes and underscores,
 * dots, signs, exponents, ranges, YAML 1.1 booleans in every case, timestamps, sexagesimals; then each numeric core
 * with a sign, and a deterministic sample of short strings of number-ish characters.
 */
export function scalarCandidates(): string[] {
  const cores = [
    '0', '1', '00', '08', '010', '017', '0755', '0o17', '0O17', '0o', '0o8', '0x1F', '0X1f', '0x', '0x_', '0x_1F', '0x1_F',
    '0b101', '0B101', '0b', '0b2', '0b1_0', '0b-101', '0b+101', '-0b101', '-0b-1', '0_1', '1_000', '1__0', '_1', '1_',
    '.', '._', '.5', '.5_5', '._5', '.5_', '.5__5', '.5e3', '.5e_3', '.5e3_0', '.e5', '.5e', '5.', '5.e3', '5._', '1.0',
    '1.5e6', '1e5', '1E5', '1e+5', '1e-5', '1e', 'e1', '0e0', '1e400', '1e-400', '.1e400', '.1e-400', '1.7976931348623157e308',
    '1.7976931348623159e308', '4.9e-324', '1_2.3_4', '0x1p-2', '0x1.8p1', '9007199254740991', '9007199254740993',
    '9223372036854775807', '9223372036854775808', '-9223372036854775808', '-9223372036854775809', '18446744073709551615',
    '18446744073709551616', '99999999999999999999', 'inf', 'Inf', 'nan', 'NaN', 'infinity', '.inf', '.Inf', '.INF', '.iNf',
    '.nan', '.NaN', '.NAN', '.nAn', '+.inf', '-.inf', '+.nan', '-.nan', '-.', '+.', '-._', '+_1', '-_', '+', '-0', '+0', '0.',
    '1.2.3', '0.50.0', '1,000', '1:30', '12:30:45', '190:20:30', '1:30.5', '2001-12-14', '2001-12-14t21:59:43.10-05:00',
    '2001-12-14 21:59:43.10', '2001-1-2', '20011-12-14', 'y', 'Y', 'yes', 'Yes', 'YES', 'yEs', 'n', 'N', 'no', 'No', 'NO', 'nO',
    'on', 'On', 'ON', 'oN', 'off', 'Off', 'OFF', 'oFF', 'true', 'True', 'TRUE', 'tRUE', 'false', 'False', 'FALSE', 'fALSE',
    't', 'f', 'o', 'null', 'Null', 'NULL', 'nULL', 'nil', '~', '~~', '=', '<<', 'v1', 'o0', '0.5.', '1e1.5', '0x1e5',
  ];
  const signed = cores.filter((c) => /^[0-9.]/.test(c)).flatMap((c) => [`+${c}`, `-${c}`]);
  return [...new Set([...cores, ...signed, ...sample()])];
}

/** 400 short strings over number-ish characters, from a fixed linear congruential sequence (always the same). */
function sample(): string[] {
  const alphabet = '0123456789._-+eExXoObB';
  let seed = 20260405;
  const next = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648);
  const out: string[] = [];
  while (out.length < 400) {
    const length = 1 + (next() % 6);
    let s = '';
    for (let i = 0; i < length; i++) s += alphabet.charAt(next() % alphabet.length);
    if (!/^[-+]?[0-9.]/.test(s) || s === '-' || s.startsWith('- ')) continue;
    out.push(s);
  }
  return out;
}
