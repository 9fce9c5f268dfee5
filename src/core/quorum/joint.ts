import { assert } from '../assert.js';
import type { NodeId } from '../node-id.js';
import type { AcknowledgedLookup, Quorum, VoteLookup, VoteResult } from './quorum.js';

/**
 * A joint quorum system for a membership change (the joint consensus of Ongaro and
 * Ousterhout, "In Search of an Understandable Consensus Algorithm", section 6): a set
 * is a quorum only if it holds a quorum of `old` and a quorum of `next`, so while both
 * configurations are in force neither can decide alone. A vote is won once won in both, lost once lost in either; the
 * committed slot is the smaller of the two.
 *
 * A voter in both configurations is asked once per configuration, so lookups must
 * answer consistently (they are pure reads of what each voter said).
 *
 * @param old - The configuration being left.
 * @param next - The configuration being entered.
 *
 * @example
 * ```ts
 * // Replace c with d: until the change is chosen, decisions need both majorities.
 * const quorum = joint(majority(['a', 'b', 'c']), majority(['a', 'b', 'd']));
 * quorum.voters; // ['a', 'b', 'c', 'd']
 * quorum.phase2((voter) => (voter === 'a' || voter === 'c' ? true : undefined)); // 'pending'
 * quorum.phase2((voter) => (voter === 'a' || voter === 'b' ? true : undefined)); // 'won'
 * ```
 */
export function joint(old: Quorum, next: Quorum): Quorum {
  const voters = Object.freeze([...old.voters, ...next.voters.filter((id) => !old.isVoter(id))]);
  assert(new Set(voters).size === voters.length, `joint: ${voters.join(',')} repeats a voter`);
  const description = `joint(${old.describe()}, ${next.describe()})`;
  return {
    voters,
    isVoter: (id: NodeId) => old.isVoter(id) || next.isVoter(id),
    phase1: (vote: VoteLookup) => both(old.phase1(vote), next.phase1(vote)),
    phase2: (vote: VoteLookup) => both(old.phase2(vote), next.phase2(vote)),
    committedSlot: (acknowledged: AcknowledgedLookup) => Math.min(old.committedSlot(acknowledged), next.committedSlot(acknowledged)),
    describe: () => description,
  };
}

/** Combines two configurations' results: lost in either, won in both. */
function both(a: VoteResult, b: VoteResult): VoteResult {
  if (a === 'lost' || b === 'lost') return 'lost';
  return a === 'won' && b === 'won' ? 'won' : 'pending';
}
