import { open } from 'node:fs/promises';
import { hashHandle } from '../../init/hash-file.js';

/** The sha256 (hex) of a file, read with tlr-init's own hashing. */
export async function sha256File(path: string): Promise<string> {
  const handle = await open(path, 'r');
  try {
    return (await hashHandle(handle)).sha256;
  } finally {
    await handle.close();
  }
}
