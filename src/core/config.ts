import { DEFAULT_MOUNT_PATH } from '../api/names.js';
import { TlrError } from '../errors.js';
import { parseQuantity, parseQuantityExact } from './quantity.js';

/**
 * The admin's configuration, parsed in one pure step from the flat string map of the `tlr-config` ConfigMap (or a
 * file given to the CLI). Every key is documented in docs/configuration.md; a key set in the map wins over its
 * default, and `namespace.<ns>.<key>` overrides a volume key for one namespace.
 */
export interface Config {
  /** StorageClass of provisioned result volumes; empty means the cluster's default class. */
  readonly storageClassName: string;
  readonly accessModes: readonly string[];
  /** Requested size of a provisioned result volume, as a quantity string (`1Gi`). */
  readonly size: string;
  /** Largest reference result the seal step accepts, in bytes. */
  readonly maxResultSize: number;
  /** Most bytes of result values the init container substitutes into one consumer pod's scripts, all together. */
  readonly maxSubstitutedSize: number;
  readonly retention: Retention;
  /** Image of `tlr-init` (prepare, seal, substitute). */
  readonly initImage: string;
  /** Where the result workspace is mounted in producer and consumer steps. */
  readonly mountPath: string;
  /**
   * When set (default 65532), the pods of opted-in runs get this `fsGroup` (unless the run sets one), so the kubelet
   * makes a new result volume group-writable for `tlr-prepare` (which runs as a non-root user), where the volume's CSI
   * driver applies fsGroup. Undefined (the key set empty): pods are left alone.
   */
  readonly fsGroup: number | undefined;
  /**
   * `tlr-prepare` runs as root (uid 0, every capability dropped, no privilege escalation): for volumes whose driver
   * ignores fsGroup, in namespaces that allow root containers. Default false.
   */
  readonly prepareRunAsRoot: boolean;
  /**
   * Reference values in steps' `args`, `command` and `env` (and the stepTemplate's), put in at step start by the exec
   * helper (exec/). Default true; false: refused at admission, as they were before the helper.
   */
  readonly valuesInArgsAndEnv: boolean;
  /**
   * Largest value the seal step also publishes as a copy (a classic Tekton result, `tlr-copy-<name>`), for consumers
   * that use it where it must be known when the pod is created (an image, a Secret's or ConfigMap's name or key, a
   * volume or mount path, a sidecar, a when expression), in bytes as Tekton encodes it. Default 512; 0: no copies, such
   * uses refused at admission as before.
   */
  readonly maxCopySize: number;
}

export type Retention =
  | { readonly kind: 'with-run' }
  | { readonly kind: 'on-completion' }
  | { readonly kind: 'keep'; readonly seconds: number };

export const DEFAULT_INIT_IMAGE = 'localhost/tekton-large-results/tlr-init:v0.1.0';

export const CONFIG_DEFAULTS: Readonly<Record<ConfigKey, string>> = {
  storageClassName: '',
  accessModes: 'ReadWriteOnce',
  size: '1Gi',
  maxResultSize: '1Gi',
  maxSubstitutedSize: '1Gi',
  retention: 'with-run',
  initImage: DEFAULT_INIT_IMAGE,
  mountPath: DEFAULT_MOUNT_PATH,
  fsGroup: '65532',
  prepareRunAsRoot: 'false',
  valuesInArgsAndEnv: 'true',
  maxCopySize: '512',
};

export type ConfigKey =
  | 'storageClassName'
  | 'accessModes'
  | 'size'
  | 'maxResultSize'
  | 'maxSubstitutedSize'
  | 'retention'
  | 'initImage'
  | 'mountPath'
  | 'fsGroup'
  | 'prepareRunAsRoot'
  | 'valuesInArgsAndEnv'
  | 'maxCopySize';

const KEYS = Object.keys(CONFIG_DEFAULTS) as ConfigKey[];
/** Keys a namespace may override (`namespace.<ns>.<key>`); images and mount paths are cluster-wide. */
const NAMESPACED_KEYS: readonly ConfigKey[] = ['storageClassName', 'accessModes', 'size', 'maxResultSize', 'maxSubstitutedSize', 'retention', 'fsGroup', 'prepareRunAsRoot', 'valuesInArgsAndEnv', 'maxCopySize'];
const ACCESS_MODES = ['ReadWriteOnce', 'ReadWriteMany'];

/**
 * Parses the flat map for one namespace. Unknown keys are errors (a typo must not silently fall back to a default).
 * `_example` and keys starting with `_` are ignored, as Knative/Tekton ConfigMaps do.
 */
export function parseConfig(data: Readonly<Record<string, string>> = {}, namespace?: string): Config {
  const effective: Record<string, string> = { ...CONFIG_DEFAULTS };
  for (const [key, value] of Object.entries(data)) {
    if (key.startsWith('_')) continue;
    if ((KEYS as string[]).includes(key)) {
      effective[key] = value;
      continue;
    }
    const match = /^namespace\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([A-Za-z]+)$/.exec(key);
    const nsKey = match?.[3] as ConfigKey | undefined;
    if (!match || !nsKey || !NAMESPACED_KEYS.includes(nsKey)) {
      throw new TlrError(
        'E_CONFIG',
        `config key "${key}": expected one of ${KEYS.join(', ')} or namespace.<namespace>.<${NAMESPACED_KEYS.join('|')}>, found an unknown key`,
      );
    }
  }
  const overridden = new Set<ConfigKey>();
  if (namespace !== undefined) {
    for (const key of NAMESPACED_KEYS) {
      const override = data[`namespace.${namespace}.${key}`];
      if (override !== undefined) {
        effective[key] = override;
        overridden.add(key);
      }
    }
  }
  return build(effective, namespace, overridden);
}

function build(values: Record<string, string>, namespace: string | undefined, overridden: ReadonlySet<ConfigKey>): Config {
  // A key the namespace overrode is named as such (it is the namespace.<ns>.<key> entry that is wrong).
  const keyName = (key: ConfigKey): string => (overridden.has(key) ? `${key} (namespace ${namespace})` : key);
  const accessModes = parseAccessModes(values.accessModes, keyName('accessModes'));
  const exactSize = parseQuantityExact((values.size ?? '').trim(), keyName('size'));
  const exactMaxResultSize = parseQuantityExact((values.maxResultSize ?? '').trim(), keyName('maxResultSize'));
  const maxResultSize = Number(exactMaxResultSize);
  if (exactMaxResultSize > exactSize) {
    throw new TlrError(
      'E_CONFIG',
      `config key "${keyName('maxResultSize')}": ${values.maxResultSize?.trim()} (${exactMaxResultSize} bytes) is more than the volume each run gets, ` +
        `config key "${keyName('size')}": ${values.size?.trim()} (${exactSize} bytes); a result that large could never be stored. Expected maxResultSize at most size`,
    );
  }
  const mountPath = checkMountPath(values.mountPath ?? '');
  const initImage = checkInitImage(values.initImage ?? '');
  return {
    storageClassName: parseStorageClass(values.storageClassName ?? '', keyName('storageClassName')),
    accessModes,
    size: (values.size ?? '').trim(),
    maxResultSize,
    maxSubstitutedSize: parseQuantity((values.maxSubstitutedSize ?? '').trim(), keyName('maxSubstitutedSize')),
    retention: parseRetention(values.retention ?? '', keyName('retention')),
    initImage,
    mountPath,
    fsGroup: parseFsGroup(values.fsGroup ?? '', keyName('fsGroup')),
    prepareRunAsRoot: parseBoolean(values.prepareRunAsRoot ?? '', keyName('prepareRunAsRoot')),
    ...valueKeys(values, keyName),
  };
}

/** The keys deciding where values by reference may go: the exec helper, and copies. */
function valueKeys(values: Record<string, string>, keyName: (key: ConfigKey) => string): Pick<Config, 'valuesInArgsAndEnv' | 'maxCopySize'> {
  return {
    valuesInArgsAndEnv: parseBoolean(values.valuesInArgsAndEnv ?? '', keyName('valuesInArgsAndEnv')),
    maxCopySize: parseCopySize(values.maxCopySize ?? '', keyName('maxCopySize')),
  };
}

/**
 * A copy rides in the seal step's termination message, which Tekton caps at 4096 bytes for all of the task's results
 * together: a copy over 2048 bytes would leave too little room for the references beside it.
 */
export const MAX_COPY_SIZE_LIMIT = 2048;

function parseCopySize(text: string, key: string): number {
  if (text.trim() === '0') return 0;
  const value = parseQuantity(text.trim(), key);
  if (value > MAX_COPY_SIZE_LIMIT) {
    throw new TlrError(
      'E_CONFIG',
      `config key "${key}": expected at most ${MAX_COPY_SIZE_LIMIT} bytes (a copy rides in the seal step's termination ` +
        `message, which Tekton caps at 4096 bytes for all of a task's results), found "${text}" (${value} bytes)`,
    );
  }
  return value;
}

function parseBoolean(text: string, key: string): boolean {
  const value = text.trim();
  if (value === 'true' || value === 'false') return value === 'true';
  throw new TlrError('E_CONFIG', `config key "${key}": expected "true" or "false", found "${text}"`);
}

/** Empty (the cluster's default class) or a StorageClass name (DNS-1123 subdomain), checked before any PVC is made. */
function parseStorageClass(text: string, key: string): string {
  const value = text.trim();
  if (value !== '' && (value.length > 253 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(value))) {
    throw new TlrError('E_CONFIG', `config key "${key}": expected a StorageClass name (lowercase letters, digits, '-' and '.') or empty for the default class, found "${text}"`);
  }
  return value;
}

function parseFsGroup(text: string, key: string): number | undefined {
  const value = text.trim();
  if (value === '') return undefined;
  if (!/^\d{1,10}$/.test(value) || Number(value) > 2 ** 31 - 1) {
    throw new TlrError('E_CONFIG', `config key "${key}": expected a group id (a whole number, e.g. 65532) or empty, found "${text}"`);
  }
  return Number(value);
}

function parseAccessModes(text: string | undefined, key: string): string[] {
  const accessModes = (text ?? '').split(',').map((m) => m.trim()).filter(Boolean);
  const badMode = accessModes.find((m) => !ACCESS_MODES.includes(m));
  if (accessModes.length === 0 || badMode !== undefined) {
    throw new TlrError(
      'E_CONFIG',
      `config key "${key}": expected a comma-separated list of ${ACCESS_MODES.join(', ')} (pods of several tasks share the volume, so ReadWriteOncePod cannot work), found "${text}"`,
    );
  }
  return accessModes;
}

/**
 * An absolute path, normalised (`//`, `.` and a trailing `/` removed) before it is judged, so `/./tekton` is
 * `/tekton`: not under Tekton's own `/tekton` (its results, scripts and binaries), not `/` (a consumer mounts its
 * view there read-only, a producer its own directory below it), no `..`.
 */
function checkMountPath(mountPath: string): string {
  const segments = mountPath.split('/').filter((s) => s !== '' && s !== '.');
  const normalised = `/${segments.join('/')}`;
  if (!/^\/[A-Za-z0-9._/-]*$/.test(mountPath) || segments.includes('..') || segments.length === 0 || segments[0] === 'tekton') {
    throw new TlrError(
      'E_CONFIG',
      `config key "mountPath": expected an absolute path other than / and outside /tekton, made of [A-Za-z0-9._/-], ` +
        `without "..", found "${mountPath}"${normalised !== mountPath && segments.length > 0 ? ` (${normalised})` : ''}`,
    );
  }
  return normalised;
}

function checkInitImage(initImage: string): string {
  if (initImage.trim() === '' || /\s/.test(initImage)) {
    throw new TlrError('E_CONFIG', `config key "initImage": expected an image reference, found "${initImage}"`);
  }
  return initImage;
}

const DURATION = /^([0-9]+)(s|m|h|d)$/;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

function parseRetention(text: string, key: string): Retention {
  const value = text.trim();
  if (value === 'with-run') return { kind: 'with-run' };
  if (value === 'on-completion') return { kind: 'on-completion' };
  const match = DURATION.exec(value);
  if (match) return { kind: 'keep', seconds: Number(match[1]) * (UNIT_SECONDS[match[2] ?? 's'] ?? 1) };
  throw new TlrError(
    'E_CONFIG',
    `config key "${key}": expected "with-run", "on-completion" or a duration to keep the volume after completion such as 30m, 24h or 7d, found "${text}"`,
  );
}
