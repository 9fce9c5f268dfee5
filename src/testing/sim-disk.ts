import { type ConfigurationState, type DurableState, DurableStateBuilder, type PersistBatch } from '../core/index.js';

/** A simulated snapshot: the state machine's state after applying every slot up to `slot`, and the configurations that govern after it. */
export interface SimSnapshot {
  readonly slot: number;
  readonly state: string;
  readonly configuration: ConfigurationState;
}

interface PendingWrite {
  readonly seq: number;
  readonly batch: PersistBatch;
  readonly doneAt: number;
  /** Whether completing it syncs (makes it and every earlier write durable). */
  readonly sync: boolean;
}

/**
 * A simulated disk for one node: writes complete in order, after a delay; a synced
 * write is durable when it completes, with every write before it; a crash loses every
 * write not yet durable (an unsynced write can be lost after it completed).
 */
export class SimDisk {
  private durable = new DurableStateBuilder();
  private pending: PendingWrite[] = [];
  /** Completed writes no sync covered yet, in order. */
  private unsynced: PersistBatch[] = [];
  private saved: SimSnapshot | undefined;

  /**
   * Queues a write that completes at `doneAt` (never before an earlier one). Unless
   * `sync` (see `persistNeedsSync`), completing it does not make it durable.
   */
  write(seq: number, batch: PersistBatch, doneAt: number, sync = true): void {
    const last = this.pending[this.pending.length - 1];
    this.pending.push({ seq, batch, doneAt: last !== undefined ? Math.max(doneAt, last.doneAt) : doneAt, sync });
  }

  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  /** The seq of the newest write not yet durable, or undefined. */
  get lastPendingSeq(): number | undefined {
    return this.pending[this.pending.length - 1]?.seq;
  }

  /** Makes the next due write durable and returns it, or undefined if none is due at `now`. */
  completeNext(now: number): PendingWrite | undefined {
    const next = this.pending[0];
    if (next === undefined || next.doneAt > now) return undefined;
    this.pending.shift();
    this.unsynced.push(next.batch);
    if (next.sync) this.sync();
    return next;
  }

  private sync(): void {
    for (const batch of this.unsynced) this.durable.merge(batch);
    this.unsynced = [];
  }

  /**
   * Saves `snapshot` durably at once (snapshots are written apart from the log), unless
   * the one saved is as recent; then forgets the durable entries the snapshot covers
   * below `compactBelow` (a storage's `compact`).
   */
  saveSnapshot(snapshot: SimSnapshot, compactBelow: number): void {
    this.sync();
    if (this.saved === undefined || snapshot.slot > this.saved.slot) this.saved = snapshot;
    const below = Math.min(compactBelow, this.saved.slot + 1);
    for (const slot of this.durable.accepted.keys()) if (slot < below) this.durable.accepted.delete(slot);
    for (const slot of this.durable.chosen.keys()) if (slot < below) this.durable.chosen.delete(slot);
  }

  /** The latest snapshot saved, if any. */
  get snapshot(): SimSnapshot | undefined {
    return this.saved;
  }

  /**
   * A crash: writes not yet complete are gone, and so are completed writes no sync
   * covered, unless `keepUnsynced` (the process died but the machine did not: the
   * operating system still writes out what it was handed).
   */
  crash(keepUnsynced = false): void {
    if (keepUnsynced) this.sync();
    this.pending = [];
    this.unsynced = [];
  }

  /** The durable state, what a restart loads. */
  load(): DurableState {
    return this.durable.build();
  }

  /** Read access to the durable state, for the checkers. */
  get state(): DurableStateBuilder {
    return this.durable;
  }
}
