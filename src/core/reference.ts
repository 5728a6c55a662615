/**
 * The reference: what a reference result's real Tekton result holds instead of its value.
 *
 *   [[tlr:v1:sha256=<64 hex>:size=<bytes>:path=<run-dir>/<producer>/<result>]]
 *
 * Small (about 150 bytes, far below the 4 KiB termination-message budget), versioned, self-delimiting (so it can be
 * found inside any script text, whatever surrounds it) and tamper-evident: the init container refuses a file whose
 * size or sha256 differ. `path` is relative to the result volume's root and is checked by `checkRelativePath`.
 */
export interface Reference {
  readonly version: 'v1';
  readonly sha256: string;
  readonly size: number;
  readonly path: string;
}

const PATH_CHARS = '[A-Za-z0-9._/-]';
/** Matches every v1 reference inside a larger text. Global: reset lastIndex or use matchAll. */
export const REFERENCE_PATTERN = new RegExp(
  `\\[\\[tlr:v1:sha256=([0-9a-f]{64}):size=(0|[1-9][0-9]{0,15}):path=(${PATH_CHARS}{1,1024})\\]\\]`,
  'g',
);
/** The fixed opening of every reference, whatever its version. */
export const REFERENCE_OPENING = '[[tlr:';
/** Longest possible v1 reference, for streaming scanners that must hold back a partial match. */
export const REFERENCE_MAX_LENGTH = '[[tlr:v1:sha256=:size=:path=]]'.length + 64 + 16 + 1024;

export function formatReference(ref: Omit<Reference, 'version'>): string {
  const path = checkRelativePath(ref.path);
  if (!/^[0-9a-f]{64}$/.test(ref.sha256)) {
    throw new TypeError(`reference sha256 must be 64 lowercase hex digits, got "${ref.sha256}"`);
  }
  if (!Number.isSafeInteger(ref.size) || ref.size < 0) {
    throw new TypeError(`reference size must be a non-negative integer, got ${ref.size}`);
  }
  return `[[tlr:v1:sha256=${ref.sha256}:size=${ref.size}:path=${path}]]`;
}

/** Parses a text that is exactly one reference (a result value); returns undefined for anything else. */
export function parseReference(text: string): Reference | undefined {
  const trimmed = text.trim();
  const match = new RegExp(`^${REFERENCE_PATTERN.source}$`).exec(trimmed);
  if (!match) return undefined;
  return toReference(match);
}

/** Every reference inside a text, in order of appearance, with its offset. */
export function findReferences(text: string): Array<{ reference: Reference; index: number; length: number }> {
  const found: Array<{ reference: Reference; index: number; length: number }> = [];
  for (const match of text.matchAll(REFERENCE_PATTERN)) {
    found.push({ reference: toReference(match), index: match.index, length: match[0].length });
  }
  return found;
}

function toReference(match: RegExpMatchArray): Reference {
  const [, sha256, size, path] = match as unknown as [string, string, string, string];
  return { version: 'v1', sha256, size: Number(size), path: checkRelativePath(path) };
}

/**
 * A path relative to the result volume: segments of [A-Za-z0-9._-], no empty, `.` or `..` segment, not absolute.
 * Throws a TypeError naming the path otherwise. This is the first of two checks; the init programs also refuse
 * symlinks and anything that resolves outside the run's directory.
 */
export function checkRelativePath(path: string): string {
  const segments = path.split('/');
  const bad = segments.find((s) => s === '' || s === '.' || s === '..' || !/^[A-Za-z0-9._-]+$/.test(s));
  if (bad !== undefined || path.length > 1024) {
    throw new TypeError(
      `reference path must be relative, made of [A-Za-z0-9._-] segments without "." or "..", got "${path}"`,
    );
  }
  return path;
}
