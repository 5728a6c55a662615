import type { Diagnostic } from '../errors.js';
import { RewriteError } from '../errors.js';
import { MAX_REPORTED_ERRORS } from './limits.js';

/**
 * Collects the diagnostics of one object's rewrite; `throwIfErrors()` throws them all at once. At most
 * MAX_REPORTED_ERRORS errors (and as many warnings) are kept; the rest are counted, and the refusal says how many.
 */
export class Diagnostics {
  readonly items: Diagnostic[] = [];
  private errors = 0;
  private warnings = 0;
  private mapPath: ((path: string) => string) | undefined;

  constructor(readonly object: string) {}

  /** `about: 'key'`: the key at `path` is wrong, not its value (see Diagnostic.key). */
  error(path: string, message: string, about?: 'key'): void {
    this.errors += 1;
    if (this.errors > MAX_REPORTED_ERRORS) return;
    const at = this.mapPath?.(path) ?? path;
    this.items.push({ severity: 'error', object: this.object, path: at, message, ...(about === 'key' ? { key: true as const } : {}) });
  }

  warn(path: string, message: string): void {
    this.warnings += 1;
    if (this.warnings <= MAX_REPORTED_ERRORS) this.items.push({ severity: 'warning', object: this.object, path: this.mapPath?.(path) ?? path, message });
  }

  /**
   * Runs `fn` with every path it reports mapped by `map`: a pass over an object an earlier pass already changed
   * (steps inserted) still names the fields of the object the user wrote.
   */
  withPaths<T>(map: (path: string) => string, fn: () => T): T {
    const outer = this.mapPath;
    this.mapPath = outer === undefined ? map : (path) => outer(map(path));
    try {
      return fn();
    } finally {
      this.mapPath = outer;
    }
  }

  get hasErrors(): boolean {
    return this.errors > 0;
  }

  /** Every error reported so far, listed or not. */
  get errorCount(): number {
    return this.errors;
  }

  /** Throws a RewriteError carrying every diagnostic when any is an error. */
  throwIfErrors(): void {
    if (!this.hasErrors) return;
    const omitted = this.errors - MAX_REPORTED_ERRORS;
    const items = omitted > 0 ? [...this.items, { severity: 'error' as const, object: this.object, path: '', message: `and ${omitted} more errors (the first ${MAX_REPORTED_ERRORS} are listed)` }] : this.items;
    throw new RewriteError(items);
  }
}
