/**
 * What changed in the core's status since the node last looked: its role, the leader
 * it knows, the commit index, the configuration chosen, the amnesia guard's state.
 * Each change is announced once (an event, a log line, a counter) and passed on to the
 * parts that act on it.
 */
import type { NodeId, ReplicaStatus, Role } from '../core/index.js';
import type { NodeEvents } from './events.js';
import type { LeadershipTransfers } from './leadership-transfers.js';
import type { MembershipChanges } from './membership-changes.js';
import type { MetricsRecorder } from './metrics.js';
import type { ResolvedOptions } from './options.js';
import type { Proposals } from './proposals.js';
import type { Reads } from './reads.js';

/** The parts of a node's options status changes read. @internal */
export type StatusChangesOptions = Pick<ResolvedOptions<unknown, unknown>, 'id' | 'logger'>;

/** The fields of the core's status watched. @internal */
export type WatchedStatus = Pick<
  ReplicaStatus,
  'role' | 'leader' | 'promised' | 'commitIndex' | 'configuration' | 'configurationFrom' | 'rejoining' | 'rejoinTarget' | 'heardLeader' | 'transferTarget'
>;

/** What status changes need from their node: where each change goes. @internal */
export interface StatusChangesHost {
  /** Tells the node's listeners. */
  emit<E extends keyof NodeEvents>(event: E, payload: NodeEvents[E]): void;
  readonly proposals: Pick<Proposals<unknown, unknown>, 'roleChanged' | 'leaderChanged' | 'flushForwards'>;
  readonly reads: Pick<Reads, 'leaderChanged'>;
  readonly transfers: Pick<LeadershipTransfers, 'leaderChanged' | 'observe'>;
  readonly changes: Pick<MembershipChanges, 'observe'>;
}

/**
 * The core's status as last announced, compared with the status after each drain.
 * @internal
 */
export class StatusChanges {
  private currentRole: Role | undefined;
  private currentLeader: NodeId | undefined;
  private commitIndex = 0;
  /** The id of the latest configuration announced. */
  private configurationId = -1;
  /** The amnesia guard's state last seen (see {@link ReplicaStatus.rejoining}). */
  private rejoining: 'probing' | 'rebuilding' | undefined;

  constructor(
    private readonly options: StatusChangesOptions,
    private readonly recorder: MetricsRecorder,
    private readonly host: StatusChangesHost,
  ) {}

  /** The node this one believes leads, as announced last. */
  get leader(): NodeId | undefined {
    return this.currentLeader;
  }

  /** The node started in `role`: a role the core starts in is no change. */
  start(role: Role): void {
    this.currentRole = role;
  }

  /** The core's status after a drain: announces what changed since the last. */
  observe(s: WatchedStatus): void {
    if (s.rejoining !== this.rejoining) this.onRejoining(s);
    if (s.role !== this.currentRole) {
      const previous = this.currentRole!;
      this.currentRole = s.role;
      this.host.proposals.roleChanged();
      if (s.role === 'candidate') this.recorder.campaigns++;
      if (s.role === 'leader') this.recorder.won++;
      this.options.logger.info({ node: this.options.id, role: s.role, previous, promised: s.promised }, 'role changed');
      this.host.emit('roleChange', { role: s.role, previous });
    }
    if (s.leader !== this.currentLeader) {
      this.currentLeader = s.leader;
      this.recorder.leaderChanges++;
      this.options.logger.info({ node: this.options.id, leader: s.leader }, 'leader changed');
      this.host.emit('leaderChange', { leader: s.leader });
      this.onLeaderChange(s.leader);
    }
    if (s.commitIndex > this.commitIndex) {
      this.commitIndex = s.commitIndex;
      this.host.emit('commit', { commitIndex: s.commitIndex });
    }
    if (s.configuration.id !== this.configurationId) {
      this.configurationId = s.configuration.id;
      this.options.logger.info({ node: this.options.id, configuration: s.configuration, from: s.configurationFrom }, 'configuration chosen');
      this.host.emit('configuration', { configuration: s.configuration, from: s.configurationFrom });
    }
    this.host.changes.observe(s.configuration, s.configurationFrom);
    this.host.transfers.observe(s);
  }

  /** The amnesia guard's progress, said in the log: a voter that does not vote is worth knowing about. */
  private onRejoining(s: WatchedStatus): void {
    const before = this.rejoining;
    const state = s.rejoining;
    this.rejoining = state;
    const { logger, id } = this.options;
    if (state === 'probing') {
      // A new cluster starts so: a warning waits until the voters' answers show history this node lost.
      logger.info({ node: id }, 'no promise on record (a new node, or its storage was wiped): asking every voter what it holds before voting');
    } else if (state === 'rebuilding') {
      logger.warn(
        { node: id, target: s.rejoinTarget },
        `the cluster has history this node does not hold: not voting until it learned the chosen log up to slot ${s.rejoinTarget}`,
      );
    } else if (before === 'rebuilding' || s.promised.round > 0) {
      // It may have learned the log while probing and rebuilt within one step: then no warning said it lost its storage yet.
      const level = before === 'probing' ? 'warn' : 'info';
      logger[level]({ node: id, promised: s.promised }, 'caught up after amnesia: voting again with a promise no lower than any it may have made');
    } else {
      logger.info({ node: id }, 'every voter answered and none holds anything: a new cluster, voting');
    }
  }

  private onLeaderChange(leader: NodeId | undefined): void {
    this.host.transfers.leaderChanged(leader);
    if (leader === undefined) return;
    // Reads ask before the forwards leave, as they always did: a read begun before a
    // proposal of this node's is then answered with a read index from before it.
    this.host.proposals.leaderChanged();
    this.host.reads.leaderChanged();
    this.host.proposals.flushForwards();
  }
}
