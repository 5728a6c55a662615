/**
 * Which step containers of a consumer pod carry reference values in their args, command or env, and how each is made
 * to run through the exec helper (exec/, copied to EXEC_BINARY by the init container).
 *
 * Tekton v1.15.0 (pkg/pod/entrypoint.go) gives every step `command: [/tekton/bin/entrypoint]` and
 * `args: [<entrypoint flags>…, (-entrypoint <command[0]>), --, <command[1:]>…, <args>…]`; without a command the
 * image's (looked up by Tekton) is in env TEKTON_PLATFORM_COMMANDS and there is no `-entrypoint`. The helper takes the
 * command's place: `-entrypoint <helper> -- --root <mountPath> [--platform-commands] -- <command[0]> <rest>…`, so
 * Tekton's entrypoint still orders the steps, applies onError, timeouts and stdout/stderr capture, and runs the helper
 * at the step's turn; the helper substitutes the values and execs the command. The kubelet expands `$(VAR)` in args
 * before the container starts, on the tokens (which hold no `$`), so no value is ever expanded by it.
 */
import { EXEC_BINARY, OUR_ENV as OURS } from '../api/names.js';
import { REFERENCE_PATTERN } from '../core/reference.js';
import type { Container } from './tekton-pod.js';

const TEKTON_ENTRYPOINT = '/tekton/bin/entrypoint';
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

/** True when the container's args (command included: Tekton moved it there) or env values hold a declared token. */
export function carriesValues(container: Container, tokens: readonly string[]): boolean {
  if (tokens.length === 0) return false;
  const has = (text: unknown): boolean => typeof text === 'string' && text.includes('[[tlr:') && tokens.some((t) => text.includes(t));
  if ([...(container.command ?? []), ...(container.args ?? [])].some(has)) return true;
  return (container.env ?? []).some((e) => !OURS.has(e?.name) && has(e?.value));
}

export type Wrapped = { readonly args: string[] } | { readonly problem: string };

/** The step's args with the helper in its command's place; a problem when the container is not Tekton's shape. */
export function wrapStep(container: Container, mountPath: string): Wrapped {
  const command = container.command ?? [];
  if (command.length !== 1 || command[0] !== TEKTON_ENTRYPOINT) {
    return { problem: `container "${container.name}": expected command [${TEKTON_ENTRYPOINT}] (Tekton's entrypoint), found ${JSON.stringify(command)}` };
  }
  const args = [...(container.args ?? [])];
  const parsed = parseEntrypointArgs(args, container.name);
  if ('problem' in parsed) return parsed;
  const { separator, entrypoint } = parsed;
  // The kubelet expands $(VAR) in args: what we add holds no $ (mountPath is [A-Za-z0-9._/-], config.ts).
  if (entrypoint !== -1) {
    const original = args[entrypoint] as string;
    args[entrypoint] = EXEC_BINARY;
    args.splice(separator + 1, 0, '--root', mountPath, '--', original);
  } else {
    args.splice(separator, 1, '-entrypoint', EXEC_BINARY, '--', '--root', mountPath, '--platform-commands', '--');
  }
  return { args };
}

/**
 * Where Tekton's `--` is and the index of `-entrypoint`'s value (-1: none). As Tekton's entrypoint does
 * (cmd/entrypoint/args.go), the first `--` ends its flags, whatever precedes it; the flags before it are read as Go's
 * flag package reads them, and a flag left without its value (a `--` where it should be) is refused: Tekton's
 * entrypoint would refuse it too.
 */
function parseEntrypointArgs(args: readonly string[], name: string): { separator: number; entrypoint: number } | { problem: string } {
  const separator = args.indexOf('--');
  if (separator === -1) {
    return { problem: `container "${name}": expected Tekton's entrypoint flags, then --, then the step's command and args; found no --` };
  }
  let entrypoint = -1;
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
    i += takesValue ? 2 : 1;
  }
  return { separator, entrypoint };
}

function splitFlag(arg: string): [string, string | undefined] {
  const body = arg.replace(/^--?/, '');
  const eq = body.indexOf('=');
  return eq === -1 ? [body, undefined] : [body.slice(0, eq), body.slice(eq + 1)];
}
