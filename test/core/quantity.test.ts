/**
 * Config sizes are Kubernetes quantities, valued as Kubernetes values them: every text of the table
 * test/fixtures/quantity/quantities.json (made by k8s.io/apimachinery's resource.ParseQuantity, see
 * test/core/quantity-expectations.ts) is accepted with exactly its Value() when that is a positive int64, and
 * refused otherwise (not a quantity, zero or negative, or beyond what an int64 holds, where Value() wraps or clamps).
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { parseQuantity } from '../../src/core/quantity.js';
import { FIXTURE, quantityCandidates, type OracleQuantity } from './quantity-corpus.js';

const table = JSON.parse(readFileSync(FIXTURE, 'utf8')) as OracleQuantity[];
const MAX = (1n << 63n) - 1n;

function expected(r: OracleQuantity): bigint | undefined {
  if (r.error !== undefined || r.value === undefined || r.sign <= 0) return undefined;
  const v = BigInt(r.value);
  // Value() wraps (9223372036854775808 -> negative, 1e100 -> 0) or clamps (8Ei -> MaxInt64) past an int64: an
  // overflow shows as a value far from the float64 approximation, or as MaxInt64 itself.
  const approx = r.approx ?? 0;
  if (v <= 0n || v >= MAX || (approx > 1e18 && Math.abs(Number(v) - approx) > approx * 1e-9)) return undefined;
  return v;
}

test('the table covers every candidate (regenerate it when the candidates change)', (t) => {
  t.deepEqual(table.map((r) => r.q), quantityCandidates());
});

test("every quantity is valued as apimachinery values it, or refused where it is not a positive int64", (t) => {
  const wrong: string[] = [];
  for (const r of table) {
    const want = expected(r);
    let got: bigint | string;
    try {
      got = BigInt(parseQuantity(r.q, 'size'));
    } catch (error) {
      got = (error as Error).message;
    }
    if (want === undefined ? typeof got !== 'string' : got !== want) wrong.push(`${JSON.stringify(r.q)}: expected ${want ?? 'a refusal'}, got ${got}`);
  }
  t.deepEqual(wrong, []);
  t.true(table.filter((r) => expected(r) !== undefined).length > 400, 'most of the table is accepted sizes');
});

test('the issue\'s examples and what a refusal says', (t) => {
  t.is(parseQuantity('1e9', 'size'), 1e9);
  t.is(parseQuantity('+1Gi', 'size'), 2 ** 30);
  t.is(parseQuantity('2Ei', 'maxResultSize'), 2 ** 61);
  t.is(parseQuantity('1.5Gi', 'size'), 1.5 * 2 ** 30);
  t.throws(() => parseQuantity('1GB', 'size'), { message: 'config key "size": expected a Kubernetes quantity such as 512Mi, 1Gi, 1.5G, 1e9 or 1048576, found "1GB"' });
  t.throws(() => parseQuantity('0', 'size'), { message: 'config key "size": expected a positive size, found "0"' });
  t.throws(() => parseQuantity('10Ei', 'size'), { message: /"10Ei" is more than a Kubernetes quantity holds \(less than 9223372036854775807 bytes\)/ });
});
