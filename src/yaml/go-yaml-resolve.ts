/**
 * How kubectl types a plain YAML scalar. kubectl (and the API machinery behind `kubectl apply -f`) reads YAML with
 * sigs.k8s.io/yaml, which decodes with go.yaml.in/yaml/v2 (go-yaml v2) into Go values and converts them to JSON.
 * This is go-yaml v2's `resolve` (resolve.go) for untagged plain scalars, ported with the Go `strconv` syntax it
 * relies on (ParseInt/ParseUint with base 0, ParseFloat): not YAML 1.1, not YAML 1.2, but this. Pinned against the
 * real thing by test/yaml (a table produced by sigs.k8s.io/yaml v1.6.0 with go.yaml.in/yaml/v2 v2.4.3).
 *
 * Notable: `.`, `-.`, `._`, `0x_` are strings (YAML 1.1 float patterns would make some NaN); `0o17`, `0x1F`,
 * `0b101`, `017`, `1_000` and `+5` are integers; `08` is the float 8; `1e400` is a string (out of range);
 * `yes`/`on`/`y`/`n`/`off` and their capitalised forms are booleans; `~`, `null`, `Null`, `NULL` and the empty scalar
 * are null; timestamps stay strings (go-yaml v2 hands them to `interface{}` as the text).
 */

export type GoScalar =
  | { readonly kind: 'null' }
  | { readonly kind: 'bool'; readonly value: boolean }
  | { readonly kind: 'int'; readonly value: bigint }
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'string' };

const STRING: GoScalar = { kind: 'string' };
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** go-yaml v2's resolveMap: exact spellings. */
const MAP = new Map<string, GoScalar>([
  ...['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON'].map((s) => [s, { kind: 'bool', value: true }] as const),
  ...['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF'].map((s) => [s, { kind: 'bool', value: false }] as const),
  ...['', '~', 'null', 'Null', 'NULL'].map((s) => [s, { kind: 'null' }] as const),
  ...['.nan', '.NaN', '.NAN'].map((s) => [s, { kind: 'float', value: Number.NaN }] as const),
  ...['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF'].map((s) => [s, { kind: 'float', value: Number.POSITIVE_INFINITY }] as const),
  ...['-.inf', '-.Inf', '-.INF'].map((s) => [s, { kind: 'float', value: Number.NEGATIVE_INFINITY }] as const),
]);

/** go-yaml v2's yamlStyleFloat, applied (after removing `_`) to scalars starting with a digit or sign. */
const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
/** What strconv.ParseFloat accepts of a scalar starting with `.` (underscores only between digits). */
const DOT_FLOAT = /^\.[0-9]+(_[0-9]+)*([eE][-+]?[0-9]+(_[0-9]+)*)?$/;

/** The type go-yaml v2 gives an untagged plain scalar. */
export function resolvePlain(text: string): GoScalar {
  const hint = hintOf(text);
  if (hint === undefined) return STRING;
  const mapped = MAP.get(text);
  if (mapped !== undefined) return mapped;
  if (hint === '.') return DOT_FLOAT.test(text) ? finiteFloat(text.replaceAll('_', '')) : STRING;
  if (hint === 'number') return resolveNumber(text);
  return STRING;
}

/** go-yaml v2's resolveTable: which first bytes may start a non-string. */
function hintOf(text: string): 'map' | '.' | 'number' | undefined {
  const c = text.charAt(0);
  if (c === '') return 'map';
  if (c === '+' || c === '-' || (c >= '0' && c <= '9')) return 'number';
  if (c === '.') return '.';
  return 'yYnNtTfFoO~'.includes(c) ? 'map' : undefined;
}

function resolveNumber(text: string): GoScalar {
  const plain = text.replaceAll('_', '');
  const int = parseGoInt(plain, 0) ?? parseGoUint(plain, 0);
  if (int !== undefined) return { kind: 'int', value: int };
  if (YAML_STYLE_FLOAT.test(plain)) {
    const float = finiteFloat(plain);
    if (float.kind === 'float') return float;
  }
  let binary: bigint | undefined;
  if (plain.startsWith('0b')) binary = parseGoInt(plain.slice(2), 2) ?? parseGoUint(plain.slice(2), 2);
  else if (plain.startsWith('-0b')) binary = parseGoInt(`-${plain.slice(3)}`, 2);
  return binary === undefined ? STRING : { kind: 'int', value: binary };
}

/** strconv.ParseFloat of syntactically valid decimal text: an out-of-range value is an error (so: a string). */
function finiteFloat(text: string): GoScalar {
  const value = Number(text);
  return Number.isFinite(value) ? { kind: 'float', value } : STRING;
}

/** strconv.ParseInt(s, base, 64), undefined on any error. */
export function parseGoInt(s: string, base: number): bigint | undefined {
  const negative = s.startsWith('-');
  const unsigned = parseGoUint(negative || s.startsWith('+') ? s.slice(1) : s, base);
  if (unsigned === undefined) return undefined;
  if (negative) return unsigned <= INT64_MAX + 1n ? -unsigned : undefined;
  return unsigned <= INT64_MAX ? unsigned : undefined;
}

/** strconv.ParseUint(s, base, 64) for base 0 (prefixes 0b, 0o, 0x, 0) or an explicit base; no sign, no `_`. */
export function parseGoUint(s: string, base: number): bigint | undefined {
  if (s === '') return undefined;
  let digits = s;
  let radix = base;
  if (base === 0) {
    radix = 10;
    if (s.startsWith('0')) {
      const prefix = s.length >= 3 ? s.charAt(1).toLowerCase() : '';
      radix = { b: 2, o: 8, x: 16 }[prefix] ?? 8;
      digits = radix === 8 && prefix !== 'o' ? s.slice(1) : s.slice(2);
    }
  }
  let n = 0n;
  for (const ch of digits) {
    const d = digitValue(ch);
    if (d < 0 || d >= radix) return undefined;
    n = n * BigInt(radix) + BigInt(d);
    if (n > UINT64_MAX) return undefined;
  }
  return n;
}

function digitValue(ch: string): number {
  const c = ch.toLowerCase().charCodeAt(0);
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 10;
  return -1;
}

/**
 * A float mapping key as sigs.k8s.io/yaml writes it into JSON: strconv.FormatFloat(key, 'g', -1, 32) (float32, the
 * shortest digits that read back the same, exponent form below 1e-4 and from 1e6), then `.inf`, `-.inf`, `.nan`.
 */
export function goFloatKey(value: number): string {
  const f32 = Math.fround(value);
  if (Number.isNaN(f32)) return '.nan';
  if (!Number.isFinite(f32)) return f32 > 0 ? '.inf' : '-.inf';
  if (f32 === 0) return Object.is(f32, -0) ? '-0' : '0';
  let precision = 1;
  while (precision < 9 && Math.fround(Number(f32.toPrecision(precision))) !== f32) precision++;
  const [mantissa = '', exp = '0'] = f32.toExponential(precision - 1).split('e');
  return formatG(f32 < 0 ? '-' : '', mantissa.replace('-', '').replace('.', ''), Number(exp));
}

/** Go's %g of shortest digits: exponent form when the exponent is below -4 or at least 6 (two exponent digits). */
function formatG(sign: string, digits: string, exponent: number): string {
  if (exponent < -4 || exponent >= 6) {
    const e = `${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
    return `${sign}${digits.charAt(0)}${digits.length > 1 ? `.${digits.slice(1)}` : ''}e${e}`;
  }
  const point = exponent + 1;
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}
