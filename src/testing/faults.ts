import type { NetworkConditions } from './sim-network.js';

/**
 * Faults the simulator injects, addressed by node index (0-based, voters first, then
 * observers) so a schedule does not depend on node names.
 */
export type Fault =
  /** The process dies: every write not yet durable is lost, as are messages it had not sent. */
  | { readonly kind: 'crash'; readonly node: number }
  /** A crashed process starts again from its durable state. */
  | { readonly kind: 'restart'; readonly node: number }
  /**
   * The process dies and its storage is wiped (a lost disk, a deleted data directory);
   * it starts again at once, empty, under the same id: amnesia.
   */
  | { readonly kind: 'wipe'; readonly node: number }
  /** Symmetric partition: nodes talk only within their group (unlisted nodes form one more group). */
  | { readonly kind: 'partition'; readonly groups: readonly (readonly number[])[] }
  /** Asymmetric: messages from `from` to `to` are lost; the other way still works. */
  | { readonly kind: 'cut'; readonly from: number; readonly to: number }
  /** Partial connectivity: `a` and `c` cannot talk, both can talk to `b`. */
  | { readonly kind: 'bridge'; readonly a: number; readonly b: number; readonly c: number }
  /** Whoever leads at that moment crashes (no-op without a leader). */
  | { readonly kind: 'crashLeader' }
  /** Whoever leads at that moment is cut off from everyone, both ways. */
  | { readonly kind: 'isolateLeader' }
  /** Whoever leads at that moment hands leadership to `to` (no-op without a leader, or if `to` does not vote). */
  | { readonly kind: 'transferLeader'; readonly to: number }
  /**
   * Node `node`'s clock runs `factor` times slower (1 restores it): it ticks once every
   * `factor` ticks. Timeouts are counted in a node's own ticks, so a slow leader holds
   * on to leadership longer than its followers wait: the drift that breaks leases.
   */
  | { readonly kind: 'slowClock'; readonly node: number; readonly factor: number }
  /**
   * The leader is asked for a membership change involving node `node` (resolved against
   * the latest configuration; a change that does not apply is a no-op): add a spare as
   * an observer, promote an observer, demote or remove a voter, replace a voter with a
   * spare, or remove whoever leads.
   */
  | { readonly kind: 'changeMembers'; readonly change: 'addObserver' | 'promote' | 'demote' | 'remove' | 'replace' | 'removeLeader'; readonly node: number }
  /** Every link restored. */
  | { readonly kind: 'heal' }
  /** New message loss, duplication, delay and stragglers (see {@link NetworkConditions}). */
  | ({ readonly kind: 'network' } & NetworkConditions);

/** A fault and the tick it happens at. */
export interface ScheduledFault {
  readonly at: number;
  readonly fault: Fault;
}

/** One line describing a fault, for traces. */
export function describeFault(fault: Fault, name: (node: number) => string): string {
  switch (fault.kind) {
    case 'crash':
      return `crash ${name(fault.node)}`;
    case 'restart':
      return `restart ${name(fault.node)}`;
    case 'wipe':
      return `wipe ${name(fault.node)}'s storage and restart it`;
    case 'partition':
      return `partition ${fault.groups.map((g) => `{${g.map(name).join(',')}}`).join(' ')}`;
    case 'cut':
      return `cut ${name(fault.from)} -> ${name(fault.to)}`;
    case 'bridge':
      return `bridge ${name(fault.a)} - ${name(fault.b)} - ${name(fault.c)} (${name(fault.a)} and ${name(fault.c)} cut)`;
    case 'crashLeader':
      return 'crash the leader';
    case 'isolateLeader':
      return 'isolate the leader';
    case 'transferLeader':
      return `transfer leadership to ${name(fault.to)}`;
    case 'slowClock':
      return fault.factor === 1 ? `${name(fault.node)}'s clock runs normally` : `${name(fault.node)}'s clock runs ${fault.factor}x slower`;
    case 'changeMembers':
      return fault.change === 'removeLeader' ? 'ask the leader to remove itself' : `ask the leader to ${fault.change} ${name(fault.node)}`;
    case 'heal':
      return 'heal the network';
    case 'network':
      return `network loss=${fault.lossRate} duplicate=${fault.duplicateRate} delay<=${fault.delayTicksMax}${fault.stragglerRate ? ` stragglers=${fault.stragglerRate}` : ''}`;
  }
}

/** The network conditions a `network` fault sets. */
export function networkConditionsOf(fault: Extract<Fault, { kind: 'network' }>): NetworkConditions {
  return {
    lossRate: fault.lossRate,
    duplicateRate: fault.duplicateRate,
    delayTicksMax: fault.delayTicksMax,
    ...(fault.stragglerRate !== undefined ? { stragglerRate: fault.stragglerRate } : {}),
    ...(fault.stragglerTicksMax !== undefined ? { stragglerTicksMax: fault.stragglerTicksMax } : {}),
  };
}
