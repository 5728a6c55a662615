import type { Diagnostic } from '../errors.js';
import { RewriteError } from '../errors.js';

/** Collects the diagnostics of one object's rewrite; `fail()` throws them all at once. */
export class Diagnostics {
  readonly items: Diagnostic[] = [];

  constructor(readonly object: string) {}

  error(path: string, message: string): void {
    this.items.push({ severity: 'error', object: this.object, path, message });
  }

  warn(path: string, message: string): void {
    this.items.push({ severity: 'warning', object: this.object, path, message });
  }

  get hasErrors(): boolean {
    return this.items.some((d) => d.severity === 'error');
  }

  /** Throws a RewriteError carrying every diagnostic when any is an error. */
  throwIfErrors(): void {
    if (this.hasErrors) throw new RewriteError(this.items);
  }
}
