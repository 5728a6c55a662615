/** Where the shared Tekton v1.15.0 release files are: `../shared/tekton/v1.15.0` beside the project root. */
import { fileURLToPath } from 'node:url';

// This file runs as dist/test/schema/tekton-release.js: four levels up is the directory holding the project.
const TEKTON = fileURLToPath(new URL('../../../../shared/tekton/v1.15.0/', import.meta.url));

export const CRD_DIR = `${TEKTON}crds`;
export const EXAMPLES_DIR = `${TEKTON}examples/v1`;
