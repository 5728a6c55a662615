/**
 * YAML the way `kubectl` reads it: sigs.k8s.io/yaml, that is go-yaml v2 decoding into Go values, then JSON. The
 * `yaml` library is given a schema whose scalar tags resolve exactly as go-yaml v2 does (go-yaml-resolve.ts), so
 *   - parsing gives the values the cluster will store (`.` stays the string ".", `0o17` is 15, `yes` is true), and
 *   - stringifying quotes exactly the strings kubectl would otherwise read as something else (`"0o17"`, `"yes"`).
 * What go-yaml accepts but JSON cannot hold (NaN, infinities, null keys) and what JavaScript cannot hold exactly
 * (integers past 2^53) are reported by `kubectlProblems`, which also turns non-string keys into the strings
 * sigs.k8s.io/yaml makes of them.
 */
import { isScalar, Scalar, visit, type Document, type DocumentOptions, type ParseOptions, type SchemaOptions, type ScalarTag, type ToStringOptions } from 'yaml';
import { goFloatKey, resolvePlain, type GoScalar } from './go-yaml-resolve.js';

const TAG = 'tag:yaml.org,2002:';
const INT64_MAX = 2n ** 63n - 1n;

/** A RegExp that tests with a function: the `yaml` library asks tags `test.test(text)` for plain scalars. */
class Matcher extends RegExp {
  constructor(private readonly accepts: (text: string) => boolean) {
    super('(?:)');
  }
  override test(text: string): boolean {
    return this.accepts(text);
  }
}

type Kind = GoScalar['kind'];

/** The JavaScript value of a go-yaml scalar of `kind` (`!!float` also takes integers, as go-yaml does). */
function valueOf(text: string, kind: Kind, onError: (message: string) => void): unknown {
  const resolved = resolvePlain(text);
  const accepted = resolved.kind === kind || (kind === 'float' && resolved.kind === 'int');
  if (!accepted) {
    onError(`cannot decode ${resolved.kind === 'string' ? 'the string' : `the ${resolved.kind}`} ${JSON.stringify(text)} as !!${kind} (kubectl refuses it too)`);
    return text;
  }
  if (resolved.kind === 'null') return null;
  if (resolved.kind === 'bool' || resolved.kind === 'float') return resolved.value;
  return resolved.kind === 'int' ? Number(resolved.value) : text; // an inexact integer is reported by kubectlProblems
}

function scalarTag(kind: Exclude<Kind, 'string'>, implicit: boolean, extra: Partial<ScalarTag>): ScalarTag {
  return {
    tag: `${TAG}${kind === 'bool' ? 'bool' : kind}`,
    ...(implicit ? { default: true, test: new Matcher((text) => resolvePlain(text).kind === kind) } : {}),
    resolve: (text, onError) => valueOf(text, kind, onError),
    ...extra,
  };
}

const stringify = ({ value }: Scalar): string => String(value);

/**
 * Tags tried by name for explicit tags (first, without `test`, so the library takes them at once) and by test for
 * plain scalars. `!!binary` is decoded to a string, `!!timestamp` kept as its text, as go-yaml v2 does.
 */
const TAGS: ScalarTag[] = [
  scalarTag('null', false, {}),
  scalarTag('bool', false, {}),
  scalarTag('int', false, {}),
  scalarTag('float', false, {}),
  {
    tag: `${TAG}binary`,
    resolve: (text, onError) => {
      const base64 = text.replace(/[\r\n]/g, '');
      if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(base64)) onError('!!binary value contains invalid base64 data');
      return Buffer.from(base64, 'base64').toString('utf8');
    },
  },
  { tag: `${TAG}timestamp`, resolve: (text) => text },
  scalarTag('null', true, { identify: (v) => v === null || v === undefined, stringify: () => 'null' }),
  scalarTag('bool', true, { identify: (v) => typeof v === 'boolean', stringify }),
  scalarTag('int', true, { identify: (v) => typeof v === 'number' && Number.isInteger(v), stringify }),
  scalarTag('float', true, { identify: (v) => typeof v === 'number', stringify }),
];

export const KUBECTL_SCHEMA: SchemaOptions & DocumentOptions = {
  version: '1.1',
  // The library's map, seq and str tags, then ours instead of every YAML 1.1 scalar tag.
  customTags: (base) => [...base.filter((t) => typeof t !== 'string' && [`${TAG}map`, `${TAG}seq`, `${TAG}str`].includes(t.tag)), ...TAGS],
  resolveKnownTags: false,
  merge: true,
};

export const KUBECTL_PARSE: ParseOptions & DocumentOptions & SchemaOptions = {
  ...KUBECTL_SCHEMA,
  uniqueKeys: true,
  prettyErrors: false,
};

export const KUBECTL_STRINGIFY: DocumentOptions & SchemaOptions & ToStringOptions = {
  ...KUBECTL_SCHEMA,
  lineWidth: 0,
  minContentWidth: 0,
};

/** A problem kubectl would have with a parsed document, at an offset of its source. */
export interface KubectlProblem {
  readonly offset: number;
  readonly message: string;
}

/**
 * Makes a parsed document what kubectl turns it into, and lists what kubectl could not: mapping keys become the
 * strings sigs.k8s.io/yaml makes of them (`yes:` -> "true", `1.5e6:` -> "1.5e+06"); a null key, a NaN or an
 * infinite value (JSON has none) is a problem. Edits the document's key nodes in place.
 */
export function kubectlProblems(doc: Document): KubectlProblem[] {
  const problems: KubectlProblem[] = [];
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key)) {
        const problem = stringifyKey(pair.key);
        if (problem !== undefined) problems.push({ offset: pair.key.range?.[0] ?? 0, message: problem });
      }
    },
    Scalar(key, node) {
      if (key === 'key' || typeof node.value !== 'number') return;
      const problem = numberProblem(node);
      if (problem !== undefined) problems.push({ offset: node.range?.[0] ?? 0, message: problem });
    },
  });
  return problems;
}

/** Why a number value cannot go on as it is: JSON has no NaN or infinity; an integer must keep its digits. */
function numberProblem(node: Scalar): string | undefined {
  const value = node.value as number;
  const text = String(node.source ?? value);
  if (!Number.isFinite(value)) {
    return `${text} is not a number JSON can hold (kubectl fails with "json: unsupported value: ${Number.isNaN(value) ? 'NaN' : value > 0 ? '+Inf' : '-Inf'}"); quote it if it is a string`;
  }
  const int = integerOf(node);
  if (int === undefined || String(value) === String(int)) return undefined;
  const shown = String(int) === text ? text : `${text} (${int})`;
  return (
    `the integer ${shown} cannot be carried exactly (tlr holds numbers as 64-bit floats and would write ${value}; ` +
    'kubectl sends it as it is); quote it if it is a string'
  );
}

/** The exact value of an integer scalar (plain, or tagged !!int), as go-yaml reads it. */
function integerOf(node: Scalar): bigint | undefined {
  if (!(node.tag === `${TAG}int` || (node.tag === undefined && node.type === Scalar.PLAIN))) return undefined;
  const resolved = resolvePlain(String(node.source));
  return resolved.kind === 'int' ? resolved.value : undefined;
}

/** Turns a non-string key into the string kubectl makes of it; returns a problem when there is none. */
function stringifyKey(key: Scalar): string | undefined {
  const value = key.value;
  if (typeof value === 'string' || typeof value === 'symbol') return undefined; // symbol: a merge key (<<)
  if (value === null || value === undefined) return 'a mapping key must not be null (kubectl: "unsupported map key of type: <nil>"); quote it';
  if (typeof value === 'boolean') key.value = String(value);
  if (typeof value !== 'number') return undefined;
  const int = integerOf(key);
  if (int !== undefined && int > INT64_MAX) {
    return `the mapping key ${String(key.source)} is an unsigned 64-bit integer for kubectl ("unsupported map key of type: uint64"); quote it`;
  }
  key.value = int !== undefined ? String(int) : goFloatKey(value);
  return undefined;
}
