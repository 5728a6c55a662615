// The real-cluster end-to-end tests (test/e2e-cluster/): one file at a time, one test at a time, against the cluster
// test/run-tests.mjs starts (or, for one file alone, a cluster the file starts itself). Runs take minutes each.
export default {
  files: ['dist/test/e2e-cluster/**/*.test.js'],
  concurrency: 1,
  serial: true,
  timeout: '20m',
  workerThreads: false,
};
