/**
 * The caps on what one rewrite may be asked to do, so the work of any one object is bounded (docs/design.md,
 * "Limits"). Constants, not config keys: they protect the webhook and the controller from one object, and no valid
 * Tekton object comes near them.
 */

/**
 * Largest object the rewrite reads (a run, its Pipeline, each Task) or returns (the rewritten run), as JSON text
 * (counted while walking it, escapes aside). etcd refuses objects over 1.5 MiB (its default `--max-request-bytes`),
 * so nothing larger can be stored: not the run, not what it is rewritten into, not a Task inlined into it. An input over
 * it is refused before anything else walks it, a run whose producers alone would push it over it is refused before the
 * rewrite, and a rewritten run over it is refused instead of failing in etcd after admission. (kube-apiserver itself
 * takes request bodies of up to 3 MiB, `MaxRequestBodyBytes`: admission sees objects up to that size.)
 */
export const MAX_OBJECT_BYTES = 1536 * 1024;

/**
 * Deepest nesting of maps and lists in an object the rewrite takes. Tekton objects nest about 15 levels (a pod
 * template's affinity is the deepest); the API server decodes up to 10,000 (apimachinery's JSON `maxDepth`), and the
 * rewrite's walks recurse, so the cap keeps them far from the stack limit.
 */
export const MAX_NESTING_DEPTH = 100;

/**
 * Most results one task may store by reference. Each costs one seal argument and one reference (about 150 bytes) in
 * the seal step's termination message; the cap bounds both and the per-result work of the rewrite.
 */
export const MAX_REFERENCE_RESULTS_PER_TASK = 100;

/**
 * Longest reference result name, in bytes: the name is a file name on the result volume and in `/tekton/results`,
 * and Linux file systems refuse names over 255 bytes (NAME_MAX). Tekton's own pattern has no length limit, but such a
 * result could never be written.
 */
export const MAX_RESULT_NAME_BYTES = 255;

/** Most errors one refusal lists (the rest are counted): keeps a refusal of a huge object readable and small. */
export const MAX_REPORTED_ERRORS = 50;
