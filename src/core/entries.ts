import type { Ballot } from './ballot.js';
import type { Value } from './value.js';

/**
 * A slot and the value chosen for it. A replica persists one when it learns a value
 * chosen without accepting it itself (catch-up, a promise that reports it), reports
 * them in promises, and hands them to its driver to apply.
 */
export interface ChosenEntry {
  readonly slot: number;
  readonly value: Value;
}

/** A chosen slot handed to the driver to apply ({@link Output.committed}): a {@link ChosenEntry}. */
export type CommittedEntry = ChosenEntry;

/** A value an acceptor accepted for a slot, in the ballot it accepted it in, as it persists and reports it. */
export interface AcceptedEntry {
  readonly slot: number;
  /** The ballot in which the acceptor accepted `value`. */
  readonly ballot: Ballot;
  readonly value: Value;
}
