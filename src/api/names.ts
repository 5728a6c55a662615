/**
 * Every name the extension adds to Tekton and Kubernetes objects. One prefix, `tlr.dev`, so a reader of a rewritten
 * PipelineRun or Pod can tell what came from us. Documented key by key in docs/design.md.
 */
export const PREFIX = 'tlr.dev';

/** On a Pipeline or PipelineRun (or TaskRun): the name of the workspace that holds reference results. */
export const ANNOTATION_RESULT_WORKSPACE = `${PREFIX}/result-workspace`;
/** On a Task or an embedded taskSpec's metadata: comma-separated names of results stored by reference. */
export const ANNOTATION_REFERENCE_RESULTS = `${PREFIX}/reference-results`;
/** On a rewritten PipelineRun / TaskRun: the rewrite format version that produced it (rewrites are skipped after). */
export const ANNOTATION_REWRITTEN = `${PREFIX}/rewritten`;
/** On a rewritten PipelineRun: JSON of the pipelineRef / taskRefs the rewrite inlined, so nothing is forgotten. */
export const ANNOTATION_ORIGINAL_REFS = `${PREFIX}/original-refs`;
/**
 * On a rewritten PipelineRun: JSON of its pipeline results that are one element of a structured reference result,
 * by the name `tlr fetch` gives them (`<result>`, `<result>.<key>`, `<result>[i]`) → `.key` / `[i]`. Their status
 * holds the whole value's reference; fetch verifies that value and writes the element.
 */
export const ANNOTATION_PIPELINE_RESULT_ELEMENTS = `${PREFIX}/pipeline-result-elements`;
/** On a rewritten run: which volume holds its reference results (`provisioned:<pvc>`, `user-claim:<pvc>` or `template`). */
export const ANNOTATION_RESULT_VOLUME = `${PREFIX}/result-volume`;

/** Label on consumer tasks (propagates TaskRun -> Pod); the Pod webhook's objectSelector matches it. */
export const LABEL_CONSUMER = `${PREFIX}/consumer`;
/** Label on producer tasks, for operators (`kubectl get pods -l tlr.dev/producer`). */
export const LABEL_PRODUCER = `${PREFIX}/producer`;

/**
 * The task-level workspaces our rewrite adds: `tlr-results`, a task's view of the result volume (a consumer's of its
 * run's directory, read-only; a standalone TaskRun's of the volume root); `tlr-output`, a PipelineRun producer's own
 * directory, the only one it can write.
 */
export const TASK_WORKSPACE = 'tlr-results';
export const TASK_OUTPUT_WORKSPACE = 'tlr-output';
/** Both: the only task workspaces that may bind the result workspace. */
export const VIEW_WORKSPACES: ReadonlySet<string> = new Set([TASK_WORKSPACE, TASK_OUTPUT_WORKSPACE]);
/** Where that workspace is mounted in every step. */
export const DEFAULT_MOUNT_PATH = '/tlr/results';

/** Steps added to producers. */
export const STEP_PREPARE = 'tlr-prepare';
export const STEP_SEAL = 'tlr-seal';
/** The init container the Pod webhook appends to consumers. */
export const INIT_CONTAINER_SUBSTITUTE = 'tlr-substitute';
/**
 * The exec helper (exec/, a static binary) that puts reference values into a step's args, command, env and workingDir: the
 * init container copies it into this emptyDir, mounted read-only in the steps that need it (below /tekton, which
 * Tekton keeps for itself, so no user mount can collide), and Tekton's entrypoint runs it in place of the command.
 */
export const VOLUME_EXEC = 'tlr-exec';
export const EXEC_DIR = '/tekton/tlr-exec';
export const EXEC_BINARY = `${EXEC_DIR}/tlr-exec`;
/** Where the tlr-init image holds the helper (copied from there by `tlr-init substitute --install-exec`). */
export const EXEC_IMAGE_PATH = '/usr/local/bin/tlr-exec';

/**
 * The first line the rewrite gives a consumer step script that begins with a value (`script: $(params.SCRIPT)`):
 * Tekton decides at pod creation whether to prepend its `#!/bin/sh` + `set -e` preamble by whether the script starts
 * with `#!`, while a value by reference is still its token. To Tekton this line is a `#!` line (it prepends nothing);
 * tlr-substitute replaces it with Tekton's decision on the script with the values in (init/script-preamble.ts). Were
 * it ever run as it is, the kernel would find no such interpreter and the step would fail.
 */
export const SCRIPT_PREAMBLE_MARK = "#!/tekton/tlr-preamble (tlr-substitute puts Tekton's #!/bin/sh preamble here unless the values bring a #! line)\n";

/**
 * Prefix of the copies: a reference result a consumer uses where Kubernetes reads the value when it creates the pod
 * (an image, a Secret's name, a mount path, …) or Tekton's controller reads it (a when expression) is also published
 * by the seal step, verbatim, as the classic result `tlr-copy-<result>`, and such a consumer param `p` gets a twin
 * `tlr-copy-<p>` fed from it (src/core/copies.ts).
 */
export const COPY_PREFIX = 'tlr-copy-';
/**
 * Prefix of the escaped copies, for a sidecar's args, command and env values, where the kubelet expands `$(VAR)` and
 * `$$`: the value with every `$` doubled, so the kubelet's expansion gives back exactly the value and no value can
 * name another variable (src/core/copies.ts).
 */
export const ESCAPED_COPY_PREFIX = 'tlr-ecopy-';

/** The task param our rewrite adds to consumers, carrying every reference they use (for verification). */
export const PARAM_REFS = 'tlr-refs';
/** Env vars set through the consumer's stepTemplate; the Pod webhook copies them to the init container. */
export const ENV_REFS = 'TLR_REFS';
export const ENV_RUN_DIR = 'TLR_RUN_DIR';
/** What the consumer's steps see at mountPath: `run` (its run's directory); absent, the volume root. */
export const ENV_VIEW = 'TLR_VIEW';
/**
 * The labels (`<task>/<result>`) of TLR_REFS, in order, as literal text Tekton substitutes nothing into: a published
 * value that carries more than its own reference (another label and reference spliced in) no longer matches them.
 */
export const ENV_REF_LABELS = 'TLR_REF_LABELS';
/**
 * The elements of structured results the task uses (`<task>/<result>.key`, `<task>/<result>[i]`), literal text: only
 * these selector tokens around its references are acted on (src/core/structured.ts).
 */
export const ENV_SELECTORS = 'TLR_SELECTORS';
/** The stepTemplate env the Pod webhook copies to the init container, in this order. */
export const INIT_ENV: readonly string[] = [ENV_REFS, ENV_RUN_DIR, ENV_VIEW, ENV_REF_LABELS, ENV_SELECTORS];
/** Our step env names: a step's own env may not set them (it would override the stepTemplate's). */
export const OUR_ENV: ReadonlySet<string> = new Set([ENV_REFS, ENV_RUN_DIR, ENV_VIEW, ENV_REF_LABELS, ENV_SELECTORS]);

/**
 * Start of what `tlr-seal` writes as a result's value instead of a reference when it did not seal it (not produced,
 * or refused): consumers and `tlr fetch` recognise it and say so (init/seal-notice.ts).
 */
export const SEAL_NOTICE_PREFIX = 'tlr-seal: ';

/** The rewrite format version. Bump when the shape of rewritten objects changes. */
export const REWRITE_VERSION = 'v1';

/** On a PVC an earlier version's controller provisioned: the uid of the PipelineRun it was created for. */
export const LABEL_PIPELINE_RUN_UID = `${PREFIX}/pipeline-run-uid`;
/** On everything the controller creates. */
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'tekton-large-results';
/**
 * Label the admission webhook puts on every PipelineRun that opts in: the controller watches only runs carrying it, so
 * its cache holds our runs, not every PipelineRun of the cluster's history.
 */
export const LABEL_OPTED_IN = `${PREFIX}/opted-in`;
