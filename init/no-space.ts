import { TlrError } from '../src/errors.js';

/** True for the errors a full file system gives (ENOSPC, and EDQUOT for a quota). */
export function isNoSpace(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** The result volume is full while writing `file`: tell which file, and which config key sizes the volume. */
export function resultVolumeFull(file: string, cause: unknown): TlrError {
  return new TlrError(
    'E_NO_SPACE',
    `No space left on the result volume while writing ${file}: the volume is full; ` +
      'free space or ask your admin to raise the volume size (config key size)',
    { cause },
  );
}

/**
 * A pod-local volume (an emptyDir such as /tekton/scripts or /tekton/results) is full while writing `file`.
 * `reason` (optional) tells why that much space was needed.
 */
export function podVolumeFull(file: string, cause: unknown, reason = ''): TlrError {
  return new TlrError(
    'E_NO_SPACE',
    `No space left while writing ${file}: the volume holding it (an emptyDir of the pod) is full; ` +
      `${reason}the node must give the pod more ephemeral storage`,
    { cause },
  );
}
