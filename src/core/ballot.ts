import type { NodeId } from './node-id.js';

/**
 * A ballot: `(round, node)`, totally ordered by round, then by node id. Each node
 * only proposes with its own id, so two proposers never share a ballot.
 */
export interface Ballot {
  /** The round, from 1; round 0 is {@link ballotZero}. */
  readonly round: number;
  /** The node that owns the ballot. */
  readonly node: NodeId;
}

/** The ballot below every real ballot: nothing promised, nothing accepted. */
export const ballotZero: Ballot = Object.freeze({ round: 0, node: '' });

/** Negative if `a < b`, zero if equal, positive if `a > b`. */
export function compareBallots(a: Ballot, b: Ballot): number {
  if (a.round !== b.round) return a.round - b.round;
  if (a.node === b.node) return 0;
  return a.node < b.node ? -1 : 1;
}

/** `a === b` as ballots. */
export function ballotEquals(a: Ballot, b: Ballot): boolean {
  return a.round === b.round && a.node === b.node;
}

/** The larger of two ballots. */
export function maxBallot(a: Ballot, b: Ballot): Ballot {
  return compareBallots(a, b) >= 0 ? a : b;
}

/** `3.n2`: the form used in traces and messages. */
export function formatBallot(b: Ballot): string {
  return b.round === 0 ? '0' : `${b.round}.${b.node}`;
}
