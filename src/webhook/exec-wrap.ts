/**
 * Which step containers of a consumer pod carry reference values in their args, command, env or workingDir, and how each is made
 * to run through the exec helper (exec/, copied to EXEC_BINARY by the init container).
 *
 * Tekton v1.15.0 (pkg/pod/entrypoint.go) gives every step `command: [/tekton/bin/entrypoint]` and
 * `args: [<entrypoint flags>…, (-entrypoint <command[0]>), --, <command[1:]>…, <args>…]`; without a command the
 * image's (looked up by Tekton) is in env TEKTON_PLATFORM_COMMANDS and there is no `-entrypoint`. The helper takes the
 * command's place: `-entrypoint <helper> -- --root <mountPath> [--platform-commands] -- <command[0]> <rest>…`, so
 * Tekton's entrypoint still orders the steps, applies onError, timeouts and stdout/stderr capture, and runs the helper
 * at the step's turn; the helper substitutes the values and execs the command. The kubelet expands `$(VAR)` in args
 * before the container starts, on the tokens (which hold no `$`), so no value is ever expanded by it.
 *
 * A workingDir holding a reference is the kubelet's before any process runs, so it moves to the helper too
 * (`--workdir <dir>`, its `$` doubled so the kubelet's expansion gives it back as written): the container loses its
 * workingDir (it starts where the image says) and Tekton's working-dir-initializer no longer creates the directory
 * named by the token; the helper creates and enters the one the value names.
 */
import { EXEC_BINARY, OUR_ENV as OURS } from '../api/names.js';
import { REFERENCE_PATTERN } from '../core/reference.js';
import type { Container } from './tekton-pod.js';

const TEKTON_ENTRYPOINT = '/tekton/bin/entrypoint';
/** The init container Tekton adds to create steps' workingDirs under /workspace (pkg/pod/workingdir_init.go). */
export const WORKING_DIR_INITIALIZER = 'working-dir-initializer';
/** Tekton's entrypoint's boolean flags (cmd/entrypoint/main.go, spire.go at v1.15.0): every other flag takes a value. */
const BOOLEAN_FLAGS: ReadonlySet<string> = new Set([
  'wait_file_content', 'breakpoint_on_failure', 'debug_before_step', 'compress_termination_message', 'enable_spire',
]);

/**
 * The tokens a consumer declared (its TLR_REFS, as Tekton substituted it into the step's env). The pattern alone, not
 * findReferences: that one throws on a malformed path, and the text comes from the pod; tlr-exec judges it.
 */
export function declaredTokens(refsText: string | undefined): string[] {
  return [...new Set([...(refsText ?? '').matchAll(new RegExp(REFERENCE_PATTERN.source, 'g'))].map((m) => m[0]))];
}

/** True when `text` holds one of the declared tokens. */
export function holdsToken(text: unknown, tokens: readonly string[]): boolean {
  return typeof text === 'string' && text.includes('[[tlr:') && tokens.some((t) => text.includes(t));
}

/**
 * True when the container's args (command included: Tekton moved it there), env values or workingDir hold a declared
 * token.
 */
export function carriesValues(container: Container, tokens: readonly string[]): boolean {
  if (tokens.length === 0) return false;
  const texts = [...(container.command ?? []), ...(container.args ?? []), container.workingDir];
  return texts.some((t) => holdsToken(t, tokens)) || (container.env ?? []).some((e) => !OURS.has(e?.name) && holdsToken(e?.value, tokens));
}

/** The step's new args, and whether its workingDir went to the helper (so the container must lose it). */
export type Wrapped = { readonly args: string[]; readonly movedWorkingDir: boolean } | { readonly problem: string };

/**
 * The step's args with the helper in its command's place; a problem when the container is not Tekton's shape.
 * `tokens`: the declared ones, to tell whether the workingDir carries a value.
 */
export function wrapStep(container: Container, mountPath: string, tokens: readonly string[]): Wrapped {
  const command = container.command ?? [];
  if (command.length !== 1 || command[0] !== TEKTON_ENTRYPOINT) {
    return { problem: `container "${container.name}": expected command [${TEKTON_ENTRYPOINT}] (Tekton's entrypoint), found ${JSON.stringify(command)}` };
  }
  const args = [...(container.args ?? [])];
  const parsed = parseEntrypointArgs(args, container.name);
  if ('problem' in parsed) return parsed;
  const { separator, entrypoint, values } = parsed;
  // The kubelet expands $(VAR) in args: mountPath holds no $ ([A-Za-z0-9._/-], config.ts) and the workingDir's are
  // doubled ($$ is its escape for $), so the helper gets both as written.
  const movedWorkingDir = holdsToken(container.workingDir, tokens);
  if (movedWorkingDir) {
    // Tekton's entrypoint opens these itself, in the directory the container starts in, before it runs the helper.
    for (const [flag, field] of [['stdout_path', 'stdoutConfig.path'], ['stderr_path', 'stderrConfig.path']] as const) {
      const path = values.get(flag);
      if (path !== undefined && !path.startsWith('/')) {
        return {
          problem:
            `container "${container.name}": its workingDir carries a reference result, which the exec helper enters only after ` +
            `Tekton's entrypoint has opened ${field} ${JSON.stringify(path.slice(0, 80))}; expected an absolute ${field} ` +
            '(e.g. $(results.<name>.path)) with a workingDir by value, found a relative one',
        };
      }
    }
  }
  const workdir = movedWorkingDir ? ['--workdir', (container.workingDir as string).replaceAll('$', '$$$$')] : [];
  if (entrypoint !== -1) {
    const original = args[entrypoint] as string;
    args[entrypoint] = EXEC_BINARY;
    args.splice(separator + 1, 0, '--root', mountPath, ...workdir, '--', original);
  } else {
    args.splice(separator, 1, '-entrypoint', EXEC_BINARY, '--', '--root', mountPath, '--platform-commands', ...workdir, '--');
  }
  return { args, movedWorkingDir };
}

/**
 * The working-dir-initializer's args without the directories named by a declared token (it would create a directory
 * called after the token, on the workspace the step would have run in); undefined when none is.
 */
export function initializerArgsWithout(container: Container, tokens: readonly string[]): string[] | undefined {
  const args = container.args ?? [];
  const kept = args.filter((a) => !holdsToken(a, tokens));
  return kept.length === args.length ? undefined : kept;
}

/**
 * Where Tekton's `--` is, the index of `-entrypoint`'s value (-1: none) and each flag's value (the last one given, as
 * Go's flag package keeps). As Tekton's entrypoint does
 * (cmd/entrypoint/args.go), the first `--` ends its flags, whatever precedes it; the flags before it are read as Go's
 * flag package reads them, and a flag left without its value (a `--` where it should be) is refused: Tekton's
 * entrypoint would refuse it too.
 */
function parseEntrypointArgs(
  args: readonly string[],
  name: string,
): { separator: number; entrypoint: number; values: Map<string, string> } | { problem: string } {
  const separator = args.indexOf('--');
  if (separator === -1) {
    return { problem: `container "${name}": expected Tekton's entrypoint flags, then --, then the step's command and args; found no --` };
  }
  let entrypoint = -1;
  const values = new Map<string, string>();
  for (let i = 0; i < separator; ) {
    const arg = args[i] as string;
    if (!arg.startsWith('-')) {
      return { problem: `container "${name}": args[${i}] is ${JSON.stringify(arg.slice(0, 80))}, expected a flag of Tekton's entrypoint or --` };
    }
    const [flag, inline] = splitFlag(arg);
    if (flag === 'entrypoint' && inline !== undefined) {
      return { problem: `container "${name}": -entrypoint=<value> in one argument; Tekton writes it as two` };
    }
    const takesValue = inline === undefined && !BOOLEAN_FLAGS.has(flag);
    if (takesValue && i + 1 >= separator) {
      return { problem: `container "${name}": flag ${arg} has no value before Tekton's --` };
    }
    if (flag === 'entrypoint') entrypoint = i + 1;
    const value = takesValue ? args[i + 1] : inline;
    if (value !== undefined) values.set(flag, value);
    i += takesValue ? 2 : 1;
  }
  return { separator, entrypoint, values };
}

function splitFlag(arg: string): [string, string | undefined] {
  const body = arg.replace(/^--?/, '');
  const eq = body.indexOf('=');
  return eq === -1 ? [body, undefined] : [body.slice(0, eq), body.slice(eq + 1)];
}
