/**
 * The errors a {@link GroupHost} throws. Each extends `SynodError`, has a stable
 * `code`, and matches `instanceof` across duplicate copies of the package.
 */
import { SynodError } from '../core/index.js';

/** A group with this id runs on the host already: remove it first. */
export class DuplicateGroupError extends SynodError {
  /** The group id asked for. */
  readonly group: number;

  constructor(api: string, group: number) {
    super('DUPLICATE_GROUP', `${api}: group ${group} runs on this host already`);
    this.group = group;
  }
}

/** No group with this id runs on the host (never created, or removed). */
export class UnknownGroupError extends SynodError {
  /** The group id asked for. */
  readonly group: number;

  constructor(api: string, group: number) {
    super('UNKNOWN_GROUP', `${api}: no group ${group} runs on this host`);
    this.group = group;
  }
}
