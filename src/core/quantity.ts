/**
 * Kubernetes resource quantities (`512Mi`, `1Gi`, `1.5G`, `1e9`, `+2Ei`, `1048576`), parsed by the grammar of
 * k8s.io/apimachinery's `resource.ParseQuantity` and valued as its `Value()` (exactly, rounded up to a whole byte).
 * Pinned by a table that apimachinery itself produced (test/fixtures/quantity/). client-node's `quantityToScalar` is
 * not part of its public API and refuses a fraction with a suffix (`1.5Gi`), so it is not used.
 *
 *   <quantity> ::= <sign>? <number> <suffix>
 *   <number>   ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
 *   <suffix>   ::= Ki | Mi | Gi | Ti | Pi | Ei | n | u | m | "" | k | M | G | T | P | E | (e|E) <sign>? <digits>
 */
import { TlrError } from '../errors.js';

const BINARY: Record<string, bigint> = { Ki: 1n << 10n, Mi: 1n << 20n, Gi: 1n << 30n, Ti: 1n << 40n, Pi: 1n << 50n, Ei: 1n << 60n };
const DECIMAL: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const QUANTITY = /^([+-]?)(?:(\d+)(?:\.(\d*))?|\.(\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;
/** Kubernetes holds a quantity's value as an int64. */
const MAX_VALUE = (1n << 63n) - 1n;

/** A quantity's exact value as a fraction `numerator / denominator` (denominator a power of ten), or undefined. */
function exactValue(text: string): { numerator: bigint; denominator: bigint } | undefined {
  const match = QUANTITY.exec(text);
  if (!match) return undefined;
  const [, sign = '', whole = '', fraction = '', onlyFraction = '', suffix = ''] = match;
  const digits = `${whole}${fraction}${onlyFraction}` || '0';
  const numerator = BigInt(digits) * (sign === '-' ? -1n : 1n) * (BINARY[suffix] ?? 1n);
  const exponent = suffixExponent(suffix) - fraction.length - onlyFraction.length;
  return scaled(numerator, exponent);
}

/** `numerator × 10^exponent` as a fraction; far beyond an int64 either way, without building the power of ten. */
function scaled(numerator: bigint, exponent: number): { numerator: bigint; denominator: bigint } {
  const capped = Math.max(-400, Math.min(400, exponent));
  if (capped >= 0) return { numerator: numerator * 10n ** BigInt(capped), denominator: 1n };
  // Below 1e-400 only the sign matters (rounded up to one byte, or refused).
  return { numerator: capped === exponent ? numerator : numerator > 0n ? 1n : -1n, denominator: 10n ** BigInt(-capped) };
}

/** The power of ten a decimal suffix or exponent stands for (0 for a binary suffix). */
function suffixExponent(suffix: string): number {
  if (BINARY[suffix] !== undefined) return 0;
  if (/^[eE][+-]?\d+$/.test(suffix)) return Number(suffix.slice(1));
  return DECIMAL[suffix] ?? 0;
}

/** Parses a Kubernetes resource quantity into a positive number of bytes, as Kubernetes values it (rounded up). */
export function parseQuantity(text: string, key: string): number {
  return Number(parseQuantityExact(text, key));
}

/** parseQuantity's exact value, for comparing and printing sizes past 2^53 bytes (a Number would round `2Ei`). */
export function parseQuantityExact(text: string, key: string): bigint {
  const exact = exactValue(text);
  if (exact === undefined) {
    throw new TlrError(
      'E_CONFIG',
      `config key "${key}": expected a Kubernetes quantity such as 512Mi, 1Gi, 1.5G, 1e9 or 1048576, found "${text}"`,
    );
  }
  const { numerator, denominator } = exact;
  const rounded = numerator <= 0n ? numerator / denominator : (numerator + denominator - 1n) / denominator;
  if (rounded <= 0n) throw new TlrError('E_CONFIG', `config key "${key}": expected a positive size, found "${text}"`);
  // Value() clamps to MaxInt64 or wraps past it: MaxInt64 itself cannot be told from an overflow.
  if (rounded >= MAX_VALUE) {
    throw new TlrError('E_CONFIG', `config key "${key}": "${text}" is more than a Kubernetes quantity holds (less than ${MAX_VALUE} bytes)`);
  }
  return rounded;
}
