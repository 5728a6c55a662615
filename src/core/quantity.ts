import { TlrError } from '../errors.js';

const SUFFIXES: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
};

const QUANTITY = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|k|M|G|T|P)?$/;

/** Parses a Kubernetes resource quantity (`512Mi`, `1Gi`, `1.5G`, `1048576`) into bytes. */
export function parseQuantity(text: string, key: string): number {
  const match = QUANTITY.exec(text.trim());
  if (!match) {
    throw new TlrError(
      'E_CONFIG',
      `config key "${key}": expected a Kubernetes quantity such as 512Mi, 1Gi or 1048576, found "${text}"`,
    );
  }
  const bytes = Math.floor(Number(match[1]) * (SUFFIXES[match[2] ?? ''] ?? 1));
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new TlrError('E_CONFIG', `config key "${key}": expected a positive size, found "${text}"`);
  }
  return bytes;
}
