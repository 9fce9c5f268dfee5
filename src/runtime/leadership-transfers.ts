/**
 * A node's leadership transfers in flight: each waits until its target leads, or is
 * refused (superseded, another node took over, or the target did not campaign in time).
 */
import { LazySet } from '../core/lazy-map.js';
import type { NodeId, Replica, ReplicaStatus } from '../core/index.js';
import { assert } from '../core/assert.js';
import type { Clock } from './clock.js';
import { NotLeaderError, TransferError } from './errors.js';
import type { WaitOptions } from './reads.js';
import { type Waiter, createWaiter } from './waiter.js';

/** What leadership transfers need from their node. @internal */
export interface LeadershipTransfersHost {
  /** The core, which starts a transfer while this node leads (there once the node started). */
  core(): Pick<Replica, 'role' | 'transferLeadership'>;
  /** Runs the drive loop soon (this turn): the transfer's messages go out. */
  drainSoon(): void;
}

interface Transfer {
  readonly to: NodeId;
  readonly waiter: Waiter<void>;
}

/**
 * The transfers this node, as leader, started and waits on (see
 * {@link SynodNode.transferLeadership}); a new one supersedes those to other targets.
 * @internal
 */
export class LeadershipTransfers {
  private readonly pending = new LazySet<Transfer>();

  constructor(
    private readonly id: NodeId,
    private readonly clock: Clock,
    /** How long the core gives a target to catch up and campaign, in ticks (for the message). */
    private readonly electionTicksMax: number,
    private readonly host: LeadershipTransfersHost,
  ) {}

  /** Starts a transfer to `to`; the promise settles once `to` leads. Throws what refuses it at once. */
  transfer(to: NodeId, options: WaitOptions, timeoutMs: number): Promise<void> {
    const core = this.host.core();
    if (to === this.id && core.role === 'leader') return Promise.resolve();
    const result = core.transferLeadership(to);
    if (!result.ok) {
      if (result.reason === 'not-voter') throw new TransferError(to, 'it is not a voting member');
      throw new NotLeaderError(result.leaderHint);
    }
    this.host.drainSoon();
    for (const t of [...this.pending]) if (t.to !== to) t.waiter.reject(new TransferError(t.to, `superseded by a transfer to ${to}`));
    const limits = { timeoutMs, signal: options.signal, onTimeout: () => new TransferError(to, `it did not take over within ${timeoutMs} ms`) };
    const { promise, waiter } = createWaiter<void>(this.clock, 'transferLeadership', limits, () => this.pending.delete(transfer));
    const transfer: Transfer = { to, waiter };
    this.pending.add(transfer);
    return promise;
  }

  /** The core's status after a step: a transfer whose target leads resolves; one the core gave up on rejects. */
  observe(s: Pick<ReplicaStatus, 'heardLeader' | 'role' | 'transferTarget'>): void {
    if (this.pending.size === 0) return;
    // A transfer is done once the target leads, not when it merely campaigns (its
    // prepare already makes it this node's leader hint): hearing it send phase 2 says it won.
    if (s.heardLeader !== undefined) {
      for (const t of [...this.pending]) if (t.to === s.heardLeader.node) t.waiter.resolve();
    }
    if (this.pending.size > 0 && s.role === 'leader' && s.transferTarget === undefined) {
      for (const t of [...this.pending]) {
        t.waiter.reject(new TransferError(t.to, `it did not catch up and campaign within ${this.electionTicksMax} ticks; this node leads on`));
      }
    }
  }

  /** `leader` took over: a transfer to another node failed. */
  leaderChanged(leader: NodeId | undefined): void {
    if (leader === undefined || leader === this.id) return;
    for (const t of [...this.pending]) if (leader !== t.to) t.waiter.reject(new TransferError(t.to, `${leader} took over instead`));
  }

  /** The node closes: every transfer waiting rejects with `error()`. */
  close(error: () => Error): void {
    for (const t of [...this.pending]) t.waiter.reject(error());
    assert(this.pending.size === 0, () => `${this.pending.size} leadership transfers left pending on close`);
  }
}
