/**
 * How Tekton v1.15.0 reads the start of a step script (pkg/pod/script.go placeScriptInContainer, and the alpha gate in
 * pkg/apis/pipeline/v1): after `strings.TrimSpace`, whose white space (Go's unicode.IsSpace) is Unicode's White_Space,
 * `\p{White_Space}` here. Not String.prototype.trim, which also drops U+FEFF. init/script-preamble.ts applies the same
 * rule to bytes, in the pod.
 */

/** The script from its first character Tekton does not trim. */
export function scriptStart(script: string): string {
  return script.replace(/^\p{White_Space}+/u, '');
}

/** A Windows script (`#!win`): Tekton runs it with PowerShell, in a Windows pod. */
export function isWindowsScript(script: unknown): script is string {
  return typeof script === 'string' && scriptStart(script).startsWith('#!win');
}
