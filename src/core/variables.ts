/**
 * Tekton's variable syntaxes the rewrite has to recognise, in every spelling Tekton accepts (dot and bracket forms).
 * Result names may contain dots only in the bracket form, as in Tekton.
 */
const NAME_DOT = '[A-Za-z0-9_-]+';
const NAME_BRACKET = `[A-Za-z0-9][-A-Za-z0-9_.]*`;
const SUFFIX = '(?:\\.[A-Za-z0-9_-]+|\\[(?:[0-9]+|\\*)\\])?';

export interface TaskResultExpression {
  readonly text: string;
  readonly index: number;
  /** `tasks` or `finally`. */
  readonly scope: string;
  readonly task: string;
  readonly result: string;
  /** What follows the result name: '' for the value, '.path' for the by-path form, '.key' / '[*]' / '[0]' else. */
  readonly suffix: string;
}

const TASK_RESULT = new RegExp(
  `\\$\\((tasks|finally)\\.([a-z0-9][a-z0-9-]*)\\.results(?:\\.(${NAME_DOT})|\\[(["'])(${NAME_BRACKET})\\4\\])(${SUFFIX})\\)`,
  'g',
);

/** Every `$(tasks.<t>.results.<r>…)` / `$(finally.<t>.results.<r>…)` in a text. */
export function findTaskResultExpressions(text: string): TaskResultExpression[] {
  const found: TaskResultExpression[] = [];
  if (!text.includes('$(tasks.') && !text.includes('$(finally.')) return found;
  for (const m of text.matchAll(TASK_RESULT)) {
    found.push({
      text: m[0],
      index: m.index,
      scope: m[1] ?? '',
      task: m[2] ?? '',
      result: m[3] ?? m[5] ?? '',
      suffix: m[6] ?? '',
    });
  }
  return found;
}

export interface ParamExpression {
  readonly text: string;
  readonly name: string;
  readonly suffix: string;
}

/**
 * A param as Tekton substitutes it (pkg/reconciler/taskrun/resources/apply.go paramPatterns): `$(params.<p>)`,
 * `$(params["<p>"])`, `$(params['<p>'])`, and v1beta1's `$(inputs.params.<p>)`, which v1.15.0 still substitutes in
 * a v1 Task (dot form only). Group 1, 3 or 4 is the name, 5 the suffix.
 */
const PARAM = new RegExp(`\\$\\((?:params(?:\\.(${NAME_DOT})|\\[(["'])([^"'\\]]+)\\2\\])|inputs\\.params\\.(${NAME_DOT}))(${SUFFIX})\\)`, 'g');

const mayNameParam = (text: string): boolean => text.includes('$(params') || text.includes('$(inputs.params.');

/** Every `$(params.<p>…)` in a text (and `$(inputs.params.<p>…)`). */
export function findParamExpressions(text: string): ParamExpression[] {
  if (!mayNameParam(text)) return [];
  return [...text.matchAll(PARAM)].map((m) => ({ text: m[0], name: m[1] ?? m[3] ?? m[4] ?? '', suffix: m[5] ?? '' }));
}

/** `text` with each `$(params.<p>…)` for which `replace` returns a string replaced by it, in one pass. */
export function replaceParamExpressions(text: string, replace: (e: ParamExpression) => string | undefined): string {
  if (!mayNameParam(text)) return text;
  return text.replace(PARAM, (match: string, dot?: string, _q?: string, bracket?: string, inputs?: string, suffix?: string) =>
    replace({ text: match, name: dot ?? bracket ?? inputs ?? '', suffix: suffix ?? '' }) ?? match);
}

/** Characters of a Tekton result name (its `ResultNameFormat`), which also end the literal `/tekton/results/<name>`. */
const RESULT_CHARS = '[-A-Za-z0-9_.]+';

/**
 * Every way a step can name the path of a result, for any result name, in one pattern: `$(results.<name>.path)`,
 * `$(results["<name>"].path)`, `$(results['<name>'].path)`, and the literal `/tekton/results/<name>` (the name being
 * the longest run of name characters, so `/tekton/results/out.txt` names `out.txt`, not `out`). Group 1, 3 or 4 is
 * the name. No nested quantifiers, and every match starts at `$(results` or `/tekton/results/`: one linear pass.
 */
const RESULT_PATH = new RegExp(
  `\\$\\(results(?:\\.(${RESULT_CHARS})|\\[(["'])(${RESULT_CHARS})\\2\\])\\.path\\)|/tekton/results/(${RESULT_CHARS})`,
  'g',
);

/**
 * `text` with every path of a result in `names` replaced by `replacement(name)`, in one pass whatever the number of
 * names (the matcher is the same for all; each match's name is looked up in the set).
 */
export function replaceResultPaths(text: string, names: ReadonlySet<string>, replacement: (name: string) => string): string {
  if (!mayNameResultPath(text)) return text;
  return text.replace(RESULT_PATH, (match: string, dot?: string, _q?: string, bracket?: string, literal?: string) => {
    const name = dot ?? bracket ?? literal ?? '';
    return names.has(name) ? replacement(name) : match;
  });
}

/** Calls `found(name)` for every result path named in `text` (any result name), in one pass. */
export function forEachResultPath(text: string, found: (name: string) => void): void {
  if (!mayNameResultPath(text)) return;
  for (const m of text.matchAll(RESULT_PATH)) found(m[1] ?? m[3] ?? m[4] ?? '');
}

/** Cheap test before the regex: can this text name any result path at all? */
export function mayNameResultPath(text: string): boolean {
  return text.includes('results');
}
