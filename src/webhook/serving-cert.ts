/**
 * The webhook's serving certificate, read from files (a mounted Secret) and kept current: the containing directories
 * are watched (a Secret volume swaps its `..data` symlink on update) and the files' stat is polled as a fallback.
 * A pair that does not load (unreadable, not PEM, key not matching the certificate) is logged and the one in use kept.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';

export interface CertPair {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** SHA-256 fingerprint of the leaf certificate (`AB:CD:...`). */
  readonly fingerprint: string;
  readonly validTo: string;
}

/** Reads and checks a pair (throws when it cannot serve: unreadable, not PEM, key not matching the certificate). */
export function loadCertPair(certFile: string, keyFile: string): CertPair {
  const cert = readFileSync(certFile);
  const key = readFileSync(keyFile);
  createSecureContext({ cert, key });
  const leaf = new X509Certificate(cert);
  return { cert, key, fingerprint: leaf.fingerprint256, validTo: leaf.validTo };
}

export interface ServingCertOptions {
  readonly certFile: string;
  readonly keyFile: string;
  readonly logger: Logger;
  /** Installs a new pair (https.Server#setSecureContext). */
  readonly apply: (pair: CertPair) => void;
  /** Fallback poll of the files' stat; default 10 s. */
  readonly pollIntervalMs?: number;
  /** Delay after a directory event before reloading (writers touch several files); default 100 ms. */
  readonly debounceMs?: number;
}

export interface ServingCert {
  /** The pair in use. */
  current(): CertPair;
  /** Reloads now when the files changed; returns whether a new pair was installed. */
  reload(): boolean;
  close(): void;
}

/** Loads the pair (throws if the initial one is unusable) and starts watching. */
export function watchServingCert(options: ServingCertOptions): ServingCert {
  const { certFile, keyFile, logger } = options;
  let pair = loadCertPair(certFile, keyFile);
  let stamp = statStamp(certFile, keyFile);
  let debounce: NodeJS.Timeout | undefined;

  const reload = (): boolean => {
    let next: CertPair;
    try {
      next = loadCertPair(certFile, keyFile);
    } catch (error) {
      logger.error({ err: error, certFile, keyFile, fingerprint: pair.fingerprint }, 'Kept previous serving certificate');
      return false;
    }
    if (next.cert.equals(pair.cert) && next.key.equals(pair.key)) return false;
    options.apply(next);
    logger.info({ fingerprint: next.fingerprint, previous: pair.fingerprint, validTo: next.validTo }, 'Reloaded serving certificate');
    pair = next;
    return true;
  };
  const schedule = (): void => {
    clearTimeout(debounce);
    debounce = setTimeout(reload, options.debounceMs ?? 100);
    debounce.unref();
  };

  const watchers: FSWatcher[] = [];
  for (const dir of new Set([dirname(certFile), dirname(keyFile)])) {
    try {
      const watcher = watch(dir, { persistent: false }, schedule);
      watcher.on('error', (error) => logger.warn({ err: error, dir }, 'Stopped watching certificate directory'));
      watchers.push(watcher);
    } catch (error) {
      logger.warn({ err: error, dir }, 'Could not watch certificate directory');
    }
  }
  const poll = setInterval(() => {
    const now = statStamp(certFile, keyFile);
    if (now === stamp) return;
    stamp = now;
    reload();
  }, options.pollIntervalMs ?? 10_000);
  poll.unref();

  return {
    current: () => pair,
    reload,
    close() {
      clearInterval(poll);
      clearTimeout(debounce);
      for (const watcher of watchers) watcher.close();
    },
  };
}

/** mtime, size and inode of both files (following symlinks), or the error, as one comparable string. */
function statStamp(...files: string[]): string {
  return files
    .map((file) => {
      try {
        const s = statSync(file);
        return `${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch (error) {
        return (error as NodeJS.ErrnoException).code ?? 'error';
      }
    })
    .join('|');
}
