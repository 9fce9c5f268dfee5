/**
 * A node's membership changes in flight: each waits until the configuration it leads
 * to is in effect here, or is refused as superseded.
 */
import { LazySet } from '../core/lazy-map.js';
import { type ChangeMembersResult, type Configuration, type MembershipChange, type Replica, configurationEquals } from '../core/index.js';
import { assert } from '../core/assert.js';
import type { Clock } from './clock.js';
import { MembershipError, NotLeaderError, TimeoutError } from './errors.js';
import type { WaitOptions } from './reads.js';
import { type Waiter, createWaiter } from './waiter.js';

/** What membership changes need from their node. @internal */
export interface MembershipChangesHost {
  /** The core, which takes a change while this node leads (there once the node started). */
  core(): Pick<Replica, 'changeMembers'>;
  /** The last slot applied here. */
  appliedIndex(): number;
  /** Runs the drive loop soon (this turn): the change's slot goes out. */
  drainSoon(): void;
}

interface PendingChange {
  /** The configuration the change leads to (a joint one for a two-step change). */
  readonly target: Configuration;
  readonly waiter: Waiter<Configuration>;
}

/**
 * The changes this node, as leader, put in the log and waits on (see
 * {@link SynodNode.changeMembers}).
 * @internal
 */
export class MembershipChanges {
  private readonly pending = new LazySet<PendingChange>();

  constructor(
    private readonly clock: Clock,
    private readonly host: MembershipChangesHost,
  ) {}

  /** Hands `change` to the core; the promise settles once it is in effect. Throws what refuses it at once. */
  change(change: MembershipChange, options: WaitOptions, timeoutMs: number): Promise<Configuration> {
    const result = this.host.core().changeMembers(change);
    if (!result.ok) {
      if (result.reason === 'not-leader') throw new NotLeaderError(result.leaderHint);
      throw new MembershipError(result.reason, describeRefusal(result));
    }
    this.host.drainSoon();
    const target = result.config;
    const limits = { timeoutMs, signal: options.signal, onTimeout: () => new TimeoutError('changeMembers', timeoutMs) };
    const { promise, waiter } = createWaiter<Configuration>(this.clock, 'changeMembers', limits, () => this.pending.delete(pending));
    const pending: PendingChange = { target, waiter };
    this.pending.add(pending);
    return promise;
  }

  /**
   * `latest` is the latest configuration chosen, governing from slot `from`: resolves
   * the changes whose configuration is in effect here (chosen, not half done, and every
   * slot before it governs applied). A change another configuration replaced first is
   * refused as superseded.
   */
  observe(latest: Configuration, from: number): void {
    if (this.pending.size === 0) return;
    for (const c of [...this.pending]) {
      const { target } = c;
      if (latest.id < target.id) continue;
      const ours =
        configurationEquals(latest, target) ||
        (target.leaving !== undefined && latest.id === target.id + 1 && latest.leaving === undefined && sameVoters(latest, target));
      const beyond = latest.id > target.id + (target.leaving !== undefined ? 1 : 0);
      if (!ours && !beyond && latest.id === target.id) {
        c.waiter.reject(new MembershipError('superseded', `configuration ${latest.id} was chosen from another change`));
        continue;
      }
      if (latest.leaving !== undefined || this.host.appliedIndex() < from - 1) continue;
      c.waiter.resolve(latest);
    }
  }

  /** The node closes: every change waiting rejects with `error()`. */
  close(error: () => Error): void {
    for (const c of [...this.pending]) c.waiter.reject(error());
    assert(this.pending.size === 0, () => `${this.pending.size} membership changes left pending on close`);
  }
}

/** Whether two configurations have the same voters and rule. */
function sameVoters(a: Configuration, b: Configuration): boolean {
  return a.voters.length === b.voters.length && a.voters.every((v) => b.voters.includes(v)) && JSON.stringify(a.quorum) === JSON.stringify(b.quorum);
}

/** One sentence for a refused change. */
function describeRefusal(r: Exclude<ChangeMembersResult, { ok: true } | { reason: 'not-leader' }>): string {
  switch (r.reason) {
    case 'unknown-member':
      return `${r.id} is not a member`;
    case 'already-member':
      return `${r.id} is a member already`;
    case 'not-observer':
      return `${r.id} is not an observer`;
    case 'not-voter':
      return `${r.id} is not a voter`;
    case 'last-voter':
      return `${r.id} is the last voter`;
    case 'bad-address':
      return `the address of ${r.id} ${r.why}`;
    case 'invalid':
      return `\`${r.field}\` ${r.why}`;
    case 'behind':
      return `${r.id} has not caught up (commit index ${r.commitIndex}, needs ${r.required}, and to be heard from lately)`;
    case 'in-progress':
      return `configuration ${r.config.id} is still being put in place`;
    case 'would-lose-quorum':
      return `the new voters ${r.voters.join(', ')} could not form a quorum of the members this leader hears from`;
  }
}
