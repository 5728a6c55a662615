/**
 * `tlr-init substitute --install-exec <dir>`: copies the exec helper (exec/, a static binary in this image at
 * EXEC_IMAGE_PATH) into the pod's emptyDir, where the steps that carry reference values in their args, command or env
 * run it (read-only) in place of their command. Copied next to itself under a temp name and renamed, mode 0555: a
 * step never sees a half-written helper. `TLR_EXEC_SOURCE` names another source (tests running tlr-init outside the
 * image).
 */
import { copyFile, chmod, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { EXEC_IMAGE_PATH } from '../src/api/names.js';
import { TlrError } from '../src/errors.js';
import { tempPathFor } from './atomic-write.js';

export async function installExecHelper(dir: string, source = process.env.TLR_EXEC_SOURCE ?? EXEC_IMAGE_PATH): Promise<string> {
  const target = join(dir, 'tlr-exec');
  const temp = tempPathFor(target);
  try {
    await copyFile(source, temp);
    await chmod(temp, 0o555);
    await rename(temp, target);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw new TlrError(
      'E_INPUT',
      `cannot install the exec helper ${source} into ${dir} (steps with reference values in args, command or env ` +
        `run it): ${(error as Error).message}; the tlr-init image must hold it at ${EXEC_IMAGE_PATH}`,
    );
  }
  return target;
}
