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

const PARAM = new RegExp(`\\$\\(params(?:\\.(${NAME_DOT})|\\[(["'])([^"'\\]]+)\\2\\])(${SUFFIX})\\)`, 'g');

/** Every `$(params.<p>…)` in a text. */
export function findParamExpressions(text: string): ParamExpression[] {
  if (!text.includes('$(params')) return [];
  return [...text.matchAll(PARAM)].map((m) => ({ text: m[0], name: m[1] ?? m[3] ?? '', suffix: m[4] ?? '' }));
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Matches every way a step can name the path of result `name`: `$(results.name.path)`, `$(results["name"].path)`,
 * `$(results['name'].path)`, and the literal `/tekton/results/name` when not followed by another name character.
 */
export function resultPathPattern(name: string): RegExp {
  const cached = RESULT_PATH_PATTERNS.get(name);
  if (cached) {
    cached.lastIndex = 0;
    return cached;
  }
  const n = escape(name);
  const pattern = new RegExp(
    `\\$\\(results(?:\\.${n}|\\[(["'])${n}\\1\\])\\.path\\)|/tekton/results/${n}(?![-A-Za-z0-9_.])`,
    'g',
  );
  RESULT_PATH_PATTERNS.set(name, pattern);
  return pattern;
}

const RESULT_PATH_PATTERNS = new Map<string, RegExp>();

/** Cheap test before the regex: can this text name any result path at all? */
export function mayNameResultPath(text: string): boolean {
  return text.includes('results');
}
