/**
 * The `--refs` text (env TLR_REFS): the references a consumer uses by path rather than inside a script, separated
 * by whitespace or simply concatenated. Parsed with the same scanner as scripts.
 */
import type { Reference } from '../src/core/reference.js';
import { TlrError } from '../src/errors.js';
import { TokenScanner } from './token-scanner.js';

/** Every reference in `text`, duplicates removed, in order. Throws on anything else than references and spaces. */
export function parseRefsText(text: string): Array<{ reference: Reference; token: string }> {
  const scanner = new TokenScanner('--refs');
  const segments = [...scanner.push(Buffer.from(text, 'utf8')), ...scanner.end()];
  const found = new Map<string, Reference>();
  for (const segment of segments) {
    if (segment.kind === 'reference') {
      found.set(segment.token, segment.reference);
      continue;
    }
    const stray = segment.data.toString('utf8').trim();
    if (stray !== '') {
      throw new TlrError(
        'E_INPUT',
        `--refs must hold only references separated by whitespace, found "${stray.slice(0, 120)}"`,
      );
    }
  }
  return [...found].map(([token, reference]) => ({ reference, token }));
}
