import { type DurableState, DurableStateBuilder, ConfigError, InvariantError, type PersistBatch } from '../core/index.js';
import { persistBatchProblem } from '../core/durable-state.js';
import { ClosedError } from '../runtime/errors.js';
import type { Snapshot, Storage } from '../runtime/storage.js';

/** Counters of a {@link MemoryStorage}, shared by every handle of the same data. */
export interface MemoryStorageStats {
  /** Persists that resolved (failed or refused ones are not counted). */
  readonly persists: number;
}

/** The "disk" behind every handle that {@link MemoryStorage.reopen} hands out. */
interface MemoryDisk {
  readonly state: DurableStateBuilder;
  snapshot: Snapshot | undefined;
  /** The handle allowed to use the disk; undefined once it closed. */
  openHandle: MemoryStorage | undefined;
  /** Writes still to fail, and with what (see {@link MemoryStorage.failNextPersists}). */
  faults: { remaining: number; error: Error };
  readonly stats: { persists: number };
}

/**
 * A {@link Storage} kept in memory, for tests and simulations: the durable state
 * (merged as {@link DurableStateBuilder} does) and the latest snapshot.
 *
 * The data outlives a handle: to model a restart, `close()` the handle and pass
 * `reopen()`'s new handle to the restarted node, which then loads everything that was
 * persisted. Persists apply in call order and resolve on a later microtask, never
 * synchronously. Accepted and chosen records are kept by reference, as the core hands
 * them over (it never mutates them); snapshot bytes are copied in and out.
 *
 * A malformed batch is a driver bug: it rejects with {@link InvariantError}. After
 * `close()` every call rejects with {@link ClosedError}.
 *
 * @example
 * ```ts
 * const storage = new MemoryStorage();
 * await storage.persist({ promised: { round: 1, node: 'a' }, accepted: [], chosen: [], commitIndex: 0 });
 * await storage.close();
 * const again = storage.reopen(); // a restarted node's handle
 * (await again.load()).promised; // { round: 1, node: 'a' }
 * ```
 */
export class MemoryStorage implements Storage {
  private disk: MemoryDisk;
  private closed = false;
  /** Set by the first failed or refused write: this handle then fails every later write. */
  private failure: Error | undefined;

  /** A storage with nothing persisted and no snapshot. */
  constructor() {
    this.disk = {
      state: new DurableStateBuilder(),
      snapshot: undefined,
      openHandle: this,
      faults: { remaining: 0, error: eio() },
      stats: { persists: 0 },
    };
  }

  /**
   * Counters, shared by every handle of this data.
   *
   * @example
   * ```ts
   * await storage.persist({ accepted: [], chosen: [] });
   * storage.stats.persists; // 1
   * ```
   */
  get stats(): MemoryStorageStats {
    return this.disk.stats;
  }

  /**
   * A new open handle on the same data, as a restarted node would get. Only allowed
   * once this handle and every other handle of the data is closed: two open handles
   * would write the same data.
   *
   * @throws {@link InvariantError} if a handle of this data is still open.
   * @example
   * ```ts
   * await node.close(); // closes its storage
   * const restarted = createNode({ ...options, storage: storage.reopen() });
   * ```
   */
  reopen(): MemoryStorage {
    if (this.disk.openHandle !== undefined) {
      throw new InvariantError('MemoryStorage.reopen: a handle of this storage is still open; close it first');
    }
    const handle = new MemoryStorage();
    handle.disk = this.disk;
    this.disk.openHandle = handle;
    return handle;
  }

  /**
   * Makes the next `count` persists fail, as a broken disk would (default error: an
   * `Error` with `code` `'EIO'`). The count belongs to the data, not the handle: it
   * counts writes that reach the disk, so with `count` 2 a handle fails, is reopened,
   * and its first persist fails again.
   *
   * A handle whose persist failed fails closed: every later write on it rejects with
   * the same error until a restart (`reopen()`). A failed fsync cannot be retried as
   * if it had succeeded (the kernel may have dropped the dirty pages), so no later
   * write may resolve and let the node report state that is not durable. A failed
   * batch is not applied (all of it or none).
   *
   * @param count - how many persists fail; a non-negative integer (0 cancels).
   * @example
   * ```ts
   * storage.failNextPersists(1);
   * await storage.persist(batch); // rejects: Error, code 'EIO'
   * ```
   */
  failNextPersists(count: number, error: Error = eio()): void {
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new ConfigError('MemoryStorage.failNextPersists', 'count', `must be a non-negative integer, got ${count}`);
    }
    this.disk.faults = { remaining: count, error };
  }

  /** {@inheritDoc Storage.load} */
  async load(): Promise<DurableState> {
    this.checkOpen('load');
    await settle();
    return this.disk.state.build();
  }

  /**
   * {@inheritDoc Storage.persist}
   *
   * @throws {@link InvariantError} (rejects) if the batch is malformed: `accepted` or
   * `chosen` missing, slots not positive integers increasing within each list, or a
   * commit index below the stored one.
   */
  async persist(batch: PersistBatch): Promise<void> {
    // Everything up to the first await runs at call time: that is what keeps call order.
    this.checkWritable('persist');
    try {
      checkBatch(batch, this.disk.state.commitIndex);
    } catch (error) {
      this.failure = error as Error;
      throw error;
    }
    const faults = this.disk.faults;
    if (faults.remaining > 0) {
      faults.remaining--;
      this.failure = faults.error;
      throw faults.error;
    }
    this.disk.state.merge(batch);
    await settle();
    this.disk.stats.persists++;
  }

  /** {@inheritDoc Storage.saveSnapshot} The bytes are copied. */
  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    this.checkWritable('saveSnapshot');
    if (!Number.isSafeInteger(snapshot.slot) || snapshot.slot < 0) {
      throw new InvariantError(`MemoryStorage.saveSnapshot: slot must be a non-negative integer, got ${snapshot.slot}`);
    }
    if (!(snapshot.data instanceof Uint8Array)) throw new InvariantError('MemoryStorage.saveSnapshot: data must be a Uint8Array');
    this.disk.snapshot = { slot: snapshot.slot, data: snapshot.data.slice() };
    await settle();
  }

  /** {@inheritDoc Storage.loadSnapshot} A copy: changing it changes nothing stored. */
  async loadSnapshot(): Promise<Snapshot | undefined> {
    this.checkOpen('loadSnapshot');
    const snapshot = this.disk.snapshot;
    await settle();
    return snapshot === undefined ? undefined : { slot: snapshot.slot, data: snapshot.data.slice() };
  }

  /**
   * {@inheritDoc Storage.compact}
   *
   * Only what a saved snapshot covers may go: it rejects with {@link InvariantError}
   * unless the snapshot's slot is at least `slot - 1`. The commit index stays.
   */
  async compact(slot: number): Promise<void> {
    this.checkWritable('compact');
    if (!Number.isSafeInteger(slot) || slot < 1) {
      throw new InvariantError(`MemoryStorage.compact: slot must be a positive integer, got ${slot}`);
    }
    // An empty state covers slot 0, so compact(1) (forget nothing) needs no snapshot.
    const covered = this.disk.snapshot?.slot ?? 0;
    if (covered < slot - 1) {
      throw new InvariantError(`MemoryStorage.compact: cannot forget entries below slot ${slot}: the snapshot covers slots up to ${covered} only`);
    }
    const { accepted, chosen } = this.disk.state;
    for (const s of accepted.keys()) if (s < slot) accepted.delete(s);
    for (const s of chosen.keys()) if (s < slot) chosen.delete(s);
    await settle();
  }

  /** {@inheritDoc Storage.close} The data stays, for {@link MemoryStorage.reopen}. */
  async close(): Promise<void> {
    this.checkOpen('close');
    this.closed = true;
    if (this.disk.openHandle === this) this.disk.openHandle = undefined;
    await settle();
  }

  private checkOpen(api: string): void {
    if (this.closed) throw new ClosedError(`MemoryStorage.${api}: the storage is closed`);
  }

  private checkWritable(api: string): void {
    this.checkOpen(api);
    if (this.failure !== undefined) throw this.failure;
  }
}

/** Checks what the merge relies on; a failure is a bug in the driver. */
function checkBatch(batch: PersistBatch, storedCommitIndex: number): void {
  const problem = persistBatchProblem(batch, storedCommitIndex);
  if (problem !== undefined) throw new InvariantError(`MemoryStorage.persist: ${problem}`);
}

/** The error a broken disk reports by default. */
function eio(): Error {
  return Object.assign(new Error('MemoryStorage: injected write failure'), { code: 'EIO' });
}

/** Lets a microtask pass, so no call resolves synchronously with its caller. */
function settle(): Promise<void> {
  return Promise.resolve();
}
