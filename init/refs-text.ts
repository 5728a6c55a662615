/**
 * The `--refs` text (env TLR_REFS): every reference this consumer task uses, by value or by path, as the rewrite
 * declared them (its `tlr-refs` param, `$(tasks.<t>.results.<r>)` each, which Tekton replaces by the producers'
 * results). Separated by whitespace or simply concatenated. These are the only references substitute acts on.
 */
import { REFERENCE_OPENING, REFERENCE_PATTERN, checkRelativePath, type Reference } from '../src/core/reference.js';
import { TlrError } from '../src/errors.js';
import { NOTICE_PREFIX } from './seal-notice.js';

export interface DeclaredReference {
  readonly reference: Reference;
  readonly token: string;
}

const WHAT = 'the references this task uses (--refs, env TLR_REFS)';

/** Every reference in `text`, duplicates removed, in order. Throws on anything else than references and spaces. */
export function parseRefsText(text: string): DeclaredReference[] {
  const found = new Map<string, Reference>();
  let last = 0;
  for (const match of text.matchAll(new RegExp(REFERENCE_PATTERN.source, 'g'))) {
    requireBlank(text.slice(last, match.index));
    last = match.index + match[0].length;
    const [token, sha256, size, path] = match as unknown as [string, string, string, string];
    found.set(token, { version: 'v1', sha256, size: Number(size), path: checkPath(path, token) });
  }
  requireBlank(text.slice(last));
  return [...found].map(([token, reference]) => ({ reference, token }));
}

function checkPath(path: string, token: string): string {
  try {
    return checkRelativePath(path);
  } catch (error) {
    throw new TlrError('E_RESULT_UNSAFE', `${WHAT}: ${token}: ${(error as Error).message}; refusing to read it`);
  }
}

function requireBlank(gap: string): void {
  const stray = gap.trim();
  if (stray === '') return;
  const shown = stray.slice(0, 160);
  const why = stray.startsWith(NOTICE_PREFIX)
    ? "a producing task's tlr-seal step did not seal that result: see that step's log"
    : stray.startsWith(REFERENCE_OPENING)
      ? 'a malformed reference, or one of another version: the producing task must be sealed by the tlr-init ' +
        'image of the same release as the admission webhook'
      : 'a producing task published something else than its reference, or this task was not rewritten by ' +
        'Tekton Large Results';
  throw new TlrError(
    'E_INPUT',
    `${WHAT} must be references [[tlr:v1:…]] separated by whitespace, found "${shown}": ${why}`,
  );
}
