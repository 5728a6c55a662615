/**
 * A throwaway PKI for test clusters, made with the `openssl` CLI: a CA (P-256, 7 days), client certificates (the
 * subject's O values are Kubernetes groups) and serving certificates for IPs and DNS names, all signed by that CA.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';

const CERT_DAYS = '7';

export class PkiError extends Error {
  override readonly name = 'PkiError';
  readonly code = 'OPENSSL_FAILED';
}


const OPENSSL_CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
`;
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
export const CLIENT_EXTENSIONS = 'basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\nextendedKeyUsage = clientAuth\n';

export interface Pki {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly config: string;
}

/** Synchronous on purpose: a handful of sub-10 ms calls, and kubeConfigAs must return a KubeConfig, not a promise. */
export function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (cause) {
    const err = cause as NodeJS.ErrnoException & { stderr?: Buffer };
    const why = err.code === 'ENOENT' ? 'the `openssl` CLI was not found on PATH (install openssl)' : (err.stderr?.toString() ?? err.message);
    throw new PkiError(`openssl ${args.slice(0, 2).join(' ')} failed: ${why}`.trim(), { cause });
  }
}

/** `openssl -subj` with `/`, `+`, `=`, `,` and backslash escaped in each value. */
export function subject(cn: string, orgs: readonly string[] = []): string {
  const esc = (v: string): string => v.replace(/[\\/+=,]/g, (c) => `\\${c}`);
  return `${orgs.map((o) => `/O=${esc(o)}`).join('')}/CN=${esc(cn)}`;
}

export function createPki(dir: string): Pki {
  const pki = { dir, caCert: join(dir, 'ca.crt'), caKey: join(dir, 'ca.key'), config: join(dir, 'openssl.cnf') };
  writeFileSync(pki.config, OPENSSL_CONFIG);
  openssl(['req', '-x509', '-new', ...EC_KEY, '-keyout', pki.caKey, '-out', pki.caCert, '-days', CERT_DAYS,
    '-subj', '/CN=tlr-test-ca', '-config', pki.config, '-extensions', 'ca']);
  return pki;
}

/** Writes `<name>.key` (P-256) and `<name>.crt` signed by the cluster CA; returns both PEMs. */
export function issueCert(pki: Pki, name: string, subj: string, extensions: string): { certPem: string; keyPem: string } {
  const [key, csr, cert, ext] = ['key', 'csr', 'crt', 'ext'].map((e) => join(pki.dir, `${name}.${e}`)) as [string, string, string, string];
  writeFileSync(ext, `[v3]\n${extensions}`);
  openssl(['req', '-new', ...EC_KEY, '-keyout', key, '-out', csr, '-subj', subj, '-config', pki.config]);
  openssl(['x509', '-req', '-in', csr, '-CA', pki.caCert, '-CAkey', pki.caKey, '-set_serial', `0x${randomBytes(16).toString('hex')}`,
    '-days', CERT_DAYS, '-extfile', ext, '-extensions', 'v3', '-out', cert]);
  return { certPem: readFileSync(cert, 'utf8'), keyPem: readFileSync(key, 'utf8') };
}

export function servingExtensions(hosts: readonly string[]): string {
  const sans = hosts.map((h) => (isIP(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  return 'basicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature,keyEncipherment\n' +
    `extendedKeyUsage = serverAuth\nsubjectAltName = ${sans}\n`;
}
