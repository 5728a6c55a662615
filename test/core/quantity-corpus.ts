/** The quantity texts the parser is checked on against apimachinery (test/fixtures/quantity/quantities.json). */
export const FIXTURE = 'test/fixtures/quantity/quantities.json';

export interface OracleQuantity {
  readonly q: string;
  readonly value?: string;
  readonly sign: number;
  readonly approx?: number;
  readonly error?: string;
}

export function quantityCandidates(): string[] {
  const numbers = ['0', '1', '7', '10', '1024', '1.5', '0.5', '.5', '5.', '0.001', '123456789', '1.', '.', '', '00', '1.2.3'];
  const suffixes = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei', 'n', 'u', 'm', 'k', 'M', 'G', 'T', 'P', 'E', 'e3', 'E3', 'e-3', 'e+3', 'e0', 'e', 'K', 'KB', 'kb', 'Kib', 'gi', 'GiB', 'B', 'i', 'e1.5', 'Gi3', 'Mm'];
  const signs = ['', '+', '-'];
  const out = new Set<string>();
  for (const n of numbers) for (const s of suffixes) for (const sign of signs) out.add(`${sign}${n}${s}`);
  for (const extra of ['1e9', '+1Gi', '2Ei', '7Ei', '8Ei', '10Ei', '1e18', '9e18', '1e19', '1e100', '1e-100', '9223372036854775807', '9223372036854775808',
    '8191Pi', '8192Pi', '1 Gi', ' 1Gi', '1Gi ', '--1', '+-1', '1e+', '1e-', '0x10', '1_000', '١', '1Gi\t', 'Infinity', 'NaN', '1e400', '0.0000000001']) {
    out.add(extra);
  }
  return [...out].filter((q) => !q.includes('\n'));
}
