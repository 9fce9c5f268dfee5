import { ConfigError, type DurableState, DurableStateBuilder, InvariantError, type NodeId, type PersistBatch } from '../core/index.js';
import { persistBatchProblem, persistNeedsSync } from '../core/durable-state.js';
import { assert } from '../core/assert.js';
import { ClosedError, type Clock, type Snapshot, type Storage, type TimerHandle } from '../runtime/index.js';

/** How to build a {@link SimStorage}. */
export interface SimStorageOptions {
  /** The node the storage belongs to, for messages and the `onDurable` hook. */
  readonly node: NodeId;
  /** Where writes wait to become durable: a {@link VirtualClock} in a simulation. */
  readonly clock: Clock;
  /** Seeded randomness for the write delays: a number in [0, 1). */
  readonly random: () => number;
  /** Longest delay before a write is durable, in (virtual) ms; each write draws an integer delay in [0, max]. Default 2. */
  readonly persistDelayMsMax?: number;
  /**
   * Called as each persisted batch becomes durable, with the durable state after it,
   * before the `persist` promise resolves: the checkers' view of what survives a crash.
   */
  readonly onDurable?: (node: NodeId, batch: PersistBatch, state: DurableStateBuilder) => void;
  /** Called as each saved snapshot becomes durable, before the `saveSnapshot` promise resolves. */
  readonly onDurableSnapshot?: (node: NodeId, snapshot: Snapshot) => void;
}

/** Counts shared by every handle of one node's storage. */
export interface SimStorageCounts {
  /** Writes of persist batches asked for. */
  readonly persists: number;
  /** Persist batches made durable. */
  readonly durable: number;
  /** Writes (of any kind) lost in crashes. */
  readonly lost: number;
}

/** One write waiting to become durable. */
interface PendingWrite {
  readonly doneAt: number;
  readonly apply: () => void;
  readonly resolve: () => void;
  /** Whether completing it syncs: makes it, and every write before it, durable. */
  readonly sync: boolean;
}

/** What survives a crash: shared by every handle of one node's storage. */
interface Disk {
  readonly state: DurableStateBuilder;
  snapshot: Snapshot | undefined;
  /** The handle allowed to write; others are crashed or closed. */
  current: SimStorage | undefined;
  readonly counts: { persists: number; durable: number; lost: number };
}

/**
 * A simulated {@link Storage}: each write (persist, snapshot, compaction) becomes
 * durable after a seeded random delay on the virtual clock, strictly in call order,
 * and only then does its promise resolve. A persist that `persistNeedsSync` says needs
 * no sync resolves once the writes before it completed, without delay, but becomes
 * durable only with the next synced write: a crash before that loses it, as a real
 * log loses its unsynced tail. `crash()` loses every write not yet durable
 * and leaves its promise pending forever (the process that waited on it is dead);
 * `reopen()` then hands the restarted node a new handle on the durable state. It is
 * the runtime's counterpart of the core simulator's {@link SimDisk}.
 *
 * @example
 * ```ts
 * const clock = new VirtualClock();
 * const storage = new SimStorage({ node: 'a', clock, random: Math.random });
 * void storage.persist({ promised: { round: 1, node: 'a' }, accepted: [], chosen: [] });
 * storage.crash(); // the write was not durable yet: it is lost
 * const again = storage.reopen();
 * (await again.load()).promised; // { round: 0, node: '' }
 * ```
 */
export class SimStorage implements Storage {
  private readonly disk: Disk;
  private readonly options: SimStorageOptions;
  private pending: PendingWrite[] = [];
  /** Completed writes no sync covered yet, in order: what a crash loses although they resolved. */
  private unsynced: (() => void)[] = [];
  private timer: TimerHandle | undefined;
  private timerAt = Infinity;
  private lastDoneAt = 0;
  private crashed = false;
  private closed = false;

  /** A storage with nothing durable yet. */
  constructor(options: SimStorageOptions) {
    const max = options.persistDelayMsMax ?? 2;
    if (!Number.isSafeInteger(max) || max < 0) throw new ConfigError('SimStorage', 'persistDelayMsMax', 'must be a non-negative integer');
    this.options = options;
    const disk = reopening;
    reopening = undefined;
    this.disk = disk ?? { state: new DurableStateBuilder(), snapshot: undefined, current: undefined, counts: { persists: 0, durable: 0, lost: 0 } };
    assert(this.disk.current === undefined, `${options.node}: a storage handle is still open on this disk`);
    this.disk.current = this;
  }

  /**
   * The node's durable state: what a restart loads and what the checkers compare
   * messages against. Read-only for callers.
   */
  get durable(): DurableStateBuilder {
    return this.disk.state;
  }

  /** The durable snapshot, if any. */
  get durableSnapshot(): Snapshot | undefined {
    return this.disk.snapshot;
  }

  /** Whether writes wait to become durable. */
  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  /** Counts shared by every handle of this disk: persists asked for, made durable, lost in crashes. */
  get counts(): SimStorageCounts {
    return this.disk.counts;
  }

  /** The durable state. Never settles after a crash, like every call of a dead process. */
  load(): Promise<DurableState> {
    if (this.crashed) return never();
    if (this.closed) return Promise.reject(new ClosedError('SimStorage: load after close'));
    return Promise.resolve(this.disk.state.build());
  }

  /** Makes `batch` durable after a random delay, after every earlier write. */
  persist(batch: PersistBatch): Promise<void> {
    // The contract a real storage checks (FileStorage refuses such a batch and the node
    // stops): the simulator checks it too, so a driver breaking it fails here first.
    const problem = persistBatchProblem(batch, this.disk.state.commitIndex);
    if (problem !== undefined) throw new InvariantError(`SimStorage.persist on ${this.options.node}: ${problem}`);
    if (!this.crashed && !this.closed) this.disk.counts.persists++;
    return this.enqueue(() => {
      this.disk.state.merge(batch);
      this.disk.counts.durable++;
      this.options.onDurable?.(this.options.node, batch, this.disk.state);
    }, persistNeedsSync(batch));
  }

  /** Stores `snapshot` durably, in order with the writes. The bytes are copied. */
  saveSnapshot(snapshot: Snapshot): Promise<void> {
    const copy: Snapshot = { slot: snapshot.slot, data: snapshot.data.slice() };
    return this.enqueue(() => {
      this.disk.snapshot = copy;
      this.options.onDurableSnapshot?.(this.options.node, copy);
    });
  }

  /** The latest durable snapshot (a copy), if any. */
  loadSnapshot(): Promise<Snapshot | undefined> {
    if (this.crashed) return never();
    if (this.closed) return Promise.reject(new ClosedError('SimStorage: loadSnapshot after close'));
    const s = this.disk.snapshot;
    return Promise.resolve(s === undefined ? undefined : { slot: s.slot, data: s.data.slice() });
  }

  /** Forgets accepted and chosen entries below `slot`, durably and in order with the writes. */
  compact(slot: number): Promise<void> {
    return this.enqueue(() => {
      for (const k of [...this.disk.state.accepted.keys()]) if (k < slot) this.disk.state.accepted.delete(k);
      for (const k of [...this.disk.state.chosen.keys()]) if (k < slot) this.disk.state.chosen.delete(k);
    });
  }

  /** Waits for every queued write to be durable, then refuses further calls. */
  async close(): Promise<void> {
    if (this.crashed) return never();
    if (this.closed) return;
    const last = this.pending[this.pending.length - 1];
    if (last !== undefined) await new Promise<void>((resolve) => this.pending.push({ doneAt: last.doneAt, apply: () => {}, resolve, sync: true }));
    this.sync();
    this.closed = true;
    if (this.disk.current === this) this.disk.current = undefined;
  }

  /**
   * The process died: writes not yet durable are lost, their promises never settle,
   * and every later call on this handle hangs as well. Idempotent.
   */
  crash(): void {
    if (this.crashed) return;
    this.crashed = true;
    this.disk.counts.lost += this.pending.length + this.unsynced.length;
    this.pending = [];
    this.unsynced = [];
    if (this.timer !== undefined) this.options.clock.clearTimer(this.timer);
    this.timer = undefined;
    if (this.disk.current === this) this.disk.current = undefined;
  }

  /** A new handle on the same durable state, for the restarted node. This handle must be crashed or closed. */
  reopen(): SimStorage {
    if (!this.crashed && !this.closed)
      throw new ConfigError('SimStorage.reopen', 'this', 'must be crashed or closed first: two handles would write the same disk');
    reopening = this.disk;
    return new SimStorage(this.options);
  }

  /**
   * A crashed or closed storage's disk, erased (a lost disk, a deleted data directory):
   * a handle on an empty disk, for the same node. The counts carry on.
   */
  wipe(): SimStorage {
    if (!this.crashed && !this.closed) throw new ConfigError('SimStorage.wipe', 'this', 'must be crashed or closed first');
    this.disk.current = undefined;
    reopening = { state: new DurableStateBuilder(), snapshot: undefined, current: undefined, counts: this.disk.counts };
    return new SimStorage(this.options);
  }

  private enqueue(apply: () => void, sync = true): Promise<void> {
    if (this.crashed) return never();
    if (this.closed) return Promise.reject(new ClosedError('SimStorage: write after close'));
    const max = this.options.persistDelayMsMax ?? 2;
    const delay = sync ? Math.floor(this.options.random() * (max + 1)) : 0;
    // In call order: never durable before an earlier write.
    const doneAt = Math.max(this.options.clock.now() + delay, this.lastDoneAt);
    this.lastDoneAt = doneAt;
    return new Promise<void>((resolve) => {
      this.pending.push({ doneAt, apply, resolve, sync });
      this.arm();
    });
  }

  /** Keeps one timer, at the first pending write's time. */
  private arm(): void {
    const first = this.pending[0];
    if (first === undefined || first.doneAt >= this.timerAt) return;
    if (this.timer !== undefined) this.options.clock.clearTimer(this.timer);
    this.timerAt = first.doneAt;
    this.timer = this.options.clock.setTimer(this.complete, first.doneAt - this.options.clock.now());
  }

  private readonly complete = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.options.clock.now();
    while (this.pending.length > 0 && this.pending[0]!.doneAt <= now && !this.crashed) {
      const w = this.pending.shift()!;
      this.unsynced.push(w.apply);
      if (w.sync) this.sync();
      w.resolve();
    }
    this.arm();
  };

  /** Makes every completed write durable, in order. */
  private sync(): void {
    const writes = this.unsynced;
    this.unsynced = [];
    for (const apply of writes) apply();
  }
}

/** The disk `reopen()` hands its new handle: constructors take only public options. */
let reopening: Disk | undefined;

/** A promise that never settles: a call into a process that no longer exists. */
function never<T>(): Promise<T> {
  return new Promise<T>(() => {});
}
