/**
 * `npm test` runs this before ava: finds (or builds, once, into the cache) the kube-apiserver and etcd the cluster
 * tests start, and prints where they are. Failing here, before any test file starts, gives one clear message instead
 * of every cluster test file failing (or building) on its own.
 */
import { BinariesError, ensureBinaries } from '../support/binaries.js';

try {
  const binaries = await ensureBinaries();
  process.stdout.write(`test control plane (${binaries.source}): ${binaries.kubeApiserver}, ${binaries.etcd}\n`);
} catch (error) {
  const message = error instanceof BinariesError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`cannot provide kube-apiserver and etcd for the cluster tests:\n${message}\n`);
  process.exitCode = 1;
}
