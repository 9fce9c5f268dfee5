import { SynodError } from '../../core/index.js';

/**
 * A malformed history given to the linearizability checker: an operation (or, from
 * {@link historyFromEvents}, an event) that cannot be read. Names its index.
 *
 * @example
 * ```ts
 * try { checkLinearizability(history, versionedKvModel); }
 * catch (e) { if (e instanceof HistoryError) console.log(e.index, e.message); }
 * ```
 */
export class HistoryError extends SynodError {
  /** The index of the offending operation or event. */
  readonly index: number;

  constructor(index: number, why: string) {
    super('HISTORY', `linearizability history: entry ${index}: ${why}`);
    this.index = index;
  }
}
