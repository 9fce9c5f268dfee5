import { EventEmitter } from 'eventemitter3';
import {
  type Ballot,
  type ChangeMembersResult,
  type CommittedEntry,
  type Configuration,
  type ConfigurationState,
  type MembershipChange,
  configurationEquals,
  ConfigError,
  InvariantError,
  type Message,
  type NodeId,
  type ReadIndexResult,
  Replica,
  type Role,
  isEmptyOutput,
} from '../core/index.js';
import type { TimerHandle } from './clock.js';
import { type DedupTrip, DedupTable, type Outcome } from './dedup-table.js';
import { LogClock } from './log-clock.js';
import { clientSuffixLength, decodeEnvelope, encodeEnvelope, envelopeIdBytesMax, envelopeKey, requestKey, stampEnvelope } from './envelope.js';
import {
  AbortedError,
  ApplyError,
  ClosedError,
  CommandTooLargeError,
  NotLeaderError,
  NotStartedError,
  OverloadedError,
  ResultDroppedError,
  ResultExpiredError,
  SnapshotError,
  StorageError,
  TransferError,
  MembershipError,
  TimeoutError,
} from './errors.js';
import type { NodeEvents, NodeListener } from './events.js';
import { MetricsRecorder, type NodeMetrics, TimeList } from './metrics.js';
import { type NodeOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { PersistPipeline } from './persist-pipeline.js';
import type {
  ForwardMessage,
  ForwardRefusedMessage,
  NodeMessage,
  ReadReplyMessage,
  ReadRequestMessage,
  SnapshotAckMessage,
  SnapshotChunkMessage,
} from './runtime-messages.js';
import type { RuntimeState } from './snapshot-format.js';
import { Snapshots } from './snapshots.js';
import type { Snapshot } from './storage.js';
import type { ApplyMeta, StateMachine } from './state-machine.js';
import type { TransportHandlers } from './transport.js';
import { type Waiter, createWaiter } from './waiter.js';

/** Where a node is in its life. */
export type NodeState = 'new' | 'starting' | 'running' | 'closing' | 'closed';

/** Options of one {@link SynodNode.propose} call. */
export interface ProposeOptions {
  /** Stops waiting when it fires (the command may still be applied). */
  readonly signal?: AbortSignal;
  /** How long to wait. Default the node's `proposeTimeoutMs`. */
  readonly timeoutMs?: number;
  /**
   * The request's identity for exactly-once. A retry with the same `clientId` and
   * `seq`, on any node, is applied at most once, and gets the first one's result.
   * `ackedBelow` (default 0) tells the cluster the client waits for no request with a
   * lower `seq`, so their results can be forgotten. Default: the node's own client id
   * and its next sequence number.
   */
  readonly request?: { readonly clientId: string; readonly seq: number; readonly ackedBelow?: number };
}

/** Options of {@link SynodNode.read} and {@link SynodNode.transferLeadership}. */
export interface WaitOptions {
  readonly signal?: AbortSignal;
  /** How long to wait. Default the node's `readTimeoutMs`. */
  readonly timeoutMs?: number;
}

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

interface PendingProposal<Result> {
  readonly key: string;
  readonly clientId: string;
  readonly seq: number;
  readonly envelope: Uint8Array;
  /** The command only reads (`StateMachine.readOnly`): it takes no exactly-once entry, and a retry runs it again. */
  readonly readOnly: boolean;
  readonly waiters: Waiter<Result>[];
  /** The tick it was last handed to a leader (here or by forwarding); -1 when it waits for one. */
  submittedTick: number;
  /** Times it was handed to a leader. */
  attempts: number;
  /** When it was first proposed, on the clock's `now()`: its commit latency is measured from here. */
  readonly startedMs: number;
}

interface LocalRead {
  readonly id: number;
  readonly waiter: Waiter<void>;
  /** The confirmed read index, once known: the read resolves when it is applied. */
  index: number | undefined;
  sentTick: number;
}

interface PendingChange {
  /** The configuration the change leads to (a joint one for a two-step change). */
  readonly target: Configuration;
  readonly waiter: Waiter<Configuration>;
}

interface Transfer {
  readonly to: NodeId;
  readonly waiter: Waiter<void>;
}

const idAlphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** At most one log line this often about each byte bound of the exactly-once table tripping (the metrics count every trip). */
const dedupTripLogMs = 10_000;

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
  private readonly dedup: DedupTable<Result>;
  private readonly snapshots: Snapshots<Result>;
  private readonly proposals = new Map<string, PendingProposal<Result>>();
  /** This node's own client's pending proposals by seq, lowest first: the first is `ackedBelow`. */
  private readonly ownPending = new Map<number, PendingProposal<Result>>();
  private readonly reads = new Map<number, LocalRead>();
  /** Reads this leader runs for followers: core read id → the follower and its read id. */
  private readonly remoteReads = new Map<number, { from: NodeId; id: number }>();
  private readonly transfers = new Set<Transfer>();
  private readonly changes = new Set<PendingChange>();
  /** The id of the latest configuration reported in an event. */
  private configurationId = -1;
  private readonly forwards = new Map<NodeId, Uint8Array[]>();
  /**
   * Requests this node proposed in its current leadership and has not applied yet: a
   * follower's resend of one of them is already in the pipeline and is not queued again.
   */
  private readonly inPipeline = new Set<string>();
  private replica: Replica | undefined;
  private lifecycle: NodeState = 'new';
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private clientId = '';
  /** Set at start from the wall clock, so a restart with a fixed `clientId` never reuses a sequence number. */
  private nextSeq = 1;
  private readIds = 0;
  private ticks = 0;
  private tickTimer: TimerHandle | undefined;
  private drainScheduled = false;
  private batchDrainScheduled = false;
  private appliedIndex = 0;
  /**
   * While the state machine restores a peer's snapshot (a `restore()` that returned a
   * promise): the slots the core hands out meanwhile, applied after it (those the
   * snapshot covers are dropped). Undefined when no restore is under way.
   */
  private heldCommitted: CommittedEntry[] | undefined;
  private lastTimestamp = 0;
  /** While a committed batch is applied: when it came out of the core, on the clock's `now()`. */
  private applyingSince: number | undefined;
  /** The start times of the proposals the batch being applied settled, timed when it ends. */
  private readonly settledInApply = new TimeList();
  /** What this node stamps commands with as leader: its wall clock, held to elapsed time. */
  private readonly logClock = new LogClock();
  /** Slots chosen before this start, replayed from the disk: they tell the log clock nothing about now. */
  private replayedThrough = 0;
  private role: Role | undefined;
  private leader: NodeId | undefined;
  private commitIndex = 0;
  /** The amnesia guard's state last seen (see {@link ReplicaStatus.rejoining}). */
  private rejoining: 'probing' | 'rebuilding' | undefined;
  /** Per byte bound of the exactly-once table: when its last line was logged, and its trips since. */
  private readonly dedupTripLog = { result: { at: -Infinity, trips: 0 }, client: { at: -Infinity, trips: 0 }, total: { at: -Infinity, trips: 0 } };

  /** Use {@link createNode}. @internal */
  constructor(options: ResolvedOptions<Command, Result>) {
    this.options = options;
    this.id = options.id;
    this.dedup = new DedupTable(options.dedup, (trip) => this.onDedupTrip(trip));
    this.pipeline = new PersistPipeline({
      // A storage that throws instead of rejecting fails the same way.
      write: (batch) => new Promise<void>((resolve, reject) => void Promise.resolve(options.storage.persist(batch)).then(resolve, reject)),
      persisted: (seq, outputs, elapsedMs) => this.onPersisted(seq, outputs, elapsedMs),
      send: (message) => this.send(message),
      failed: (error) => this.fail(new StorageError('persist', error)),
      now: () => options.clock.now(),
    });
    this.snapshots = new Snapshots<Result>({
      id: options.id,
      storage: options.storage,
      stateMachine: options.stateMachine as StateMachine<unknown, Result>,
      resultCodec: options.resultCodec,
      options: options.snapshot,
      logger: options.logger,
      random: options.random,
      retryTicks: options.limits.electionTicksMax,
      now: () => options.clock.now(),
      pause: () =>
        new Promise<void>((resolve) => {
          if (options.clock.defer !== undefined) options.clock.defer(resolve);
          else options.clock.setTimer(resolve, 0);
        }),
      running: () => this.lifecycle === 'running',
      appliedIndex: () => this.appliedIndex,
      runtimeState: () => ({
        lastTimestamp: this.lastTimestamp,
        dedup: this.dedup.exportState(),
        configuration: this.replica!.configurationAt(this.appliedIndex),
      }),
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
        await this.restoreState(restored.state, restored.machine);
        snapshotSlot = restored.slot;
        configuration = restored.state.configuration;
      }
    } catch (error) {
      await this.shutdown(error);
      throw error;
    }
    if (this.lifecycle !== 'starting') throw new ClosedError();
    this.appliedIndex = snapshotSlot;
    this.replayedThrough = durable.commitIndex;
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
    // Ids are checked at creation to leave room for this suffix.
    this.clientId = this.options.clientId ?? `${this.id}/${this.randomId(clientSuffixLength)}`;
    // A fixed client id outlives the process, and its old requests are in the log: start
    // above any sequence number an earlier run could have used (fewer than 1,024 a ms).
    this.nextSeq = Math.max(1, Math.floor(clock.wallTime()) * 1024);
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
    for (const p of [...this.proposals.values()]) for (const w of [...p.waiters]) w.reject(closed());
    for (const r of [...this.reads.values()]) r.waiter.reject(closed());
    for (const t of [...this.transfers]) t.waiter.reject(closed());
    for (const c of [...this.changes]) c.waiter.reject(closed());
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
      return this.admit(command, options);
    } catch (error) {
      this.recorder.refused++;
      return Promise.reject(error);
    }
  }

  private admit(command: Command, options: ProposeOptions): Promise<Result> {
    const replica = this.running('propose');
    const timeoutMs = this.timeout('propose', options.timeoutMs, this.options.proposeTimeoutMs);
    if (this.options.followerProposals === 'reject' && replica.role !== 'leader') throw new NotLeaderError(this.leader, command);
    let clientId = this.clientId;
    let seq: number;
    let ackedBelow: number;
    const request = options.request;
    if (request === undefined) {
      seq = this.nextSeq;
      ackedBelow = this.ownPending.size === 0 ? seq : (this.ownPending.keys().next().value as number);
    } else {
      ({ clientId, seq } = request);
      ackedBelow = request.ackedBelow ?? 0;
      if (typeof clientId !== 'string' || clientId.length === 0) throw new ConfigError('propose', 'request.clientId', 'must be a non-empty string');
      if (new TextEncoder().encode(clientId).byteLength > envelopeIdBytesMax)
        throw new ConfigError('propose', 'request.clientId', `must be at most ${envelopeIdBytesMax} bytes`);
      if (!Number.isSafeInteger(seq) || seq < 0) throw new ConfigError('propose', 'request.seq', 'must be a non-negative integer');
      if (!Number.isSafeInteger(ackedBelow) || ackedBelow < 0 || ackedBelow > seq)
        throw new ConfigError('propose', 'request.ackedBelow', 'must be an integer from 0 to seq');
      if (clientId === this.clientId) throw new ConfigError('propose', 'request.clientId', "must not be this node's own client id");
    }
    const key = requestKey(clientId, seq);
    const readOnly = this.isReadOnly(command);
    if (request !== undefined && !readOnly) {
      // A retry of a request this replica applied already: its outcome is known here.
      const known = this.dedup.known(clientId, seq);
      if (known === 'expired') throw new ResultExpiredError(clientId, seq);
      if (known !== undefined) {
        this.recorder.submitted++;
        if (known === 'dropped') {
          this.recorder.failed++;
          return Promise.reject(new ResultDroppedError(clientId, seq));
        }
        if (known.ok) {
          this.recorder.succeeded++;
          return Promise.resolve(known.value);
        }
        this.recorder.failed++;
        return Promise.reject(known.error);
      }
    }
    const existing = this.proposals.get(key);
    if (existing === undefined && this.proposals.size >= this.options.pendingProposalsMax) throw new OverloadedError(this.options.pendingProposalsMax, 'node');
    if (options.signal?.aborted === true) throw new AbortedError('propose', { cause: options.signal.reason });
    let envelope = existing?.envelope;
    if (envelope === undefined) {
      const payload = this.options.codec.encode(command);
      envelope = encodeEnvelope({ clientId, seq, ackedBelow, timestamp: 0, createdAt: this.options.clock.wallTime(), origin: this.id, payload });
      if (envelope.byteLength > this.options.commandBytesMax) throw new CommandTooLargeError(envelope.byteLength, this.options.commandBytesMax);
    }
    const limits = { timeoutMs, signal: options.signal, timer: false };
    const { promise, waiter } = createWaiter<Result>(this.options.clock, 'propose', limits, (w, ok) => {
      if (ok) this.recorder.succeeded++;
      else this.recorder.failed++;
      // The waiter read the clock for its deadline: its start is that reading, no second one.
      // One settled by the batch being applied is timed at the batch's end: one clock read a batch, not a proposal.
      const startedMs = w.deadline - timeoutMs;
      if (this.applyingSince !== undefined) this.settledInApply.push(startedMs);
      else this.recorder.proposeLatency.observe(this.options.clock.now() - startedMs);
      this.waiterDone(p, w);
    });
    const p: PendingProposal<Result> = existing ?? {
      key,
      clientId,
      seq,
      envelope,
      readOnly,
      waiters: [],
      submittedTick: -1,
      attempts: 0,
      startedMs: waiter.deadline - timeoutMs,
    };
    p.waiters.push(waiter);
    this.recorder.submitted++;
    if (existing === undefined) {
      this.proposals.set(key, p);
      if (request === undefined) {
        this.ownPending.set(seq, p);
        this.nextSeq++;
      }
      this.submit(p);
    }
    return promise;
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
      const timeoutMs = this.timeout('read', options.timeoutMs, this.options.readTimeoutMs);
      if (this.reads.size >= this.options.pendingReadsMax) throw new OverloadedError(this.options.pendingReadsMax, 'reads');
      if (options.signal?.aborted === true) throw new AbortedError('read', { cause: options.signal.reason });
      const id = ++this.readIds;
      const { promise, waiter } = createWaiter<void>(this.options.clock, 'read', { timeoutMs, signal: options.signal }, (w, resolved) => {
        if (resolved) this.recorder.readsServed++;
        else this.recorder.readsFailed++;
        this.recorder.readLatency.observe(this.options.clock.now() - (w.deadline - timeoutMs));
        this.reads.delete(id);
      });
      const read: LocalRead = { id, waiter, index: undefined, sentTick: -1 };
      this.reads.set(id, read);
      this.sendRead(read);
      return promise;
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
      const replica = this.running('transferLeadership');
      const timeoutMs = this.timeout('transferLeadership', options.timeoutMs, this.options.readTimeoutMs);
      if (to === this.id && replica.role === 'leader') return Promise.resolve();
      const result = replica.transferLeadership(to);
      if (!result.ok) {
        if (result.reason === 'not-voter') throw new TransferError(to, 'it is not a voting member');
        throw new NotLeaderError(result.leaderHint);
      }
      this.scheduleDrain();
      for (const t of [...this.transfers]) if (t.to !== to) t.waiter.reject(new TransferError(t.to, `superseded by a transfer to ${to}`));
      const limits = { timeoutMs, signal: options.signal, onTimeout: () => new TransferError(to, `it did not take over within ${timeoutMs} ms`) };
      const { promise, waiter } = createWaiter<void>(this.options.clock, 'transferLeadership', limits, () => this.transfers.delete(transfer));
      const transfer: Transfer = { to, waiter };
      this.transfers.add(transfer);
      return promise;
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
      appliedIndex: this.appliedIndex,
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
      const replica = this.running('changeMembers');
      const timeoutMs = this.timeout('changeMembers', options.timeoutMs, this.options.readTimeoutMs);
      const result = replica.changeMembers(change);
      if (!result.ok) {
        if (result.reason === 'not-leader') throw new NotLeaderError(result.leaderHint);
        throw new MembershipError(result.reason, describeRefusal(result));
      }
      this.scheduleDrain();
      const target = result.config;
      const limits = { timeoutMs, signal: options.signal, onTimeout: () => new TimeoutError('changeMembers', timeoutMs) };
      const { promise, waiter } = createWaiter<Configuration>(this.options.clock, 'changeMembers', limits, () => this.changes.delete(pending));
      const pending: PendingChange = { target, waiter };
      this.changes.add(pending);
      return promise;
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
      appliedIndex: this.appliedIndex,
      snapshots: { ...this.snapshots.counts, sending: this.snapshots.sending },
      exactlyOnce: this.dedup.stats,
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

  private timeout(api: string, given: number | undefined, fallback: number): number {
    if (given === undefined) return fallback;
    if (typeof given !== 'number' || !Number.isFinite(given) || given <= 0)
      throw new ConfigError(api, 'timeoutMs', 'must be a positive number of milliseconds');
    return given;
  }

  private readonly onTick = (): void => {
    if (this.lifecycle !== 'running') return;
    this.tickTimer = this.options.clock.setTimer(this.onTick, this.options.tickMs);
    this.guard(() => {
      this.ticks++;
      this.replica!.tick();
      this.snapshots.tick();
      this.retryDue();
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
      if (out.dropped.length > 0) this.onDropped(out.dropped);
      for (const r of out.reads) this.onReadIndex(r);
      for (const to of out.snapshotsTo) this.snapshots.sendTo(to);
      this.pipeline.push(out.persistSeq, out.persist, out.messages);
      if (this.lifecycle !== 'running') return;
    }
    this.flushForwards();
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
      this.inPipeline.clear();
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
    if (this.changes.size > 0) this.settleChanges(s.configuration, s.configurationFrom);
    // A transfer is done once the target leads, not when it merely campaigns (its
    // prepare already makes it this node's leader hint): hearing it send phase 2 says it won.
    if (this.transfers.size > 0 && s.heardLeader !== undefined) {
      for (const t of [...this.transfers]) if (t.to === s.heardLeader.node) t.waiter.resolve();
    }
    if (this.transfers.size > 0 && s.role === 'leader' && s.transferTarget === undefined) {
      for (const t of [...this.transfers]) {
        t.waiter.reject(new TransferError(t.to, `it did not catch up and campaign within ${this.options.limits.electionTicksMax} ticks; this node leads on`));
      }
    }
  }

  /**
   * Resolves the changes whose configuration is in effect here: chosen, not half done,
   * and every slot before it governs applied. A change another configuration replaced
   * first is refused as superseded.
   */
  private settleChanges(latest: Configuration, from: number): void {
    for (const c of [...this.changes]) {
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
      if (latest.leaving !== undefined || this.appliedIndex < from - 1) continue;
      c.waiter.resolve(latest);
    }
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
    for (const t of [...this.transfers]) {
      if (leader !== undefined && leader !== this.id && leader !== t.to) t.waiter.reject(new TransferError(t.to, `${leader} took over instead`));
    }
    if (leader === undefined) return;
    for (const p of this.proposals.values()) this.submit(p);
    for (const r of this.reads.values()) if (r.index === undefined) this.sendRead(r);
    this.flushForwards();
  }

  private emit<E extends keyof NodeEvents>(event: E, payload: NodeEvents[E]): void {
    try {
      this.emitter.emit(event, payload);
    } catch (error) {
      this.options.logger.error({ node: this.id, event, error }, 'an event listener threw');
    }
  }

  // ---------------------------------------------------------------- proposals

  /** Hands `p` to the leader: this node's core if it leads, else a forward. */
  private submit(p: PendingProposal<Result>): void {
    const replica = this.replica!;
    p.submittedTick = this.ticks;
    const first = p.attempts++ === 0;
    if (replica.role === 'leader') {
      // A retry of a request this leadership holds already (its first attempt timed out
      // and was retried): that copy commits and settles it by key, or comes back in
      // `dropped`. A second copy would only take a slot of its own.
      if (this.inPipeline.has(p.key)) return;
      const stamped = stampEnvelope(p.envelope, this.logTimeNow());
      if (stamped === undefined) throw new InvariantError(`this node built a malformed envelope for ${p.key}`);
      const result = replica.propose([stamped]);
      if (result.ok) {
        this.inPipeline.add(p.key);
        this.scheduleBatchDrain();
        return;
      }
      // Refused for now. Only a first attempt can fail: a retry's earlier attempt may still be applied.
      if (result.reason === 'overloaded') {
        // Not in the pipeline, so retryDue() hands it over again.
        if (first) this.settle(p, { ok: false, error: new OverloadedError(result.limit, 'leader') });
        return;
      }
      if (result.reason === 'too-large') return this.settle(p, { ok: false, error: new CommandTooLargeError(result.bytes, result.limit) });
    }
    const leader = this.leader;
    if (leader === undefined || leader === this.id) {
      p.submittedTick = -1;
      return;
    }
    this.forward(leader, p.envelope);
  }

  private forward(leader: NodeId, envelope: Uint8Array): void {
    let list = this.forwards.get(leader);
    if (list === undefined) this.forwards.set(leader, (list = []));
    list.push(envelope);
    this.recorder.forwarded++;
    this.scheduleDrain();
  }

  /** Sends the forwards gathered in this turn: per leader, messages of at most one slot's commands and bytes. */
  private flushForwards(): void {
    if (this.forwards.size === 0) return;
    const { batchCommandsMax, batchBytesMax } = this.options.limits;
    for (const [to, commands] of this.forwards) {
      let chunk: Uint8Array[] = [];
      let bytes = 0;
      for (const c of commands) {
        if (chunk.length > 0 && (chunk.length === batchCommandsMax || bytes + c.byteLength > batchBytesMax)) {
          this.send({ type: 'forward', from: this.id, to, commands: chunk } satisfies ForwardMessage);
          chunk = [];
          bytes = 0;
        }
        chunk.push(c);
        bytes += c.byteLength;
      }
      this.send({ type: 'forward', from: this.id, to, commands: chunk } satisfies ForwardMessage);
    }
    this.forwards.clear();
  }

  /** Resubmits proposals nothing was heard of for `retryTicks`, and re-asks unanswered reads. */
  private retryDue(): void {
    const due = this.ticks - this.options.retryTicks;
    const leading = this.replica!.role === 'leader';
    const now = this.options.clock.now();
    for (const p of this.proposals.values()) {
      // Proposal timeouts are checked here, once a tick, rather than with a timer each.
      for (let i = p.waiters.length - 1; i >= 0; i--) {
        const w = p.waiters[i]!;
        if (w.deadline <= now) w.expire();
      }
      if (p.waiters.length === 0) continue;
      // A proposal in this leader's own pipeline commits, or comes back in `dropped`.
      if (leading && this.inPipeline.has(p.key)) continue;
      if (p.submittedTick <= due) this.submit(p);
    }
    for (const r of this.reads.values()) if (r.index === undefined && r.sentTick <= due) this.sendRead(r);
  }

  /** Commands this node queued as leader and gave back on stepping down. */
  private onDropped(commands: readonly Uint8Array[]): void {
    for (const c of commands) {
      const key = envelopeKey(c);
      const p = key === undefined ? undefined : this.proposals.get(key);
      if (p !== undefined) this.submit(p);
      else if (this.leader !== undefined && this.leader !== this.id) this.forward(this.leader, c);
    }
  }

  private waiterDone(p: PendingProposal<Result>, w: Waiter<Result>): void {
    const i = p.waiters.indexOf(w);
    if (i >= 0) p.waiters.splice(i, 1);
    if (p.waiters.length === 0) {
      this.proposals.delete(p.key);
      if (p.clientId === this.clientId) this.ownPending.delete(p.seq);
    }
  }

  private settle(p: PendingProposal<Result>, outcome: Outcome<Result>): void {
    for (const w of [...p.waiters]) {
      if (outcome.ok) w.resolve(outcome.value);
      else w.reject(outcome.error);
    }
  }

  // ---------------------------------------------------------------- apply

  private applyCommitted(replica: Replica, committed: readonly CommittedEntry[]): void {
    const clock = this.options.clock;
    const started = clock.now();
    this.applyingSince = started;
    let bytes = 0;
    for (const { slot, value } of committed) {
      if (value.kind === 'batch') {
        for (const command of value.commands) {
          this.applyCommand(slot, command);
          bytes += command.byteLength;
        }
      }
      this.appliedIndex = slot;
      this.recorder.slots++;
    }
    this.applyingSince = undefined;
    const ended = clock.now();
    this.recorder.applyLatency.observe(ended - started);
    this.settledInApply.drain((startedMs) => this.recorder.proposeLatency.observe(ended - startedMs));
    replica.applied(this.appliedIndex);
    this.snapshots.applied(committed.length, bytes);
    this.emit('apply', { appliedIndex: this.appliedIndex });
    if (this.reads.size > 0) {
      for (const r of [...this.reads.values()]) if (r.index !== undefined && r.index <= this.appliedIndex) this.serveRead(r);
    }
  }

  private applyCommand(slot: number, bytes: Uint8Array): void {
    let e;
    try {
      e = decodeEnvelope(bytes);
    } catch (error) {
      // Every replica skips the same bytes: the state stays the same everywhere.
      this.recorder.malformed++;
      this.options.logger.error({ node: this.id, slot, error }, 'skipped a malformed command in the log');
      this.emit('error', { error: new InvariantError(`slot ${slot} holds a malformed command envelope: ${String(error)}`), fatal: false });
      return;
    }
    const timestamp = Math.max(this.lastTimestamp, e.timestamp);
    this.lastTimestamp = timestamp;
    if (slot > this.replayedThrough) this.logClock.observe(timestamp, this.options.clock.now());
    const meta: ApplyMeta = { slot, timestamp, clientId: e.clientId, seq: e.seq, origin: e.origin };
    const decoded = this.decodeCommand(slot, e.payload);
    let outcome: Outcome<Result>;
    if (decoded.ok && this.isReadOnly(decoded.command)) {
      // It changes nothing, so running it again is harmless: no entry, only the client's progress.
      this.dedup.progress(e.clientId, e.ackedBelow, timestamp);
      outcome = this.execute(slot, decoded.command, meta);
      this.recorder.commands++;
      this.recorder.readOnly++;
    } else {
      const lookup = this.dedup.check(e.clientId, e.seq, e.ackedBelow, e.createdAt, timestamp);
      if (lookup.kind === 'new') {
        outcome = decoded.ok ? this.execute(slot, decoded.command, meta) : decoded;
        this.dedup.record(e.clientId, e.seq, outcome);
        this.recorder.commands++;
      } else {
        this.recorder.duplicates++;
        outcome = lookup.kind === 'duplicate' ? lookup.outcome : refusal(lookup.kind, e.clientId, e.seq);
      }
    }
    if (this.inPipeline.size === 0 && this.proposals.size === 0) return;
    const key = requestKey(e.clientId, e.seq);
    this.inPipeline.delete(key);
    const p = this.proposals.get(key);
    if (p === undefined) return;
    // Chosen and known here when the batch holding it came out of the core.
    this.recorder.commitLatency.observe((this.applyingSince ?? this.options.clock.now()) - p.startedMs);
    this.settle(p, outcome);
  }

  /**
   * A byte bound of the exactly-once table tripped, inside apply: a warning line, at
   * most one a bound every {@link dedupTripLogMs} (an attack trips one on every
   * request). Only the log is touched here, never replicated state.
   */
  private onDedupTrip(trip: DedupTrip): void {
    const log = this.dedupTripLog[trip.bound];
    log.trips++;
    const now = this.options.clock.now();
    if (now - log.at < dedupTripLogMs) return;
    const { resultBytesPerClientMax, resultBytesMax } = this.options.dedup;
    const what =
      trip.bound === 'result'
        ? `the result of request ${trip.seq} of client ${trip.clientId} is larger than dedup.resultBytesPerClientMax (${resultBytesPerClientMax} bytes): kept as applied, result dropped`
        : trip.bound === 'client'
          ? `client ${trip.clientId} went over dedup.resultBytesPerClientMax (${resultBytesPerClientMax} bytes): ${trip.results} of its older results dropped`
          : `the exactly-once table went over dedup.resultBytesMax (${resultBytesMax} bytes): ${trip.results} results of the least recently active clients dropped`;
    const trips = log.trips;
    log.at = now;
    log.trips = 0;
    try {
      this.options.logger.warn(
        { node: this.id, bound: trip.bound, clientId: trip.clientId, seq: trip.seq, trips },
        `${what} (${trips} such trips since the last line)`,
      );
    } catch {
      // A logger that throws must not break an apply half done.
    }
  }

  /** The command in `payload`; a codec that cannot read it makes the command's outcome an {@link ApplyError}, on every replica alike. */
  private decodeCommand(
    slot: number,
    payload: Uint8Array,
  ): { readonly ok: true; readonly command: Command } | { readonly ok: false; readonly error: ApplyError } {
    try {
      return { ok: true, command: this.options.codec.decode(payload) };
    } catch (error) {
      return { ok: false, error: new ApplyError(slot, error) };
    }
  }

  /**
   * Whether the state machine says `command` only reads. One that throws is taken to
   * write: keeping an entry is the safe side. Pure in the command, so every replica
   * answers alike.
   */
  private isReadOnly(command: Command): boolean {
    const readOnly = this.options.stateMachine.readOnly;
    if (readOnly === undefined) return false;
    try {
      return readOnly.call(this.options.stateMachine, command) === true;
    } catch {
      return false;
    }
  }

  private execute(slot: number, command: Command, meta: ApplyMeta): Outcome<Result> {
    try {
      return { ok: true, value: this.options.stateMachine.apply(command, meta) };
    } catch (error) {
      return { ok: false, error: new ApplyError(slot, error) };
    }
  }

  // ---------------------------------------------------------------- snapshots

  /** Replaces the state machine's and the runtime's replicated state with a snapshot's. */
  private async restoreState(state: RuntimeState<Result>, machine: Uint8Array): Promise<void> {
    try {
      await this.options.stateMachine.restore!(machine);
    } catch (error) {
      throw new SnapshotError("the state machine's restore() threw; its state may be half replaced", { cause: error });
    }
    this.dedup.importState(state.dedup);
    this.lastTimestamp = state.lastTimestamp;
  }

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
      await this.restoreState(state, machine);
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
    this.appliedIndex = slot;
    replica.installSnapshot(slot, state.configuration);
    this.inPipeline.clear();
    // Requests applied inside the snapshot never pass through apply here: settle them
    // from the restored exactly-once table.
    for (const p of [...this.proposals.values()]) {
      // A read takes no entry: it is sent again, and runs again.
      if (p.readOnly) continue;
      const known = this.dedup.known(p.clientId, p.seq);
      if (known === undefined) continue;
      this.settle(p, known === 'expired' || known === 'dropped' ? refusal(known, p.clientId, p.seq) : known);
    }
    this.emit('apply', { appliedIndex: slot });
    for (const r of [...this.reads.values()]) if (r.index !== undefined && r.index <= slot) this.serveRead(r);
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

  // ---------------------------------------------------------------- reads

  private sendRead(read: LocalRead): void {
    const replica = this.replica!;
    read.sentTick = this.ticks;
    if (replica.role === 'leader') {
      if (replica.readIndex(read.id).ok) {
        this.scheduleDrain();
        return;
      }
    }
    const leader = this.leader;
    if (leader === undefined || leader === this.id) {
      read.sentTick = -1;
      return;
    }
    const message: ReadRequestMessage = { type: 'readRequest', from: this.id, to: leader, id: read.id };
    this.send(message);
  }

  /** The core settled a read-index request: one of ours, or one run for a follower. */
  private onReadIndex(r: ReadIndexResult): void {
    const remote = this.remoteReads.get(r.id);
    if (remote !== undefined) {
      this.remoteReads.delete(r.id);
      const reply: ReadReplyMessage = {
        type: 'readReply',
        from: this.id,
        to: remote.from,
        id: remote.id,
        index: r.ok ? r.index : undefined,
        leaderHint: r.ok ? this.id : r.leaderHint,
      };
      this.send(reply);
      return;
    }
    const read = this.reads.get(r.id);
    if (read === undefined || read.index !== undefined) return;
    if (!r.ok) {
      this.recorder.readRetries++;
      read.sentTick = -1;
      return;
    }
    this.confirmRead(read, r.index);
  }

  private confirmRead(read: LocalRead, index: number): void {
    read.index = index;
    if (index <= this.appliedIndex) this.serveRead(read);
  }

  private serveRead(read: LocalRead): void {
    read.waiter.resolve();
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
          return this.onForward(message);
        case 'forwardRefused':
          return this.onForwardRefused(message);
        case 'readRequest':
          return this.onReadRequest(message);
        case 'readReply':
          return this.onReadReply(message);
        case 'snapshotChunk':
          return this.onSnapshotChunk(message);
        case 'snapshotAck':
          return this.onSnapshotAck(message);
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

  /** The timestamp this node, as leader, gives a command now (see {@link LogClock}). */
  private logTimeNow(): number {
    const { clock } = this.options;
    return this.logClock.stamp(clock.wallTime(), clock.now(), this.lastTimestamp);
  }

  private onForward(m: ForwardMessage): void {
    if (!Array.isArray(m.commands)) return this.dropMalformed(m);
    const replica = this.replica!;
    const refused: [string, number][] = [];
    let reason: ForwardRefusedMessage['reason'] = 'not-leader';
    for (const c of m.commands) {
      if (!(c instanceof Uint8Array) || c.byteLength > this.options.commandBytesMax) {
        this.recorder.messagesDropped++;
        continue;
      }
      const stamped = stampEnvelope(c, this.logTimeNow());
      if (stamped === undefined) {
        this.recorder.messagesDropped++;
        continue;
      }
      let e;
      try {
        e = decodeEnvelope(stamped);
      } catch {
        this.recorder.messagesDropped++;
        continue;
      }
      const key = requestKey(e.clientId, e.seq);
      // Already queued, or applied (the sender will learn the result when it applies the slot);
      // a read, though, keeps no entry and runs again.
      if (replica.role === 'leader' && (this.inPipeline.has(key) || (this.dedup.known(e.clientId, e.seq) !== undefined && !this.isReadOnlyPayload(e.payload))))
        continue;
      const result = replica.role === 'leader' ? replica.propose([stamped]) : undefined;
      if (result?.ok === true) {
        this.inPipeline.add(key);
        continue;
      }
      refused.push([e.clientId, e.seq]);
      if (result?.ok === false && result.reason === 'overloaded') reason = 'overloaded';
    }
    if (refused.length > 0) {
      const reply: ForwardRefusedMessage = { type: 'forwardRefused', from: this.id, to: m.from, requests: refused, reason, leaderHint: this.leader };
      this.send(reply);
    }
  }

  /**
   * The leader could not take forwarded proposals. Each is retried on the next leader
   * change or after `retryTicks`; only a first attempt refused as overloaded fails at
   * once (a retry's earlier attempt may still be queued at the leader).
   */
  private onForwardRefused(m: ForwardRefusedMessage): void {
    if (!Array.isArray(m.requests)) return this.dropMalformed(m);
    if (m.reason !== 'overloaded') return;
    for (const r of m.requests) {
      if (!Array.isArray(r) || typeof r[0] !== 'string' || typeof r[1] !== 'number') continue;
      const p = this.proposals.get(requestKey(r[0], r[1]));
      if (p !== undefined && p.attempts === 1) this.settle(p, { ok: false, error: new OverloadedError(this.options.limits.proposalQueueMax, 'leader') });
    }
  }

  private onReadRequest(m: ReadRequestMessage): void {
    if (!Number.isSafeInteger(m.id)) return this.dropMalformed(m);
    const id = ++this.readIds;
    // Over the limit, refuse as if not leading: the follower asks again later.
    const result = this.remoteReads.size < this.options.pendingReadsMax ? this.replica!.readIndex(id) : ({ ok: false, leaderHint: this.leader } as const);
    if (result.ok) {
      this.remoteReads.set(id, { from: m.from, id: m.id });
      return;
    }
    const reply: ReadReplyMessage = { type: 'readReply', from: this.id, to: m.from, id: m.id, index: undefined, leaderHint: result.leaderHint };
    this.send(reply);
  }

  private onReadReply(m: ReadReplyMessage): void {
    if (!Number.isSafeInteger(m.id) || (m.index !== undefined && (!Number.isSafeInteger(m.index) || m.index < 0))) return this.dropMalformed(m);
    const read = this.reads.get(m.id);
    if (read === undefined || read.index !== undefined) return;
    if (m.index === undefined) {
      this.recorder.readRetries++;
      read.sentTick = -1; // asked again on the next leader change or retry tick
      return;
    }
    this.confirmRead(read, m.index);
  }

  private isReadOnlyPayload(payload: Uint8Array): boolean {
    const decoded = this.decodeCommand(0, payload);
    return decoded.ok && this.isReadOnly(decoded.command);
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

/** The outcome a request gets that the exactly-once table refuses to apply again. */
function refusal(kind: 'expired' | 'dropped', clientId: string, seq: number): Outcome<never> {
  return { ok: false, error: kind === 'dropped' ? new ResultDroppedError(clientId, seq) : new ResultExpiredError(clientId, seq) };
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

export function createNode<Command, Result>(options: NodeOptions<Command, Result>): SynodNode<Command, Result> {
  return new SynodNode(resolveOptions(options));
}
