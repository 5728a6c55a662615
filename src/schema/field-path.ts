/**
 * Kubernetes-style field paths (`spec.tasks[2].params[0].value`, `metadata.labels[app.kubernetes.io/name]`), as
 * in k8s.io/apimachinery's field.Path: fields joined by dots, list indexes and map keys in brackets.
 */

import { childPath } from '../core/json-walk.js';

/** One rule for field paths across the project: the core's (k8s.io/apimachinery field.Path style). */
export { childPath };

export function indexPath(parent: string, index: number): string {
  return `${parent}[${index}]`;
}

/** Turns a JSON pointer into `data` (`/spec/tasks/2`) into a field path (`spec.tasks[2]`). */
export function pointerToFieldPath(data: unknown, pointer: string): string {
  if (pointer === '') {
    return '';
  }
  let path = '';
  let node: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const segment = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (Array.isArray(node)) {
      path = indexPath(path, Number(segment));
      node = node[Number(segment)];
    } else {
      path = childPath(path, segment);
      node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[segment] : undefined;
    }
  }
  return path;
}
