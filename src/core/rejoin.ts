import { assert } from './assert.js';
import { type Ballot, ballotZero, compareBallots } from './ballot.js';
import type { AcceptedEntry, ProbeReplyMessage } from './messages.js';
import type { NodeId } from './node-id.js';

/** What a rebuilding voter takes on once it learned the chosen log up to `commitIndex`. */
export interface RejoinPlan {
  /** The promise to take: the highest any voter holds. */
  readonly promised: Ballot;
  /** The commit index to reach first (the highest any voter had). */
  readonly commitIndex: number;
  /** The voter that had it: catch-up asks it directly, no leader needed. */
  readonly source: NodeId | undefined;
  /** Per slot above `commitIndex`, the entry accepted in the highest ballot by any voter. */
  readonly accepted: readonly AcceptedEntry[];
}

/**
 * The guard against amnesia. A voter whose storage holds no promise may be new, or may
 * have been wiped: then it has forgotten promises and accepts it made, and voting again
 * could let two values be chosen for one slot. So it votes only once it knows better.
 *
 * 1. **Probing.** It asks every other voter for its promise, its commit index and what
 *    it accepted above it. If no voter holds anything, the cluster is new: it votes.
 * 2. **Rebuilding.** Otherwise, without voting, it learns the chosen log up to the
 *    highest commit index any voter had. Then, in one durable write, it raises its
 *    promise to the highest any voter holds and accepts, for each slot above, the
 *    entry some voter accepted in the highest ballot; and it votes again.
 *
 * Why that is enough. A candidate persists its own ballot before it asks for promises,
 * so every ballot this voter could have promised is at most some voter's promise now.
 * A value it could have helped choose was accepted by the rest of that phase-2 quorum
 * too (at least one other voter, for quorums of two or more): it is either chosen and
 * committed (learned in step 2) or above every commit index, where that other voter's
 * entry, or a later one in a higher ballot (which carries the same value, by Paxos's
 * invariant), is the one adopted. Promises report learned chosen values as well, so the
 * accepts it forgot are stood in for.
 *
 * Answers are needed from every voter, not a quorum: the candidate holding a forgotten
 * promise may be any of them. A new cluster therefore votes once every voter answered.
 * @internal
 */
export class Rejoin {
  private readonly replies = new Map<NodeId, ProbeReplyMessage>();
  private rebuild: RejoinPlan | undefined;

  constructor(private readonly voters: readonly NodeId[]) {
    assert(voters.length > 0, 'a rejoin needs other voters to ask');
  }

  get state(): 'probing' | 'rebuilding' {
    return this.rebuild === undefined ? 'probing' : 'rebuilding';
  }

  /** While rebuilding, the plan. */
  get plan(): RejoinPlan | undefined {
    return this.rebuild;
  }

  /** The voters not heard from yet, to probe (again). */
  unanswered(): NodeId[] {
    return this.voters.filter((v) => !this.replies.has(v));
  }

  /**
   * A voter answered. Returns `'fresh'` once every voter did and none holds anything (a
   * new cluster: vote now); `'rebuild'` once every voter did and the cluster has history
   * ({@link plan} says what to do); undefined while answers are missing.
   */
  onReply(m: ProbeReplyMessage): 'fresh' | 'rebuild' | undefined {
    if (this.rebuild !== undefined || !this.voters.includes(m.from)) return undefined;
    this.replies.set(m.from, m);
    if (this.replies.size < this.voters.length) return undefined;
    let promised = ballotZero;
    let commitIndex = 0;
    let source: NodeId | undefined;
    const best = new Map<number, AcceptedEntry>();
    for (const r of this.replies.values()) {
      if (compareBallots(r.promised, promised) > 0) promised = r.promised;
      if (r.commitIndex > commitIndex) {
        commitIndex = r.commitIndex;
        source = r.from;
      }
      for (const e of r.accepted) {
        const current = best.get(e.slot);
        if (current === undefined || compareBallots(e.ballot, current.ballot) > 0) best.set(e.slot, e);
      }
    }
    // Round 0 is no real promise: at most the mark of a voter that joined.
    if (promised.round === 0 && commitIndex === 0 && best.size === 0) return 'fresh';
    const accepted = [...best.values()].filter((e) => e.slot > commitIndex).sort((a, b) => a.slot - b.slot);
    this.rebuild = { promised, commitIndex, source, accepted };
    return 'rebuild';
  }
}
