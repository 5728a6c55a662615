/**
 * The shape of the parts of a Pod the Pod webhook reads. Pods the API server sends are decoded into its own types
 * first, so this only matters for a body that did not come from it; either way a mismatch is refused with its field
 * path instead of failing the webhook.
 */
import { ANY, checkShape, listOf, mapOf, object, STRING, type Shape } from '../core/shape/shape.js';

const STRINGS = listOf(STRING, 'a list of strings');
const CONTAINER = object('a container (a mapping)', {
  name: STRING,
  command: STRINGS,
  args: STRINGS,
  workingDir: STRING,
  env: listOf(object('an environment variable (a mapping)', { name: STRING, value: STRING, valueFrom: ANY }), 'a list of environment variables'),
  volumeMounts: listOf(object('a volume mount (a mapping)', { name: STRING, mountPath: STRING, subPath: STRING, subPathExpr: STRING }), 'a list of volume mounts'),
  securityContext: object('a securityContext (a mapping)', {}),
});
const POD: Shape = object('a Pod (a mapping)', {
  metadata: object('object metadata (a mapping)', { name: STRING, generateName: STRING, namespace: STRING, labels: mapOf(STRING, 'labels (a mapping of strings)') }),
  spec: object('a pod spec (a mapping)', {
    initContainers: listOf(CONTAINER, 'a list of containers'),
    containers: listOf(CONTAINER, 'a list of containers'),
    volumes: listOf(object('a volume (a mapping)', { name: STRING }), 'a list of volumes'),
    securityContext: object('a pod securityContext (a mapping)', {}),
  }),
});

/** Every mismatch, as `<field path>: expected ..., found ...`. */
export function podShapeProblems(pod: unknown): string[] {
  const problems: string[] = [];
  checkShape(pod, POD, '', (path, message) => {
    if (problems.length < 20) problems.push(`${path}: ${message}`);
  });
  return problems;
}
