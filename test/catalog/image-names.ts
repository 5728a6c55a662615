/**
 * Images built around a param (`golang:$(params.version)`, `$(params.registry)/tool:1`): the name the kubelet asks
 * containerd for once Tekton has put the values in, so the catalog run (./on-cluster.ts) can give the recorder image
 * that name on every node. The offline cluster has no other image, and the name is the same inline and by reference
 * (the copy is the value), so the pod runs the recorder either way.
 */

/** `$(params.<name>)` in its spellings, v1beta1's `$(inputs.params.<name>)` too; the name in group 1, 2 or 3. */
const PARAM = /\$\((?:inputs\.)?params(?:\.([\w.-]+)|\["([^"]+)"\]|\['([^']+)'\])\)/g;

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:localhost|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*)(?::\d+)?$/;
const TAG = /^\w[\w.-]{0,127}$/;

/** The image text with each param's value in, as Tekton substitutes; undefined while one has no string value. */
export function substituted(text: string, values: ReadonlyMap<string, unknown>): string | undefined {
  let missing = false;
  const out = text.replace(PARAM, (_m, a?: string, b?: string, c?: string) => {
    const v = values.get(a ?? b ?? c ?? '');
    if (typeof v !== 'string') missing = true;
    return typeof v === 'string' ? v : '';
  });
  return missing ? undefined : out.trim();
}

/**
 * An image reference as containerd's CRI names it (github.com/distribution/reference ParseNormalizedNamed, then the
 * default tag): `golang:1.22` is `docker.io/library/golang:1.22`, `quay.io/x/y` is `quay.io/x/y:latest`. Undefined
 * when it is not a reference, or names a digest (a digest names content, which no tag of the recorder has).
 */
export function normalizedImage(reference: string): string | undefined {
  if (reference.includes('@')) return undefined;
  const [domain, path] = split(reference);
  let rest = path;
  const colon = rest.lastIndexOf(':');
  const tag = colon < 0 ? 'latest' : rest.slice(colon + 1);
  rest = colon < 0 ? rest : rest.slice(0, colon);
  if (domain === 'docker.io' && !rest.includes('/')) rest = `library/${rest}`;
  if (!DOMAIN.test(domain) || !TAG.test(tag) || !rest.split('/').every((c) => COMPONENT.test(c))) return undefined;
  return `${domain}/${rest}:${tag}`;
}

/** The domain (docker.io when the first component is none: no `.`, no `:`, not localhost) and the rest. */
function split(reference: string): [string, string] {
  const slash = reference.indexOf('/');
  const first = slash < 0 ? '' : reference.slice(0, slash);
  if (!(slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost'))) return ['docker.io', reference];
  return [first === 'index.docker.io' ? 'docker.io' : first, reference.slice(slash + 1)];
}
