/**
 * Multi-document YAML files of Kubernetes objects: parse (with file:line:col errors), read, and write back.
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, isCollection, isMap, isScalar, isSeq, parseAllDocuments, stringify, visit, type Document, type YAMLError } from 'yaml';
import { TlrError } from '../errors.js';
import { KUBECTL_PARSE, KUBECTL_STRINGIFY, kubectlProblems } from './kubectl-yaml.js';

export interface YamlDocument {
  /** The document as plain JSON-like data: a mapping with string `apiVersion` and `kind`. */
  readonly object: unknown;
  readonly file: string;
  /** 1-based line of the document's first content line (its first key), not of a `---` marker or comment. */
  readonly line: number;
  /**
   * Where a field path of the object (`spec.pipelineSpec.tasks[0].taskSpec.steps[1].script`) is in the file, 1-based;
   * a path that goes beyond what the file holds (a field the rewrite adds, a Task from another file) is located at
   * its deepest part that is there. With `key`, where the last segment's key is written (a misspelt annotation name).
   * Undefined for documents not parsed from text.
   */
  readonly locate?: (path: string, key?: boolean) => { line: number; col: number };
}

const EXPECTED_OBJECT = 'expected a Kubernetes object (a mapping with apiVersion and kind)';

/**
 * Parses every non-empty document of `text`. Throws one `E_YAML` error listing every problem of the file, one per
 * line: syntax errors (`<file>:<line>:<col>: <what>`, duplicate keys included) and documents that are not
 * Kubernetes objects (`<file>:<line>: expected a Kubernetes object …, found …`).
 */
export function parseYamlDocuments(text: string, file: string): YamlDocument[] {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { ...KUBECTL_PARSE, lineCounter });
  const problems: string[] = [];
  const result: YamlDocument[] = [];
  for (const doc of docs) {
    const errors = [...syntaxErrors(doc.errors, file, lineCounter, text), ...collectionKeys(doc, file, lineCounter)];
    if (errors.length === 0) {
      for (const p of kubectlProblems(doc)) {
        const { line, col } = lineCounter.linePos(p.offset);
        errors.push(`${file}:${line}:${col}: ${p.message}`);
      }
    }
    if (errors.length > 0) {
      problems.push(...errors);
      continue;
    }
    const offset = doc.contents?.range[0] ?? doc.range[0];
    const line = lineCounter.linePos(offset).line;
    const object = toPlainData(doc, file, line, problems);
    if (object === null || object === undefined) {
      continue;
    }
    const found = describeNonObject(object);
    if (found !== undefined) {
      problems.push(`${file}:${line}: ${EXPECTED_OBJECT}, found ${found}`);
      continue;
    }
    result.push({ object, file, line, locate: locator(doc, lineCounter, line) });
  }
  if (problems.length > 0) {
    throw new TlrError('E_YAML', problems.join('\n'));
  }
  return result;
}

/** Reads and parses a YAML file; a missing file is an `E_INPUT` error. */
export async function readYamlFile(file: string): Promise<YamlDocument[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw inputError(error, file);
  }
  return parseYamlDocuments(text, file);
}

/** `---`-separated YAML of `objects`, as kubectl will read it back; long lines are never folded. */
export function stringifyYamlDocuments(objects: unknown[]): string {
  return objects.map((object) => stringify(object, KUBECTL_STRINGIFY)).join('---\n');
}

/** `a.b[0][tlr.dev/x]` as segments (`['a', 'b', 0, 'tlr.dev/x']`), up to the first part that is not a field path. */
export function pathSegments(path: string): Array<string | number> {
  const segments: Array<string | number> = [];
  const token = /^(?:\.?([A-Za-z_$][\w$-]*)|\[([^\]]*)\])/;
  let rest = path;
  for (let m = token.exec(rest); m !== null && m[0] !== ''; m = token.exec(rest)) {
    const key = m[1] ?? m[2] ?? '';
    segments.push(m[1] === undefined && /^\d+$/.test(key) ? Number(key) : key);
    rest = rest.slice(m[0].length);
  }
  return segments;
}

/** The key node of the last segment's pair in its map (`metadata.annotations[x]`: the `x:` itself). */
function keyAt(doc: Document, segments: ReadonlyArray<string | number>): { range?: [number, number, number] | null } | undefined {
  const parent = doc.getIn(segments.slice(0, -1), true);
  if (segments.length === 0 || !isMap(parent)) return undefined;
  const last = String(segments[segments.length - 1]);
  const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === last);
  return isScalar(pair?.key) ? pair.key : undefined;
}

function locator(doc: Document, lineCounter: LineCounter, line: number): (path: string, key?: boolean) => { line: number; col: number } {
  return (path, key = false) => {
    const segments = pathSegments(path);
    const keyNode = key ? keyAt(doc, segments) : undefined;
    if (keyNode?.range) return lineCounter.linePos(keyNode.range[0]);
    for (let n = segments.length; n > 0; n--) {
      const node = doc.getIn(segments.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node?.range) return lineCounter.linePos(node.range[0]);
    }
    return { line, col: 1 };
  };
}

/**
 * A document's syntax errors as the user can act on them. Duplicate keys are each their own mistake; after the first
 * other error the parser has lost its place and every token after it is "unexpected" (one unquoted `[` in a flow
 * mapping gives dozens of lines), so only that first one is listed, with a count of the rest. An error inside a flow
 * collection (`{…}`, `[…]`) on a line holding `$(` says what it most likely is: Tekton's `[*]` or `[0]` unquoted.
 */
function syntaxErrors(errors: readonly YAMLError[], file: string, lineCounter: LineCounter, text: string): string[] {
  const out: string[] = [];
  for (const [i, error] of errors.entries()) {
    out.push(formatYamlError(error, file, lineCounter));
    if (error.code === 'DUPLICATE_KEY') continue;
    const { line, col } = lineCounter.linePos(error.pos[0]);
    const lineText = text.split('\n')[line - 1] ?? '';
    if (/\$\(/.test(lineText) && /[{[]/.test(lineText.slice(0, col - 1))) {
      out[out.length - 1] += '; inside a flow collection ({...} or [...]) a value holding [ ] { } or , must be quoted: write "$(tasks.t.results.r[0])", not $(tasks.t.results.r[0])';
    }
    const rest = errors.length - i - 1;
    if (rest > 0) out.push(`${file}:${line}: and ${rest} more syntax error(s) in this document after this one, most likely caused by it`);
    break;
  }
  return out;
}

function formatYamlError(error: YAMLError, file: string, lineCounter: LineCounter): string {
  const { line, col } = lineCounter.linePos(error.pos[0]);
  return `${file}:${line}:${col}: ${error.message}`;
}

/** `{{ x }}: 1` is a mapping used as a key: valid YAML, but no JSON object can hold it (kubectl refuses it too). */
function collectionKeys(doc: Document, file: string, lineCounter: LineCounter): string[] {
  const problems: string[] = [];
  visit(doc, {
    Pair(_, pair) {
      if (isCollection(pair.key)) {
        const { line, col } = lineCounter.linePos(pair.key.range?.[0] ?? 0);
        const found = isSeq(pair.key) ? 'a list' : 'a mapping';
        problems.push(`${file}:${line}:${col}: a mapping key must be a scalar, found ${found}`);
      }
    },
  });
  return problems;
}

function toPlainData(doc: Document, file: string, line: number, problems: string[]): unknown {
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    // e.g. an alias bomb: "Excessive alias count indicates a resource exhaustion attack".
    problems.push(`${file}:${line}: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

/** Why `value` is not a Kubernetes object, as the "found …" part of a message; undefined when it is one. */
function describeNonObject(value: unknown): string | undefined {
  if (Array.isArray(value)) {
    return 'a list';
  }
  if (typeof value !== 'object' || value === null) {
    return `a ${typeof value}`;
  }
  const record = value as Record<string, unknown>;
  const missing = ['apiVersion', 'kind'].filter((key) => typeof record[key] !== 'string');
  if (missing.length === 0) {
    return undefined;
  }
  return `a mapping without string ${missing.join(' and ')}`;
}

function inputError(error: unknown, file: string): TlrError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') {
    return new TlrError('E_INPUT', `${file}: no such file`, { cause: error });
  }
  if (code === 'EISDIR') {
    return new TlrError('E_INPUT', `${file}: is a directory, expected a YAML file`, { cause: error });
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new TlrError('E_INPUT', `${file}: cannot read: ${reason}`, { cause: error });
}
