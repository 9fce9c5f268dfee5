import { EventEmitter } from 'eventemitter3';
import {
  type Ballot,
  type Configuration,
  type ConfigurationState,
  type MembershipChange,
  ConfigError,
  InvariantError,
  type NodeId,
  type PersistBatch,
  Replica,
  type Role,
} from '../core/index.js';
import { Applier, type ApplierHost } from './applier.js';
import type { Outcome } from './dedup-table.js';
import { DriveLoop, type DriveLoopHost } from './drive-loop.js';
import { clientSuffixLength } from './envelope.js';
import { ClosedError, NotLeaderError, NotStartedError, StorageError, TransferError, MembershipError, TimeoutError } from './errors.js';
import type { NodeEvents, NodeListener } from './events.js';
import { Inbox, type InboxHost } from './inbox.js';
import { LeadershipTransfers, type LeadershipTransfersHost } from './leadership-transfers.js';
import { MembershipChanges, type MembershipChangesHost } from './membership-changes.js';
import { MetricsRecorder, type NodeMetrics, coreGauges } from './metrics.js';
import { type NodeOptions, type ResolvedOptions, firstQuorum, resolveOptions } from './options.js';
import { PersistPipeline, type PipelineDriver } from './persist-pipeline.js';
import { type ProposeOptions, Proposals, type ProposalsHost } from './proposals.js';
import { Reads, type ReadsHost, type WaitOptions } from './reads.js';
import type { NodeMessage } from './runtime-messages.js';
import type { RuntimeState } from './snapshot-format.js';
import { type SnapshotHost, Snapshots } from './snapshots.js';
import { StatusChanges, type StatusChangesHost } from './status-changes.js';
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
  /** Whether its group is quiesced here: no ticks until something rouses it (see {@link NodeOptions.quiesceAfterTicks}). */
  readonly quiesced: boolean;
  /**
   * Set while this voter does not vote yet: it started with no promise on record, and asks
   * every other voter what they hold first (`probing`), then learns the chosen log
   * (`rebuilding`). See {@link NodeOptions.neverVoted}. Undefined otherwise.
   */
  readonly rejoining?: 'probing' | 'rebuilding';
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
  /** Made when the first listener is added: most groups of a host have none. */
  private emitter: EventEmitter | undefined;
  private readonly recorder = new MetricsRecorder();
  // The node is a façade over its parts, each behind a host interface of its own: the
  // drive loop (ticks, and the core's output done in order), the inbox (what the
  // transport delivers), status changes (events), proposals, reads, the applier,
  // snapshots, leadership transfers, membership changes and the persist pipeline.
  private readonly pipeline: PersistPipeline;
  private readonly applier: Applier<Command, Result>;
  private readonly proposals: Proposals<Command, Result>;
  private readonly reads: Reads;
  private readonly snapshots: Snapshots<Result>;
  private readonly transfers: LeadershipTransfers;
  private readonly changes: MembershipChanges;
  private readonly loop: DriveLoop<Command, Result>;
  private readonly inbox: Inbox;
  private readonly statusChanges: StatusChanges;
  private replica: Replica | undefined;
  private lifecycle: NodeState = 'new';
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  /** Use {@link createNode}. @internal */
  constructor(options: ResolvedOptions<Command, Result>) {
    this.options = options;
    this.id = options.id;
    // One object answers every part's host interface, with methods on its prototype:
    // closures made per node (40 of them) cost 3 KiB of each of a host's many groups.
    const host = new SynodNode.Host(this);
    this.applier = new Applier(options, this.recorder, host);
    this.proposals = new Proposals(options, this.recorder, host);
    this.reads = new Reads(options, this.recorder, host);
    this.transfers = new LeadershipTransfers(options.id, options.clock, options.limits.electionTicksMax, host);
    this.changes = new MembershipChanges(options.clock, host);
    this.pipeline = new PersistPipeline(host);
    this.snapshots = new Snapshots<Result>(options, host);
    this.loop = new DriveLoop(options, this.recorder, host);
    this.inbox = new Inbox(options, this.recorder, host);
    this.statusChanges = new StatusChanges(options, this.recorder, host);
  }

  /**
   * What the parts call back into: each sees it through its own narrow host interface.
   * A class inside the node's own, so that it may reach the node's private parts.
   */
  private static readonly Host = class Host<C, R>
    implements
      ApplierHost<R>,
      ProposalsHost<C, R>,
      ReadsHost,
      LeadershipTransfersHost,
      MembershipChangesHost,
      PipelineDriver,
      SnapshotHost<R>,
      DriveLoopHost<C, R>,
      InboxHost,
      StatusChangesHost
  {
    constructor(private readonly node: SynodNode<C, R>) {}

    get applier(): Applier<C, R> {
      return this.node.applier;
    }
    get proposals(): Proposals<C, R> {
      return this.node.proposals;
    }
    get reads(): Reads {
      return this.node.reads;
    }
    get snapshots(): Snapshots<R> {
      return this.node.snapshots;
    }
    get pipeline(): PersistPipeline {
      return this.node.pipeline;
    }
    get transfers(): LeadershipTransfers {
      return this.node.transfers;
    }
    get changes(): MembershipChanges {
      return this.node.changes;
    }
    core(): Replica {
      return this.node.replica!;
    }
    running(): boolean {
      return this.node.lifecycle === 'running';
    }
    send(message: NodeMessage): void {
      this.node.send(message);
    }
    fail(error: unknown): void {
      this.node.fail(error);
    }
    emit<E extends keyof NodeEvents>(event: E, payload: NodeEvents[E]): void {
      this.node.emit(event, payload);
    }
    drainSoon(): void {
      this.node.loop.drainSoon();
    }
    drainAfterIo(): void {
      this.node.loop.drainAfterIo();
    }
    dropMalformed(message: NodeMessage): void {
      this.node.inbox.dropMalformed(message);
    }
    leader(): NodeId | undefined {
      return this.node.statusChanges.leader;
    }
    ticks(): number {
      return this.node.loop.ticks;
    }
    appliedIndex(): number {
      return this.node.applier.appliedIndex;
    }
    // The applier's.
    settle(clientId: string, seq: number, outcome: Outcome<R>): void {
      this.node.proposals.applied(clientId, seq, outcome);
    }
    problem(error: Error): void {
      this.node.emit('error', { error, fatal: false });
    }
    // The persist pipeline's.
    write(batch: PersistBatch): Promise<void> {
      // A storage that throws instead of rejecting fails the same way.
      const { storage } = this.node.options;
      return new Promise<void>((resolve, reject) => void Promise.resolve(storage.persist(batch)).then(resolve, reject));
    }
    persisted(seq: number, outputs: number, elapsedMs: number): void {
      this.node.loop.persisted(seq, outputs, elapsedMs);
    }
    failed(error: unknown): void {
      this.node.fail(new StorageError('persist', error));
    }
    now(): number {
      return this.node.options.clock.now();
    }
    // The snapshots'.
    runtimeState(): RuntimeState<R> {
      const { applier } = this.node;
      return { ...applier.state, configuration: this.node.replica!.configurationAt(applier.appliedIndex) };
    }
    install(slot: number, state: RuntimeState<R>, machine: Uint8Array): Promise<void> {
      return this.node.loop.install(slot, state, machine);
    }
    compact(slot: number): void {
      this.node.loop.guard(() => this.node.replica!.compact(slot));
    }
    warn(error: Error): void {
      this.node.options.logger.warn({ node: this.node.id, error }, error.message);
      this.node.emit('error', { error, fatal: false });
    }
    // The drive loop's.
    idle(): boolean {
      const { node } = this;
      return node.proposals.size === 0 && node.reads.size === 0 && !node.snapshots.busy;
    }
    drained(): void {
      this.node.statusChanges.observe(this.node.replica!.status);
    }
    applied(appliedIndex: number): void {
      this.node.emit('apply', { appliedIndex });
    }
  };

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
      quorum: firstQuorum(this.options),
      observers: this.options.observers,
      addresses: this.options.addresses,
      windowSlots: this.options.windowSlots,
      ...(configuration !== undefined ? { configuration } : {}),
      limits: this.options.limits,
      ...(this.options.quiesceAfterTicks !== undefined ? { quiesceAfterTicks: this.options.quiesceAfterTicks } : {}),
      ...(this.options.neverVoted ? { neverVoted: true } : {}),
      random: this.options.random,
      state: durable,
      snapshotSlot,
    });
    // Ids are checked at creation to leave room for the random suffix. A fixed client id
    // outlives the process, and its old requests are in the log: start above any
    // sequence number an earlier run could have used (fewer than 1,024 a ms).
    this.proposals.start(this.options.clientId ?? `${this.id}/${this.randomId(clientSuffixLength)}`, Math.max(1, Math.floor(clock.wallTime()) * 1024));
    const handlers: TransportHandlers = {
      deliver: this.inbox.deliver,
      peerUnreachable: (peer) => {
        this.emit('peer', { peer, reachable: false });
        // A quiesced follower hears nothing from its leader: this is how it learns it may be gone.
        if (this.replica?.quiesced === true && this.replica.status.leader === peer) this.wake();
      },
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
    this.statusChanges.start(this.replica.role);
    this.options.logger.info({ node: this.id, commitIndex: durable.commitIndex, promised: durable.promised, snapshotSlot }, 'node started');
    this.loop.start();
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
    this.loop.stop();
    this.pipeline.stop();
    const closed = (): ClosedError => (cause === undefined ? new ClosedError() : new ClosedError('the node failed and closed itself', { cause }));
    this.proposals.close(closed);
    this.reads.close(closed);
    this.transfers.close(closed);
    this.changes.close(closed);
    const { logger } = this.options;
    if (cause === undefined && wasRunning) {
      await this.snapshots.ownSaved();
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
      const result = this.proposals.propose(command, options, timeoutMs);
      // Its retries count in ticks.
      this.loop.awake();
      return result;
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
      const result = this.reads.read(options, waitTimeoutMs('read', options.timeoutMs, this.options.readTimeoutMs));
      this.loop.awake();
      return result;
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

  /**
   * Rouses this node's group if it is quiesced (see {@link NodeOptions.quiesceAfterTicks}):
   * call it when the leader's process may have failed. A follower asks the leader to
   * resume heartbeats and counts time again, so if no leader answers it campaigns once
   * its election timer runs out. Does nothing otherwise; safe to call at any time.
   */
  wake(): void {
    if (this.lifecycle !== 'running' || this.replica === undefined) return;
    this.loop.guard(() => this.replica!.wake());
    this.loop.awake();
    this.loop.drainSoon();
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
      quiesced: s?.quiesced ?? false,
      ...(s?.rejoining === undefined ? {} : { rejoining: s.rejoining }),
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
    return this.recorder.snapshot({
      ...coreGauges(this.replica, this.options.tickMs, this.options.limits.electionTicksMin),
      pending: this.proposals.size,
      appliedIndex: this.applier.appliedIndex,
      snapshots: { ...this.snapshots.counts, sending: this.snapshots.sending },
      exactlyOnce: this.applier.dedupStats,
    });
  }

  /** Listens to `event`. Listeners run synchronously; one that throws is logged, never breaks the node. */
  on<E extends keyof NodeEvents>(event: E, listener: NodeListener<E>): this {
    this.emitter ??= new EventEmitter();
    this.emitter.on(event, listener);
    return this;
  }

  /** Listens to `event` once. */
  once<E extends keyof NodeEvents>(event: E, listener: NodeListener<E>): this {
    this.emitter ??= new EventEmitter();
    this.emitter.once(event, listener);
    return this;
  }

  /** Stops listening. */
  off<E extends keyof NodeEvents>(event: E, listener: NodeListener<E>): this {
    this.emitter?.off(event, listener);
    return this;
  }

  // ---------------------------------------------------------------- shared by the parts

  private running(api: string): Replica {
    if (this.lifecycle === 'new' || this.lifecycle === 'starting') throw new NotStartedError(api);
    if (this.lifecycle !== 'running' || this.replica === undefined) throw new ClosedError();
    return this.replica;
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

  private emit<E extends keyof NodeEvents>(event: E, payload: NodeEvents[E]): void {
    try {
      this.emitter?.emit(event, payload);
    } catch (error) {
      this.options.logger.error({ node: this.id, event, error }, 'an event listener threw');
    }
  }

  private randomId(length: number): string {
    let s = '';
    for (let i = 0; i < length; i++) s += idAlphabet[Math.floor(this.options.random() * idAlphabet.length)] ?? 'x';
    return s;
  }
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
