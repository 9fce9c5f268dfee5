import { assert } from './assert.js';
import type { Limits } from './limits.js';
import type { NodeId } from './node-id.js';
import type { Quorum, VoteResult } from './quorum/quorum.js';

/**
 * Leader election timing and the pre-check round.
 *
 * A follower that hears no leader for a random number of ticks in
 * `[electionTicksMin, electionTicksMax]` does not bump its ballot at once: it first
 * asks the voters whether they would support an election (a pre-check). A voter says
 * yes only if it has not heard from a live leader for `electionTicksMin` ticks and the
 * asker's commit index is not behind its own. Only with a phase-1 quorum of yeses does
 * the node start phase 1 with a higher ballot. So a node cut off from a quorum, or
 * reachable from only part of the cluster (A sees B, B sees C, A does not see C), never
 * forces a healthy leader out by raising ballots; and the leader that wins tends to be
 * the most up to date. The pre-check changes no state, so it needs no persistence.
 * @internal
 */
export class Election {
  /** Ticks since this node last heard from a leader (or started). */
  leaderElapsed = 0;
  /** Ticks since the election timer was last reset. */
  elapsed = 0;
  /** The current randomized timeout. */
  timeout: number;
  private precheckGrants: Set<NodeId> | undefined;
  private precheckRefusals = new Set<NodeId>();

  constructor(
    private readonly limits: Limits,
    private readonly random: () => number,
  ) {
    this.timeout = this.randomTimeout();
  }

  private randomTimeout(): number {
    const r = this.random();
    assert(r >= 0 && r < 1, () => `random() returned ${r}, outside [0, 1)`);
    const span = this.limits.electionTicksMax - this.limits.electionTicksMin + 1;
    return this.limits.electionTicksMin + Math.floor(r * span);
  }

  /** Restarts the election timer with a fresh random timeout. */
  resetTimer(): void {
    this.elapsed = 0;
    this.timeout = this.randomTimeout();
  }

  /** A message from the current leader arrived. */
  heardLeader(): void {
    this.leaderElapsed = 0;
    this.resetTimer();
    this.precheckGrants = undefined;
  }

  tick(): void {
    this.elapsed++;
    this.leaderElapsed++;
  }

  get timedOut(): boolean {
    return this.elapsed >= this.timeout;
  }

  /** Whether this node would support someone else's election now. */
  grantsPrecheck(isLeader: boolean, askerCommit: number, ownCommit: number): boolean {
    if (isLeader) return false;
    // A node that just started counts as having heard a leader, so a restart cannot
    // hand a quorum of yeses to a candidate while the leader is alive.
    const leaderLive = this.leaderElapsed < this.limits.electionTicksMin;
    return !leaderLive && askerCommit >= ownCommit;
  }

  get prechecking(): boolean {
    return this.precheckGrants !== undefined;
  }

  startPrecheck(self: NodeId): void {
    this.precheckGrants = new Set([self]);
    this.precheckRefusals = new Set();
    this.resetTimer();
  }

  stopPrecheck(): void {
    this.precheckGrants = undefined;
  }

  onPrecheckReply(from: NodeId, granted: boolean): void {
    if (this.precheckGrants === undefined) return;
    if (granted) this.precheckGrants.add(from);
    else this.precheckRefusals.add(from);
  }

  precheckVote(quorum: Quorum): VoteResult {
    const grants = this.precheckGrants;
    if (grants === undefined) return 'pending';
    return quorum.phase1((v) => (grants.has(v) ? true : this.precheckRefusals.has(v) ? false : undefined));
  }
}
