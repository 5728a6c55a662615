/**
 * Exit codes of tlr-init, stable (documented in init/README.md):
 *   0  everything done (for seal: missing results are reported but are not an error, like in Tekton)
 *   1  refused: a result or reference failed a check, or an I/O error (full volume...)
 *   2  usage error: unknown subcommand, missing or invalid flag
 */
export const EXIT_OK = 0;
export const EXIT_REFUSED = 1;
export const EXIT_USAGE = 2;

