/**
 * Where the test control plane's `kube-apiserver` and `etcd` come from.
 *
 * 1. `KUBEBUILDER_ASSETS` (controller-runtime's convention, e.g. `setup-envtest use 1.35.x -p path`): both binaries
 *    must be in that directory; nothing is built. (The real node of test/support/node/ needs the kubelet and the
 *    other components too, which setup-envtest does not ship: it always uses the build below.)
 * 2. Otherwise the `kubernetes` build of the wrapper module in test/cluster/binaries (./go-builds.ts), cached per
 *    user and rebuilt when that module's inputs change (./go-build.ts).
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureGoBuild, GoBuildError } from './go-build.js';
import { kubernetesBuild, requiredVersion } from './go-builds.js';

export { KUBERNETES_MODULE_DIR as MODULE_DIR } from './go-builds.js';

const BINARIES = ['kube-apiserver', 'etcd'] as const;
const WHAT_TO_DO =
  'Install Go >= 1.26 with access to the Go module proxy (https://proxy.golang.org or your GOPROXY), or set ' +
  'KUBEBUILDER_ASSETS to a directory holding kube-apiserver and etcd, e.g. the output of ' +
  '`setup-envtest use 1.35.x -p path` (sigs.k8s.io/controller-runtime/tools/setup-envtest).';

export interface ControlPlaneBinaries {
  readonly kubeApiserver: string;
  readonly etcd: string;
  /** Where they came from: the KUBEBUILDER_ASSETS directory, the cache as found, or a build that just ran. */
  readonly source: 'KUBEBUILDER_ASSETS' | 'cache' | 'build';
  readonly dir: string;
}

export type BinariesErrorCode = 'ASSETS_MISSING' | 'GO_MISSING' | 'BUILD_FAILED';

export class BinariesError extends Error {
  override readonly name = 'BinariesError';
  constructor(readonly code: BinariesErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface BinariesOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Progress lines (default: stderr). */
  readonly log?: (line: string) => void;
}

/** The Kubernetes version the wrapper module pins, e.g. `v1.35.4` (the `k8s.io/kubernetes` requirement in go.mod). */
export function kubernetesVersion(goMod: string): string {
  return requiredVersion(goMod, 'k8s.io/kubernetes');
}

export async function ensureBinaries(options: BinariesOptions = {}): Promise<ControlPlaneBinaries> {
  const env = options.env ?? process.env;
  if (env.KUBEBUILDER_ASSETS) return fromAssets(env.KUBEBUILDER_ASSETS);
  try {
    const built = await ensureGoBuild(kubernetesBuild(WHAT_TO_DO), options);
    return { kubeApiserver: join(built.dir, 'kube-apiserver'), etcd: join(built.dir, 'etcd'), source: built.source, dir: built.dir };
  } catch (error) {
    if (error instanceof GoBuildError) throw new BinariesError(error.code, error.message, { cause: error });
    throw error;
  }
}

async function fromAssets(assets: string): Promise<ControlPlaneBinaries> {
  for (const name of BINARIES) {
    const file = join(assets, name);
    try {
      await access(file, constants.X_OK);
    } catch (cause) {
      throw new BinariesError(
        'ASSETS_MISSING',
        `KUBEBUILDER_ASSETS=${assets} but ${file} is missing or not executable. ` +
          'Point KUBEBUILDER_ASSETS at a directory holding both kube-apiserver and etcd ' +
          '(`setup-envtest use 1.35.x -p path`), or unset it to build them with Go.',
        { cause },
      );
    }
  }
  return { kubeApiserver: join(assets, 'kube-apiserver'), etcd: join(assets, 'etcd'), source: 'KUBEBUILDER_ASSETS', dir: assets };
}
