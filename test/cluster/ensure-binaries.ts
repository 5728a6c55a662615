/**
 * `npm test` runs this before ava: finds (or builds, once, into the cache) every binary the cluster tests start —
 * the control plane (kube-apiserver, etcd) for the API-server tests, and the rest of a node (kubelet, kube-proxy,
 * kube-controller-manager, kube-scheduler, kubectl, Tekton, the CSI pieces) for the real-cluster tests — and prints
 * where they are. Failing here, before any test file starts, gives one clear message instead of every cluster test
 * file failing (or building) on its own.
 */
import { ensureBinaries } from '../support/binaries.js';
import { ensureGoBuild } from '../support/go-build.js';
import { kubernetesBuild, nodeBuild, tektonBuild } from '../support/go-builds.js';

try {
  const binaries = await ensureBinaries();
  process.stdout.write(`test control plane (${binaries.source}): ${binaries.kubeApiserver}, ${binaries.etcd}\n`);
  for (const build of [kubernetesBuild(), tektonBuild(), nodeBuild()]) {
    const built = await ensureGoBuild(build);
    process.stdout.write(`${build.name} ${build.version} (${built.source}): ${built.dir}\n`);
  }
} catch (error) {
  const message = error instanceof Error && 'code' in error ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`cannot provide the binaries for the cluster tests:\n${message}\n`);
  process.exitCode = 1;
}
