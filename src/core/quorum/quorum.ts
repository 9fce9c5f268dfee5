import type { NodeId } from '../node-id.js';

/**
 * The outcome of a vote so far: `won` once a quorum said yes, `lost` once no quorum
 * can say yes even if every voter still silent does, `pending` otherwise.
 */
export type VoteResult = 'pending' | 'lost' | 'won';

/**
 * What one voter answered: `true` yes, `false` no, `undefined` not yet. Called only
 * with the quorum's voters, possibly more than once per voter, so it must be a pure read.
 */
export type VoteLookup = (voter: NodeId) => boolean | undefined;

/**
 * For each voter, the highest slot it has acknowledged (0 for none): a non-negative
 * safe integer, anything else is an invariant violation. Called only with the quorum's
 * voters, possibly more than once per voter, so it must be a pure read.
 */
export type AcknowledgedLookup = (voter: NodeId) => number;

/**
 * A quorum system: which sets of voters form a phase-1 quorum (prepare/promise) and
 * which form a phase-2 quorum (accept/accepted). Safety needs every phase-1 quorum to
 * intersect every phase-2 quorum. Implementations are pure and know nothing of
 * messages or roles: they answer from lookups.
 */
export interface Quorum {
  /** Every voter, in a stable order, without duplicates. */
  readonly voters: readonly NodeId[];
  /** Whether `id` votes in this system. */
  isVoter(id: NodeId): boolean;
  /** The phase-1 vote so far. */
  phase1(vote: VoteLookup): VoteResult;
  /** The phase-2 vote so far. */
  phase2(vote: VoteLookup): VoteResult;
  /**
   * The largest slot `s` such that a phase-2 quorum has each acknowledged a slot
   * `>= s` (0 if none): with "acknowledged" meaning "accepted every slot up to", this
   * is the commit index.
   */
  committedSlot(acknowledged: AcknowledgedLookup): number;
  /** A short description for traces, such as `majority(3 of 5)`. */
  describe(): string;
}
