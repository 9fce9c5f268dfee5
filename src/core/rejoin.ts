import { assert } from './assert.js';
import { type Ballot, ballotEquals, ballotZero, compareBallots } from './ballot.js';
import type { AcceptedEntry } from './entries.js';
import type { ProbeReplyMessage } from './messages.js';
import type { NodeId } from './node-id.js';

/** What a rebuilding voter takes on once it learned the chosen log up to `commitIndex`. */
export interface RejoinPlan {
  /** The promise to take: the highest any voter holds (at least the fence). */
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
 * 2. **Fencing.** Otherwise it asks every voter again, with a ballot of its own above
 *    every promise found, which each voter promises before it answers. Accepts it sent
 *    as leader before the wipe may still be on their way; from now on no voter takes
 *    them, so the answers of this round hold everything its forgotten votes could
 *    have helped choose.
 * 3. **Rebuilding.** Without voting, it learns the chosen log up to the highest commit
 *    index any voter had. Then, in one durable write, it raises its promise to the
 *    highest any voter holds and accepts, in the fence ballot, for each slot above, the
 *    value some voter accepted in the highest ballot (what a leader of the fence ballot
 *    would propose after that phase 1); and it votes again.
 *
 * Why that is enough. A candidate persists its own ballot before it asks for promises,
 * so every ballot this voter could have promised is at most some voter's promise. A
 * value it could have helped choose was accepted by the rest of that phase-2 quorum too
 * (quorums of two or more): either chosen and committed (learned in step 3, and
 * reported in its promises from then on) or above every commit index, where the
 * highest-ballot entry some voter holds is that value (Paxos's invariant).
 *
 * Answers are needed from every voter, not a quorum: the candidate holding a forgotten
 * promise, or the acceptor an old accept is on its way to, may be any of them. A new
 * cluster therefore votes once every voter answered.
 * @internal
 */
export class Rejoin {
  private replies = new Map<NodeId, ProbeReplyMessage>();
  private fenceBallot: Ballot = ballotZero;
  private rebuild: RejoinPlan | undefined;

  constructor(
    private readonly self: NodeId,
    private readonly voters: readonly NodeId[],
  ) {
    assert(voters.length > 0, 'a rejoin needs other voters to ask');
  }

  get state(): 'probing' | 'rebuilding' {
    return this.rebuild === undefined ? 'probing' : 'rebuilding';
  }

  /** The ballot the current round of probes carries (zero in the first round). */
  get fence(): Ballot {
    return this.fenceBallot;
  }

  /** While rebuilding, the plan. */
  get plan(): RejoinPlan | undefined {
    return this.rebuild;
  }

  /** Whether `voter` is one of those asked (they are asked until they answer, whatever changes meanwhile). */
  asks(voter: NodeId): boolean {
    return this.voters.includes(voter);
  }

  /** The voters not heard from in this round, to probe (again). */
  unanswered(): NodeId[] {
    return this.voters.filter((v) => !this.replies.has(v));
  }

  /**
   * A voter answered. Returns `'fresh'` once every voter did in the first round and
   * none holds anything (a new cluster: vote now); `'fence'` when the first round found
   * history (probe again, with {@link fence}); `'rebuild'` once every voter answered the
   * fenced round ({@link plan} says what to do); undefined while answers are missing.
   */
  onReply(m: ProbeReplyMessage): 'fresh' | 'fence' | 'rebuild' | undefined {
    if (this.rebuild !== undefined || !this.voters.includes(m.from) || !ballotEquals(m.fence, this.fenceBallot)) return undefined;
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
    if (this.fenceBallot.round === 0) {
      // Round 0 is no real promise: at most the mark of a voter that joined.
      if (promised.round === 0 && commitIndex === 0 && best.size === 0) return 'fresh';
      this.fenceBallot = { round: promised.round + 1, node: this.self };
      this.replies = new Map();
      return 'fence';
    }
    assert(compareBallots(promised, this.fenceBallot) >= 0, () => 'every voter promised the fence, yet the highest promise is below it');
    const accepted = [...best.values()].filter((e) => e.slot > commitIndex).sort((a, b) => a.slot - b.slot);
    this.rebuild = { promised, commitIndex, source, accepted };
    return 'rebuild';
  }
}
