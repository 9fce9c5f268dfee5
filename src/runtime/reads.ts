/**
 * A node's linearizable reads: read-index on the leader, asked of the leader by a
 * follower, served once the read index is applied here.
 */
import { LazyMap } from '../core/lazy-map.js';
import type { NodeId, ReadIndexResult, Replica } from '../core/index.js';
import { assert } from '../core/assert.js';
import { AbortedError, OverloadedError } from './errors.js';
import type { MetricsRecorder } from './metrics.js';
import type { ResolvedOptions } from './options.js';
import type { ReadReplyMessage, ReadRequestMessage } from './runtime-messages.js';
import { type Waiter, createWaiter } from './waiter.js';

/** Options of {@link SynodNode.read} and the other calls that wait without a command. */
export interface WaitOptions {
  readonly signal?: AbortSignal;
  /** How long to wait. Default the node's `readTimeoutMs`. */
  readonly timeoutMs?: number;
}

/** The parts of a node's options reads use. @internal */
export type ReadsOptions = Pick<ResolvedOptions<unknown, unknown>, 'id' | 'clock' | 'pendingReadsMax'>;

/** What reads need from their node. @internal */
export interface ReadsHost {
  /** The core, to confirm a read index with while this node leads (there once the node started). */
  core(): Pick<Replica, 'role' | 'readIndex'>;
  /** The node this one believes leads. */
  leader(): NodeId | undefined;
  /** Ticks since the node started: retries are counted in them. */
  ticks(): number;
  /** The last slot applied here. */
  appliedIndex(): number;
  send(message: ReadRequestMessage | ReadReplyMessage): void;
  /** Runs the drive loop soon (this turn): the core's heartbeats for a read index go out. */
  drainSoon(): void;
  /** A message that fails validation: counted and logged, never acted on. */
  dropMalformed(message: ReadRequestMessage | ReadReplyMessage): void;
}

interface LocalRead {
  readonly id: number;
  readonly waiter: Waiter<void>;
  /** The confirmed read index, once known: the read resolves when it is applied. */
  index: number | undefined;
  /** The tick it was last asked for; -1 when it waits for a leader. */
  sentTick: number;
}

/**
 * Reads waiting on this node, and those this node, as leader, confirms for followers.
 * A read learns a read index (the leader's commit index, confirmed by a phase-2 quorum
 * after the read began), then resolves once this node applied that slot: so the state
 * machine reflects every command acknowledged before the read began.
 * @internal
 */
export class Reads {
  private readonly local = new LazyMap<number, LocalRead>();
  /** Reads this leader runs for followers: core read id → the follower and its read id. */
  private readonly remote = new LazyMap<number, { from: NodeId; id: number }>();
  /** The core's read ids, for local and remote reads alike. */
  private ids = 0;

  constructor(
    private readonly options: ReadsOptions,
    private readonly recorder: MetricsRecorder,
    private readonly host: ReadsHost,
  ) {}

  /** This node's own reads waiting. */
  get size(): number {
    return this.local.size;
  }

  /** A read point (see {@link SynodNode.read}); throws what refuses it at once. */
  read(options: WaitOptions, timeoutMs: number): Promise<void> {
    if (this.local.size >= this.options.pendingReadsMax) throw new OverloadedError(this.options.pendingReadsMax, 'reads');
    if (options.signal?.aborted === true) throw new AbortedError('read', { cause: options.signal.reason });
    const id = ++this.ids;
    const { clock } = this.options;
    const { promise, waiter } = createWaiter<void>(clock, 'read', { timeoutMs, signal: options.signal }, (w, resolved) => {
      if (resolved) this.recorder.readsServed++;
      else this.recorder.readsFailed++;
      this.recorder.readLatency.observe(clock.now() - (w.deadline - timeoutMs));
      this.local.delete(id);
    });
    const read: LocalRead = { id, waiter, index: undefined, sentTick: -1 };
    this.local.set(id, read);
    this.ask(read);
    return promise;
  }

  /** The core settled a read-index request: one of ours, or one run for a follower. */
  onReadIndex(r: ReadIndexResult): void {
    const remote = this.remote.get(r.id);
    if (remote !== undefined) {
      this.remote.delete(r.id);
      const reply: ReadReplyMessage = {
        type: 'readReply',
        from: this.options.id,
        to: remote.from,
        id: remote.id,
        index: r.ok ? r.index : undefined,
        leaderHint: r.ok ? this.options.id : r.leaderHint,
      };
      this.host.send(reply);
      return;
    }
    const read = this.local.get(r.id);
    if (read === undefined || read.index !== undefined) return;
    if (!r.ok) {
      this.recorder.readRetries++;
      read.sentTick = -1;
      return;
    }
    this.confirm(read, r.index);
  }

  /** A follower asks this node, as leader, for a read index. */
  onReadRequest(m: ReadRequestMessage): void {
    if (!Number.isSafeInteger(m.id)) return this.host.dropMalformed(m);
    const id = ++this.ids;
    // Over the limit, refuse as if not leading: the follower asks again later.
    const result = this.remote.size < this.options.pendingReadsMax ? this.host.core().readIndex(id) : ({ ok: false, leaderHint: this.host.leader() } as const);
    if (result.ok) {
      this.remote.set(id, { from: m.from, id: m.id });
      return;
    }
    const reply: ReadReplyMessage = { type: 'readReply', from: this.options.id, to: m.from, id: m.id, index: undefined, leaderHint: result.leaderHint };
    this.host.send(reply);
  }

  /** The leader answered a read of ours: its read index, or that it could not confirm one. */
  onReadReply(m: ReadReplyMessage): void {
    if (!Number.isSafeInteger(m.id) || (m.index !== undefined && (!Number.isSafeInteger(m.index) || m.index < 0))) return this.host.dropMalformed(m);
    const read = this.local.get(m.id);
    if (read === undefined || read.index !== undefined) return;
    if (m.index === undefined) {
      this.recorder.readRetries++;
      read.sentTick = -1; // asked again on the next leader change or retry tick
      return;
    }
    this.confirm(read, m.index);
  }

  /** Slots up to `appliedIndex` are applied here: the reads whose index that reaches resolve. */
  applied(appliedIndex: number): void {
    if (this.local.size === 0) return;
    for (const r of [...this.local.values()]) if (r.index !== undefined && r.index <= appliedIndex) this.serve(r);
  }

  /** A new leader is known: the reads without an index ask it. */
  leaderChanged(): void {
    for (const r of this.local.values()) if (r.index === undefined) this.ask(r);
  }

  /** Once a tick: asks again for the reads unanswered since tick `due`. */
  retryDue(due: number): void {
    for (const r of this.local.values()) if (r.index === undefined && r.sentTick <= due) this.ask(r);
  }

  /** The node closes: every read rejects with `error()`. */
  close(error: () => Error): void {
    for (const r of [...this.local.values()]) r.waiter.reject(error());
    assert(this.local.size === 0, () => `${this.local.size} reads left pending on close`);
  }

  /** Asks for `read`'s index: of this node's core if it leads, else of the leader. */
  private ask(read: LocalRead): void {
    const core = this.host.core();
    read.sentTick = this.host.ticks();
    if (core.role === 'leader') {
      if (core.readIndex(read.id).ok) {
        this.host.drainSoon();
        return;
      }
    }
    const leader = this.host.leader();
    if (leader === undefined || leader === this.options.id) {
      read.sentTick = -1;
      return;
    }
    const message: ReadRequestMessage = { type: 'readRequest', from: this.options.id, to: leader, id: read.id };
    this.host.send(message);
  }

  private confirm(read: LocalRead, index: number): void {
    assert(read.index === undefined, () => `read ${read.id} confirmed twice: at ${read.index} and ${index}`);
    read.index = index;
    if (index <= this.host.appliedIndex()) this.serve(read);
  }

  private serve(read: LocalRead): void {
    assert(read.index !== undefined && read.index <= this.host.appliedIndex(), () => `read ${read.id} served at ${read.index} before it was applied`);
    read.waiter.resolve();
  }
}
