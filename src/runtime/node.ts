import { EventEmitter } from 'eventemitter3';
import {
  type Ballot,
  type CommittedEntry,
  type Configuration,
  type ConfigurationState,
  type MembershipChange,
  ConfigError,
  InvariantError,
  type Message,
  type NodeId,
  Replica,
  type Role,
  isEmptyOutput,
} from '../core/index.js';
import { Applier } from './applier.js';
import type { TimerHandle } from './clock.js';
import { clientSuffixLength } from './envelope.js';
import { ClosedError, NotLeaderError, NotStartedError, StorageError, TransferError, MembershipError, TimeoutError } from './errors.js';
import type { NodeEvents, NodeListener } from './events.js';
import { LeadershipTransfers } from './leadership-transfers.js';
import { MembershipChanges } from './membership-changes.js';
import { MetricsRecorder, type NodeMetrics } from './metrics.js';
import { type NodeOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { PersistPipeline } from './persist-pipeline.js';
import { type ProposeOptions, Proposals } from './proposals.js';
import { Reads, type WaitOptions } from './reads.js';
import type { NodeMessage, SnapshotAckMessage, SnapshotChunkMessage } from './runtime-messages.js';
import type { RuntimeState } from './snapshot-format.js';
import { Snapshots } from './snapshots.js';
import type { Snapshot } from './storage.js';
import type { TransportHandlers } from './transport.js';
import { waitTimeoutMs } from './waiter.js';

/** Where a node is in its life. */
export type NodeState = 'new' | 'starting' | 'running' | 'closing' | 'closed';

/** A node's state at a glance. */
export interface NodeStatus {
  readonly id: NodeId;
  readonly state: NodeState;
  /** Undefined until started. */
  readonly role: Role | undefined;
  /** The node this one believes leads. */
  readonly leader: NodeId | undefined;
  /** The highest ballot this node promised (its own, when it leads). */
  readonly promised: Ballot | undefined;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** The latest configuration chosen (undefined until started), and the first slot it governs. */
  readonly configuration: Configuration | undefined;
  readonly configurationFrom: number;
}

const idAlphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';

/**
 * A replica of the user's state machine, driving the pure core with a Transport, a
 * Storage and timers. Create it with {@link createNode}, `start()` it, `propose()`
 * commands and `read()` linearizably; `close()` it when done.
 *
 * Guarantees: a `propose()` promise resolves only after its command is chosen (durable
 * on a phase-2 quorum) and applied here, with the state machine's result; it never
 * hangs (it resolves or rejects with a typed error); a command retried with the same
 * request identity is applied at most once. Messages that report durable state leave
 * only once that state is durable, for any Storage.
 *
 * @example
 * ```ts
 * const network = new MemoryNetwork();
 * const node = createNode({
 *   id: 'a', members: ['a', 'b', 'c'],
 *   transport: network.transport('a'), storage: new MemoryStorage(), stateMachine: new Counter(),
 * });
 * await node.start();
 * const total = await node.propose({ add: 1 });
 * await node.read(); // the local state now reflects every write acknowledged before
 * await node.close();
 * ```
 */
export class SynodNode<Command, Result> {
  readonly id: NodeId;
  private readonly options: ResolvedOptions<Command, Result>;
  private readonly emitter = new EventEmitter();
  private readonly recorder = new MetricsRecorder();
  private readonly pipeline: PersistPipeline;
  private readonly applier: Applier<Command, Result>;
  private readonly proposals: Proposals<Command, Result>;
  private readonly reads: Reads;
  private readonly snapshots: Snapshots<Result>;
  private readonly transfers: LeadershipTransfers;
  private readonly changes: MembershipChanges;
  /** The id of the latest configuration reported in an event. */
  private configurationId = -1;
  private replica: Replica | undefined;
  private lifecycle: NodeState = 'new';
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private ticks = 0;
  private tickTimer: TimerHandle | undefined;
  private drainScheduled = false;
  private batchDrainScheduled = false;
  /**
   * While the state machine restores a peer's snapshot (a `restore()` that returned a
   * promise): the slots the core hands out meanwhile, applied after it (those the
   * snapshot covers are dropped). Undefined when no restore is under way.
   */
  private heldCommitted: CommittedEntry[] | undefined;
  private role: Role | undefined;
  private leader: NodeId | undefined;
  private commitIndex = 0;
  /** The amnesia guard's state last seen (see {@link ReplicaStatus.rejoining}). */
  private rejoining: 'probing' | 'rebuilding' | undefined;

  /** Use {@link createNode}. @internal */
  constructor(options: ResolvedOptions<Command, Result>) {
    this.options = options;
    this.id = options.id;
    this.applier = new Applier(options, this.recorder, {
      settle: (clientId, seq, outcome) => this.proposals.applied(clientId, seq, outcome),
      problem: (error) => this.emit('error', { error, fatal: false }),
    });
    this.proposals = new Proposals(options, this.recorder, {
      core: () => this.replica!,
      leader: () => this.leader,
      ticks: () => this.ticks,
      applier: this.applier,
      send: (message) => this.send(message),
      drainSoon: () => this.scheduleDrain(),
      drainAfterIo: () => this.scheduleBatchDrain(),
      dropMalformed: (message) => this.dropMalformed(message),
    });
    this.reads = new Reads(options, this.recorder, {
      core: () => this.replica!,
      leader: () => this.leader,
      ticks: () => this.ticks,
      appliedIndex: () => this.applier.appliedIndex,
      send: (message) => this.send(message),
      drainSoon: () => this.scheduleDrain(),
      dropMalformed: (message) => this.dropMalformed(message),
    });
    this.transfers = new LeadershipTransfers(options.id, options.clock, options.limits.electionTicksMax, {
      core: () => this.replica!,
      drainSoon: () => this.scheduleDrain(),
    });
    this.changes = new MembershipChanges(options.clock, {
      core: () => this.replica!,
      appliedIndex: () => this.applier.appliedIndex,
      drainSoon: () => this.scheduleDrain(),
    });
    this.pipeline = new PersistPipeline({
      // A storage that throws instead of rejecting fails the same way.
      write: (batch) => new Promise<void>((resolve, reject) => void Promise.resolve(options.storage.persist(batch)).then(resolve, reject)),
      persisted: (seq, outputs, elapsedMs) => this.onPersisted(seq, outputs, elapsedMs),
      send: (message) => this.send(message),
      failed: (error) => this.fail(new StorageError('persist', error)),
      now: () => options.clock.now(),
    });
    this.snapshots = new Snapshots<Result>(options, {
      running: () => this.lifecycle === 'running',
      appliedIndex: () => this.applier.appliedIndex,
      runtimeState: () => ({ ...this.applier.state, configuration: this.replica!.configurationAt(this.applier.appliedIndex) }),
      install: (slot, state, machine) => this.installSnapshot(slot, state, machine).catch((error: unknown) => this.fail(error)),
      compact: (slot) => this.guard(() => this.replica!.compact(slot)),
      send: (message) => this.send(message),
      fail: (error) => this.fail(error),
      warn: (error) => {
        this.options.logger.warn({ node: this.id, error }, error.message);
        this.emit('error', { error, fatal: false });
      },
    });
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Loads the stored state, replays the committed log into the state machine, starts
   * the transport and the ticks. Idempotent; rejects with {@link StorageError} if the
   * storage cannot load, or {@link ClosedError} if closed meanwhile.
   */
  start(): Promise<void> {
    if (this.starting === undefined) this.starting = this.boot();
    return this.starting;
  }

  private async boot(): Promise<void> {
    if (this.lifecycle !== 'new') throw new ClosedError();
    this.lifecycle = 'starting';
    const { storage, transport, clock } = this.options;
    let durable;
    try {
      durable = await storage.load();
    } catch (error) {
      await this.shutdown(new StorageError('load', error));
      throw new StorageError('load', error);
    }
    if (this.lifecycle !== 'starting') throw new ClosedError();
    let snapshotSlot = 0;
    let configuration: ConfigurationState | undefined;
    try {
      const restored = await this.snapshots.load();
      if (restored !== undefined) {
        await this.applier.restore(restored.state, restored.machine);
        snapshotSlot = restored.slot;
        configuration = restored.state.configuration;
      }
    } catch (error) {
      await this.shutdown(error);
      throw error;
    }
    if (this.lifecycle !== 'starting') throw new ClosedError();
    this.applier.start(snapshotSlot, durable.commitIndex);
    this.replica = new Replica({
      id: this.id,
      quorum: this.options.quorum,
      observers: this.options.observers,
      addresses: this.options.addresses,
      windowSlots: this.options.windowSlots,
      ...(configuration !== undefined ? { configuration } : {}),
      limits: this.options.limits,
      random: this.options.random,
      state: durable,
      snapshotSlot,
    });
    // Ids are checked at creation to leave room for the random suffix. A fixed client id
    // outlives the process, and its old requests are in the log: start above any
    // sequence number an earlier run could have used (fewer than 1,024 a ms).
    this.proposals.start(this.options.clientId ?? `${this.id}/${this.randomId(clientSuffixLength)}`, Math.max(1, Math.floor(clock.wallTime()) * 1024));
    const handlers: TransportHandlers = {
      deliver: (message) => this.deliver(message),
      peerUnreachable: (peer) => this.emit('peer', { peer, reachable: false }),
      peerReachable: (peer) => this.emit('peer', { peer, reachable: true }),
    };
    try {
      await transport.start(handlers);
    } catch (error) {
      await this.shutdown(error);
      throw new ClosedError('the transport did not start', { cause: error });
    }
    if (this.lifecycle !== 'starting') throw new ClosedError();
    this.lifecycle = 'running';
    this.role = this.replica.role;
    this.options.logger.info({ node: this.id, commitIndex: durable.commitIndex, promised: durable.promised, snapshotSlot }, 'node started');
    this.tickTimer = clock.setTimer(this.onTick, this.options.tickMs);
    this.scheduleDrain();
  }

  /**
   * Stops the node: every pending promise rejects with {@link ClosedError}, timers
   * stop, state waiting to be written is flushed, then the transport and the storage
   * close. Idempotent.
   */
  close(): Promise<void> {
    return this.shutdown(undefined);
  }

  private shutdown(cause: unknown): Promise<void> {
    if (this.closing === undefined) this.closing = this.stop(cause);
    return this.closing;
  }

  private async stop(cause: unknown): Promise<void> {
    const wasRunning = this.lifecycle === 'running';
    this.lifecycle = 'closing';
    if (this.tickTimer !== undefined) this.options.clock.clearTimer(this.tickTimer);
    this.pipeline.stop();
    const closed = (): ClosedError => (cause === undefined ? new ClosedError() : new ClosedError('the node failed and closed itself', { cause }));
    this.proposals.close(closed);
    this.reads.close(closed);
    this.transfers.close(closed);
    this.changes.close(closed);
    const { logger } = this.options;
    if (cause === undefined && wasRunning) {
      await this.pipeline.flush().catch((error: unknown) => logger.error({ node: this.id, error }, 'flushing storage on close failed'));
    }
    await this.options.transport.close().catch((error: unknown) => logger.error({ node: this.id, error }, 'closing the transport failed'));
    await this.options.storage.close().catch((error: unknown) => logger.error({ node: this.id, error }, 'closing the storage failed'));
    this.lifecycle = 'closed';
    logger.info({ node: this.id }, 'node closed');
  }

  /** A bug or a storage failure: report it, then close with it as the cause. */
  private fail(error: unknown): void {
    if (this.lifecycle === 'closing' || this.lifecycle === 'closed') return;
    const e = error instanceof Error ? error : new InvariantError(String(error));
    this.options.logger.error({ node: this.id, error: e }, 'node failed');
    this.emit('error', { error: e, fatal: true });
    void this.shutdown(e);
  }

  // ---------------------------------------------------------------- public API

  /**
   * Proposes `command` and resolves with the state machine's result once it is chosen
   * and applied on this node. On a follower it is forwarded to the leader (unless the
   * node was created with `followerProposals: 'reject'`).
   *
   * Rejects with: {@link TimeoutError} or {@link AbortedError} (the command may still
   * be applied), {@link OverloadedError}, {@link CommandTooLargeError},
   * {@link NotLeaderError}, {@link ApplyError} (the state machine threw),
   * {@link ResultExpiredError} (a retry whose original result was forgotten),
   * {@link ResultDroppedError} (a retry of a request applied whose result was too large to keep),
   * {@link ClosedError}, {@link NotStartedError}.
   */
  propose(command: Command, options: ProposeOptions = {}): Promise<Result> {
    try {
      this.running('propose');
      const timeoutMs = waitTimeoutMs('propose', options.timeoutMs, this.options.proposeTimeoutMs);
      return this.proposals.propose(command, options, timeoutMs);
    } catch (error) {
      this.recorder.refused++;
      return Promise.reject(error);
    }
  }

  /**
   * A linearizable read point: resolves once this node's state machine reflects every
   * command acknowledged (to anyone) before `read()` was called. Then read the state
   * machine directly. The leader confirms it still leads with a round of heartbeats
   * answered by a phase-2 quorum (read-index); a follower asks the leader for that
   * index; both wait until they applied it.
   *
   * Rejects with {@link TimeoutError}, {@link AbortedError}, {@link OverloadedError}
   * (`pendingReadsMax` reads wait already), {@link ClosedError}, {@link NotStartedError}.
   */
  read(options: WaitOptions = {}): Promise<void> {
    try {
      this.running('read');
      return this.reads.read(options, waitTimeoutMs('read', options.timeoutMs, this.options.readTimeoutMs));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * A consistent copy of the replicated state, for a backup: waits for a linearizable
   * read point (as {@link read} does), then captures this replica's state at its applied
   * slot, at or past that point. So the copy holds every command acknowledged before the
   * call, and of those applied later either all up to its slot or none. `data` is in the
   * format a stored snapshot has (the runtime's state: the exactly-once table, the
   * configurations; then the state machine's bytes); nothing is saved.
   *
   * Rejects as {@link read} does, and with {@link SnapshotError} if the state machine
   * has no `snapshot()` or it threw.
   */
  async exportSnapshot(options: WaitOptions = {}): Promise<Snapshot> {
    await this.read(options);
    this.running('exportSnapshot');
    // The read point is applied, and the applied slot never goes back: the capture is at or past it.
    return this.snapshots.capture();
  }

  /** Same as {@link read}: a barrier after which local reads are linearizable. */
  barrier(options: WaitOptions = {}): Promise<void> {
    return this.read(options);
  }

  /**
   * Hands leadership to the voter `to`. This node stops assigning new slots, waits until
   * `to` holds every slot it proposed, and tells it to campaign at once. Resolves once
   * `to` leads: when this node hears it send phase 2 (an accept, heartbeat or commit),
   * which it does only after winning its election, so `to`'s own status says `leader`
   * then (a candidate asking for this node's promise does not count); rejects with {@link NotLeaderError} if this node does not lead, and with
   * {@link TransferError} if `to` cannot lead or did not take over in time.
   */
  transferLeadership(to: NodeId, options: WaitOptions = {}): Promise<void> {
    try {
      this.running('transferLeadership');
      return this.transfers.transfer(to, options, waitTimeoutMs('transferLeadership', options.timeoutMs, this.options.readTimeoutMs));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** This node's state at a glance. */
  status(): NodeStatus {
    const s = this.replica?.status;
    return {
      id: this.id,
      state: this.lifecycle,
      role: s?.role,
      leader: s?.leader,
      promised: s?.promised,
      commitIndex: s?.commitIndex ?? 0,
      appliedIndex: this.applier.appliedIndex,
      configuration: s?.configuration,
      configurationFrom: s?.configurationFrom ?? 0,
    };
  }

  /**
   * Changes the cluster's members: adds an observer, promotes an observer to voter,
   * demotes or removes a voter, removes an observer, or puts an observer in a voter's
   * place (`replace`, one change, through a joint configuration). Only the
   * leader takes a change, one at a time. Resolves with the new configuration once it
   * is in effect (chosen, and every slot before the one it governs from applied here);
   * a change the leader makes in two steps (a joint configuration first) resolves after
   * the second. Rejects with {@link NotLeaderError} (with the leader to ask),
   * {@link MembershipError} (why it was refused, the cluster unchanged), or
   * {@link TimeoutError} (it may still take effect: read `status().configuration`).
   *
   * @example
   * ```ts
   * await leader.changeMembers({ type: 'addObserver', id: 'd', address: '10.0.0.4:7000' });
   * // ... once d has caught up:
   * await leader.changeMembers({ type: 'promote', id: 'd' });
   * await leader.changeMembers({ type: 'remove', id: 'c' });
   * // or, in place of the last two, one change that keeps three voters:
   * await leader.changeMembers({ type: 'replace', remove: 'c', add: 'd' });
   * ```
   */
  changeMembers(change: MembershipChange, options: WaitOptions = {}): Promise<Configuration> {
    try {
      this.running('changeMembers');
      return this.changes.change(change, options, waitTimeoutMs('changeMembers', options.timeoutMs, this.options.readTimeoutMs));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Counters and gauges: proposals, commits, elections, messages, persist latency, apply lag. */
  metrics(): NodeMetrics {
    const replica = this.replica;
    const status = replica?.status;
    const tickMs = this.options.tickMs;
    const leaderCommitIndex = replica?.leaderCommitIndex ?? 0;
    const members = (replica?.memberProgress() ?? []).map((m) => ({
      id: m.id,
      commitIndex: m.commitIndex ?? 0,
      lag: Math.max(0, leaderCommitIndex - (m.commitIndex ?? 0)),
      silentMs: m.silentTicks === undefined ? undefined : m.silentTicks * tickMs,
    }));
    const leaderSilentTicks = replica?.leaderSilentTicks ?? 0;
    return this.recorder.snapshot({
      role: status?.role,
      leader: status?.leader,
      leaderSilentMs: leaderSilentTicks * tickMs,
      leaderLive: status?.leader !== undefined && leaderSilentTicks < this.options.limits.electionTicksMin,
      leaderCommitIndex,
      members,
      pending: this.proposals.size,
      commitIndex: this.replica?.status.commitIndex ?? 0,
      appliedIndex: this.applier.appliedIndex,
      snapshots: { ...this.snapshots.counts, sending: this.snapshots.sending },
      exactlyOnce: this.applier.dedupStats,
    });
  }

  /** Listens to `event`. Listeners run synchronously; one that throws is logged, never breaks the node. */
  on<E extends keyof NodeEvents>(event: E, listener: NodeListener<E>): this {
    this.emitter.on(event, listener);
    return this;
  }

  /** Listens to `event` once. */
  once<E extends keyof NodeEvents>(event: E, listener: NodeListener<E>): this {
    this.emitter.once(event, listener);
    return this;
  }

  /** Stops listening. */
  off<E extends keyof NodeEvents>(event: E, listener: NodeListener<E>): this {
    this.emitter.off(event, listener);
    return this;
  }

  // ---------------------------------------------------------------- the drive loop

  private running(api: string): Replica {
    if (this.lifecycle === 'new' || this.lifecycle === 'starting') throw new NotStartedError(api);
    if (this.lifecycle !== 'running' || this.replica === undefined) throw new ClosedError();
    return this.replica;
  }

  private readonly onTick = (): void => {
    if (this.lifecycle !== 'running') return;
    this.tickTimer = this.options.clock.setTimer(this.onTick, this.options.tickMs);
    this.guard(() => {
      this.ticks++;
      this.replica!.tick();
      this.snapshots.tick();
      const due = this.ticks - this.options.retryTicks;
      this.proposals.retryDue(due);
      this.reads.retryDue(due);
      this.scheduleDrain();
    });
  };

  /**
   * A drain for new proposals, after the I/O callbacks of this event-loop turn: the
   * requests that arrive together (many client connections readable at once) are cut
   * into one slot, with one accept and one write each, not one slot apiece.
   */
  private scheduleBatchDrain(): void {
    if (this.batchDrainScheduled || this.lifecycle !== 'running') return;
    this.batchDrainScheduled = true;
    const run = () => {
      this.batchDrainScheduled = false;
      this.scheduleDrain();
    };
    const clock = this.options.clock;
    if (clock.defer !== undefined) clock.defer(run);
    else clock.setTimer(run, 0);
  }

  private scheduleDrain(): void {
    if (this.drainScheduled || this.lifecycle !== 'running') return;
    this.drainScheduled = true;
    queueMicrotask(this.drainNow);
  }

  private readonly drainNow = (): void => {
    this.drainScheduled = false;
    this.guard(() => this.drain());
  };

  /** Any exception out of the core or the drive loop is a bug: the node stops. */
  private guard(action: () => void): void {
    try {
      action();
    } catch (error) {
      this.fail(error);
    }
  }

  /** Does the core's work in the order {@link Output} prescribes. */
  private drain(): void {
    const replica = this.replica;
    if (replica === undefined || this.lifecycle !== 'running') return;
    for (;;) {
      const out = replica.takeOutput();
      if (isEmptyOutput(out)) break;
      if (out.committed.length > 0) {
        if (this.heldCommitted !== undefined) this.heldCommitted.push(...out.committed);
        else this.applyCommitted(replica, out.committed);
      }
      if (out.dropped.length > 0) this.proposals.dropped(out.dropped);
      for (const r of out.reads) this.reads.onReadIndex(r);
      for (const to of out.snapshotsTo) this.snapshots.sendTo(to);
      this.pipeline.push(out.persistSeq, out.persist, out.messages);
      if (this.lifecycle !== 'running') return;
    }
    this.proposals.flushForwards();
    this.observe(replica);
  }

  private onPersisted(seq: number, outputs: number, elapsedMs: number): void {
    this.recorder.writes++;
    this.recorder.batches += outputs;
    this.recorder.persistLatency(elapsedMs);
    if (this.lifecycle !== 'running') return;
    this.guard(() => this.replica!.persisted(seq));
    this.scheduleDrain();
  }

  private send(message: NodeMessage): void {
    this.recorder.messagesOut++;
    try {
      this.options.transport.send(message);
    } catch (error) {
      // A transport must not throw; if it does, the message is lost, which the protocol tolerates.
      this.options.logger.warn({ node: this.id, to: message.to, error }, 'transport.send threw');
      this.emit('error', { error: error instanceof Error ? error : new Error(String(error)), fatal: false });
    }
  }

  /** Notices role, leader and commit index changes: events, metrics, retries. */
  private observe(replica: Replica): void {
    const s = replica.status;
    if (s.rejoining !== this.rejoining) this.onRejoining(s.rejoining, s.rejoinTarget);
    if (s.role !== this.role) {
      const previous = this.role!;
      this.role = s.role;
      this.proposals.roleChanged();
      if (s.role === 'candidate') this.recorder.campaigns++;
      if (s.role === 'leader') this.recorder.won++;
      this.options.logger.info({ node: this.id, role: s.role, previous, promised: s.promised }, 'role changed');
      this.emit('roleChange', { role: s.role, previous });
    }
    if (s.leader !== this.leader) {
      this.leader = s.leader;
      this.recorder.leaderChanges++;
      this.options.logger.info({ node: this.id, leader: s.leader }, 'leader changed');
      this.emit('leaderChange', { leader: s.leader });
      this.onLeaderChange(s.leader);
    }
    if (s.commitIndex > this.commitIndex) {
      this.commitIndex = s.commitIndex;
      this.emit('commit', { commitIndex: s.commitIndex });
    }
    if (s.configuration.id !== this.configurationId) {
      this.configurationId = s.configuration.id;
      this.options.logger.info({ node: this.id, configuration: s.configuration, from: s.configurationFrom }, 'configuration chosen');
      this.emit('configuration', { configuration: s.configuration, from: s.configurationFrom });
    }
    this.changes.observe(s.configuration, s.configurationFrom);
    this.transfers.observe(s);
  }

  /** The amnesia guard's progress, said in the log: a voter that does not vote is worth knowing about. */
  private onRejoining(state: 'probing' | 'rebuilding' | undefined, target: number | undefined): void {
    const before = this.rejoining;
    this.rejoining = state;
    const { logger } = this.options;
    if (state === 'probing') {
      // A new cluster starts so: a warning waits until the voters' answers show history this node lost.
      logger.info({ node: this.id }, 'no promise on record (a new node, or its storage was wiped): asking every voter what it holds before voting');
    } else if (state === 'rebuilding') {
      logger.warn(
        { node: this.id, target },
        `the cluster has history this node does not hold: not voting until it learned the chosen log up to slot ${target}`,
      );
    } else if (before === 'rebuilding' || (this.replica?.status.promised.round ?? 0) > 0) {
      // It may have learned the log while probing and rebuilt within one step: then no warning said it lost its storage yet.
      const level = before === 'probing' ? 'warn' : 'info';
      logger[level](
        { node: this.id, promised: this.replica?.status.promised },
        'caught up after amnesia: voting again with a promise no lower than any it may have made',
      );
    } else {
      logger.info({ node: this.id }, 'every voter answered and none holds anything: a new cluster, voting');
    }
  }

  private onLeaderChange(leader: NodeId | undefined): void {
    this.transfers.leaderChanged(leader);
    if (leader === undefined) return;
    // Reads ask before the forwards leave, as they always did: a read begun before a
    // proposal of this node's is then answered with a read index from before it.
    this.proposals.leaderChanged();
    this.reads.leaderChanged();
    this.proposals.flushForwards();
  }

  private emit<E extends keyof NodeEvents>(event: E, payload: NodeEvents[E]): void {
    try {
      this.emitter.emit(event, payload);
    } catch (error) {
      this.options.logger.error({ node: this.id, event, error }, 'an event listener threw');
    }
  }

  // ---------------------------------------------------------------- apply

  private applyCommitted(replica: Replica, committed: readonly CommittedEntry[]): void {
    const clock = this.options.clock;
    const started = clock.now();
    this.proposals.applyStarted(started);
    const bytes = this.applier.apply(committed);
    const ended = clock.now();
    this.proposals.applyEnded(ended);
    this.recorder.applyLatency.observe(ended - started);
    const appliedIndex = this.applier.appliedIndex;
    replica.applied(appliedIndex);
    this.snapshots.applied(committed.length, bytes);
    this.emit('apply', { appliedIndex });
    this.reads.applied(appliedIndex);
  }

  // ---------------------------------------------------------------- snapshots

  /**
   * A snapshot from a peer, durable already, replaces everything applied: continue after
   * `slot`. A restore that takes its time (returns a promise) leaves the node running:
   * messages are answered and slots chosen, but nothing is applied and no read is
   * served until it ends (the state machine holds the old state, at the old applied
   * slot, until then).
   */
  private async installSnapshot(slot: number, state: RuntimeState<Result>, machine: Uint8Array): Promise<void> {
    this.heldCommitted = [];
    let held: CommittedEntry[];
    try {
      await this.applier.restore(state, machine);
    } finally {
      held = this.heldCommitted ?? [];
      this.heldCommitted = undefined;
    }
    if (this.lifecycle !== 'running') return;
    this.finishInstall(
      slot,
      state,
      held.filter((e) => e.slot > slot),
    );
  }

  private finishInstall(slot: number, state: RuntimeState<Result>, later: readonly CommittedEntry[]): void {
    const replica = this.replica!;
    this.applier.installed(slot);
    replica.installSnapshot(slot, state.configuration);
    this.proposals.installed();
    this.emit('apply', { appliedIndex: slot });
    this.reads.applied(slot);
    if (later.length > 0) this.applyCommitted(replica, later);
    this.scheduleDrain();
  }

  private onSnapshotChunk(m: SnapshotChunkMessage): void {
    const ok =
      isCount(m.transfer) &&
      isCount(m.slot) &&
      m.slot >= 1 &&
      isCount(m.total) &&
      m.total >= 1 &&
      isCount(m.offset) &&
      isCount(m.crc) &&
      m.crc <= 0xffffffff &&
      m.data instanceof Uint8Array;
    if (!ok) return this.dropMalformed(m);
    this.snapshots.onChunk(m);
  }

  private onSnapshotAck(m: SnapshotAckMessage): void {
    const ok = isCount(m.transfer) && isCount(m.received) && (m.status === 'more' || m.status === 'done' || m.status === 'failed');
    if (!ok) return this.dropMalformed(m);
    this.snapshots.onAck(m);
  }

  // ---------------------------------------------------------------- messages in

  private deliver(message: NodeMessage): void {
    if (this.lifecycle !== 'running' || this.replica === undefined) return;
    this.recorder.messagesIn++;
    if (!this.isFromPeer(message)) {
      this.recorder.messagesDropped++;
      return;
    }
    this.guard(() => {
      switch (message.type) {
        case 'forward':
          return this.proposals.onForward(message);
        case 'forwardRefused':
          return this.proposals.onForwardRefused(message);
        case 'readRequest':
          return this.reads.onReadRequest(message);
        case 'readReply':
          return this.reads.onReadReply(message);
        case 'snapshotChunk':
          return this.onSnapshotChunk(message);
        case 'snapshotAck':
          return this.onSnapshotAck(message);
        case 'group':
          // A peer runs groups (a group host) and this node runs one alone: not a message for it.
          return this.dropMalformed(message);
        default:
          return this.replica!.step(message as Message);
      }
    });
    this.scheduleDrain();
  }

  private isFromPeer(m: unknown): m is NodeMessage {
    if (typeof m !== 'object' || m === null) return false;
    const { from, to, type } = m as { from: unknown; to: unknown; type: unknown };
    // Any sender the transport let through: it authenticates who may speak. A member
    // may hear from one that a configuration it has not learned yet added (the new
    // leader, say), and must listen to it to learn of it.
    return to === this.id && typeof from === 'string' && from !== '' && from !== this.id && typeof type === 'string';
  }

  private dropMalformed(m: NodeMessage): void {
    this.recorder.messagesDropped++;
    this.options.logger.warn({ node: this.id, from: m.from, type: m.type }, 'dropped a malformed message');
  }

  private randomId(length: number): string {
    let s = '';
    for (let i = 0; i < length; i++) s += idAlphabet[Math.floor(this.options.random() * idAlphabet.length)] ?? 'x';
    return s;
  }
}

function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/**
 * Validates `options` (throwing one {@link ConfigError} that names the field) and
 * builds a node. Call `start()` on it next.
 *
 * @example
 * ```ts
 * const node = createNode({ id: 'a', members: ['a', 'b', 'c'], transport, storage, stateMachine });
 * await node.start();
 * ```
 */
export function createNode<Command, Result>(options: NodeOptions<Command, Result>): SynodNode<Command, Result> {
  return new SynodNode(resolveOptions(options));
}
