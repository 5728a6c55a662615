/**
 * The `--refs` text (env TLR_REFS): every reference this consumer task uses, by value or by path, as the rewrite
 * declared them (its `tlr-refs` param, `<task>/<result>=$(tasks.<task>.results.<result>)` each, which Tekton turns
 * into `<task>/<result>=<what that task published>`). Separated by whitespace. These are the only references
 * substitute acts on, and each must name the file of the result it came from (`<runDir>/<task>/<result>`): a task
 * that published a hand-made reference to another task's file (it can, when it fails before its seal step, and a
 * `finally` task still uses its results) is refused instead of handing over that file.
 *
 * Text written by the previous release (references only, no `<task>/<result>=`) is still read, without that check,
 * when nothing in it is labelled: a labelled and an unlabelled reference together can only come from a published
 * value holding more than a reference, and are refused.
 */
import { REFERENCE_OPENING, REFERENCE_PATTERN, checkRelativePath, type Reference } from '../src/core/reference.js';
import { TlrError } from '../src/errors.js';
import { NOTICE_PREFIX } from './seal-notice.js';
import { parseSelectorLabel, selectorToken, type Selector } from '../src/core/structured.js';

export interface DeclaredReference {
  readonly reference: Reference;
  readonly token: string;
  /** `<task>/<result>`, when the text labels it. */
  readonly label?: string;
}

const WHAT = 'the references this task uses (--refs, env TLR_REFS)';
/** `<task>/<result>=`, the label before each reference (task: a DNS label; result: Tekton's result name characters). */
const LABEL = '([a-z0-9][a-z0-9-]*)\\/([A-Za-z0-9][A-Za-z0-9._-]*)=';
const SOURCE = new RegExp(`${LABEL}$`);
const LEADING_LABEL = new RegExp(`^${LABEL}`);

/**
 * Every reference in `text`, duplicates removed, in order; each labelled one checked against `<runDir>/<label>`.
 * Throws on anything else than (labelled) references and spaces.
 */
export function parseRefsText(text: string, runDir?: string, labels?: string): DeclaredReference[] {
  const found = new Map<string, { reference: Reference; label?: string }>();
  let last = 0;
  let labelled = 0;
  let unlabelled = 0;
  for (const match of text.matchAll(new RegExp(REFERENCE_PATTERN.source, 'g'))) {
    const gap = text.slice(last, match.index);
    const source = SOURCE.exec(gap);
    requireBlank(source ? gap.slice(0, source.index) : gap);
    last = match.index + match[0].length;
    const [token, sha256, size, path] = match as unknown as [string, string, string, string];
    const reference: Reference = { version: 'v1', sha256, size: Number(size), path: checkPath(path, token) };
    const label = source ? `${source[1]}/${source[2]}` : undefined;
    if (label !== undefined) {
      labelled += 1;
      checkSource(reference, token, label, runDir);
    } else {
      unlabelled += 1;
    }
    if (labelled > 0 && unlabelled > 0) {
      throw new TlrError('E_RESULT_UNSAFE', `${WHAT}: ${token} is not labelled with the result it came from, as every other one is: a producing task published more than its reference; refusing it`);
    }
    found.set(token, { reference, ...(label !== undefined ? { label } : {}) });
  }
  requireBlank(text.slice(last));
  // After the checks above, whose messages say what a producer published instead (a notice, a malformed reference).
  if (labels !== undefined && labels.trim() !== '') requireLabels(text, labels.trim().split(/\s+/));
  return [...found].map(([token, d]) => ({ ...d, token }));
}

/** A labelled reference must name its own result's file. */
function checkSource(reference: Reference, token: string, source: string, runDir: string | undefined): void {
  const expected = runDir === undefined ? undefined : `${runDir}/${source}`;
  const [task, result] = source.split('/') as [string, string];
  if (expected !== undefined && reference.path !== expected) {
    throw new TlrError(
      'E_RESULT_UNSAFE',
      `result "${result}" of task "${task}" is a reference to ${reference.path}, expected its own file ${expected}: that ` +
        "task published a reference it did not seal (a step's own, left when the task failed before its tlr-seal step); " +
        `refusing to read another result's file for it (${token})`,
    );
  }
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
  // The value a labelled item carries, when it is not a reference: `<task>/<result>=<value>`.
  const value = stray.replace(LEADING_LABEL, '');
  const why = value.startsWith(NOTICE_PREFIX)
    ? "a producing task's tlr-seal step did not seal that result: see that step's log"
    : value.startsWith(REFERENCE_OPENING)
      ? 'a malformed reference, or one of another version: the producing task must be sealed by the tlr-init ' +
        'image of the same release as the admission webhook'
      : 'a producing task published something else than its reference, or this task was not rewritten by ' +
        'Tekton Large Results';
  throw new TlrError(
    'E_INPUT',
    `${WHAT} must be references [[tlr:v1:…]] separated by whitespace, found "${shown}": ${why}`,
  );
}

/**
 * With the labels the rewrite declared (env TLR_REF_LABELS, literal text), the refs text must be exactly those labels
 * in order, each `=` one reference: a producer that published more than its own reference (another label and
 * reference, spliced in with any whitespace) is refused, naming what it added.
 */
function requireLabels(text: string, labels: readonly string[]): void {
  const items = text.trim().split(/\s+/).filter((i) => i !== '');
  const single = new RegExp(`^${REFERENCE_PATTERN.source}$`);
  for (const [i, item] of items.entries()) {
    const label = labels[i];
    const eq = item.indexOf('=');
    if (label === undefined || item.slice(0, eq) !== label || !single.test(item.slice(eq + 1))) {
      throw new TlrError(
        'E_RESULT_UNSAFE',
        `${WHAT}: expected ${labels.length} item(s), ${labels.map((l) => `${l}=<its reference>`).join(' ')}, found ` +
          `"${item.slice(0, 200)}" as item ${i + 1}: a producing task published more than its own reference; refusing it`,
      );
    }
  }
  if (items.length !== labels.length) {
    throw new TlrError('E_RESULT_UNSAFE', `${WHAT}: expected ${labels.length} item(s) (${labels.join(' ')}), found ${items.length}`);
  }
}

/** A selector token the rewrite declared (env TLR_SELECTORS) and the element it picks. */
export interface DeclaredSelection {
  readonly token: string;
  readonly reference: Reference;
  readonly selector: Selector;
  /** The result it is an element of, for messages. */
  readonly task: string;
  readonly result: string;
}

/**
 * The selector tokens of `selectors` (env TLR_SELECTORS: literal `<task>/<result>.key` / `<task>/<result>[i]`
 * items the rewrite wrote, separated by spaces), each around the declared reference of its `<task>/<result>`.
 * Throws on an item that is malformed or names a result the task does not declare.
 */
export function selectionsFor(selectors: string | undefined, declared: readonly DeclaredReference[]): DeclaredSelection[] {
  const byLabel = new Map(declared.flatMap((d) => (d.label !== undefined ? [[d.label, d] as const] : [])));
  return (selectors ?? '').split(/\s+/).filter((s) => s !== '').map((item) => {
    const parsed = parseSelectorLabel(item);
    const d = parsed === undefined ? undefined : byLabel.get(parsed.label);
    if (parsed === undefined || d === undefined) {
      throw new TlrError(
        'E_INPUT',
        `the elements this task uses (env TLR_SELECTORS) must be <task>/<result>.<key> or <task>/<result>[<index>] of ` +
          `the labelled references in TLR_REFS (${[...byLabel.keys()].join(' ') || 'none'}), found "${item.slice(0, 160)}"`,
      );
    }
    const [task = '', result = ''] = parsed.label.split('/');
    return { token: selectorToken(parsed.selector, d.token), reference: d.reference, selector: parsed.selector, task, result };
  });
}
