import { type DurableState, DurableStateBuilder, type PersistBatch } from '../core/index.js';

/** A simulated snapshot: the state machine's state after applying every slot up to `slot`. */
export interface SimSnapshot {
  readonly slot: number;
  readonly state: string;
}

interface PendingWrite {
  readonly seq: number;
  readonly batch: PersistBatch;
  readonly doneAt: number;
}

/**
 * A simulated disk for one node: writes become durable in order, after a delay; a
 * crash loses every write not yet durable.
 */
export class SimDisk {
  private durable = new DurableStateBuilder();
  private pending: PendingWrite[] = [];
  private saved: SimSnapshot | undefined;

  /** Queues a write that becomes durable at `doneAt` (never before an earlier one). */
  write(seq: number, batch: PersistBatch, doneAt: number): void {
    const last = this.pending[this.pending.length - 1];
    this.pending.push({ seq, batch, doneAt: last !== undefined ? Math.max(doneAt, last.doneAt) : doneAt });
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
    this.durable.merge(next.batch);
    return next;
  }

  /**
   * Saves `snapshot` durably at once (snapshots are written apart from the log), unless
   * the one saved is as recent; then forgets the durable entries the snapshot covers
   * below `compactBelow` (a storage's `compact`).
   */
  saveSnapshot(snapshot: SimSnapshot, compactBelow: number): void {
    if (this.saved === undefined || snapshot.slot > this.saved.slot) this.saved = snapshot;
    const below = Math.min(compactBelow, this.saved.slot + 1);
    for (const slot of this.durable.accepted.keys()) if (slot < below) this.durable.accepted.delete(slot);
    for (const slot of this.durable.chosen.keys()) if (slot < below) this.durable.chosen.delete(slot);
  }

  /** The latest snapshot saved, if any. */
  get snapshot(): SimSnapshot | undefined {
    return this.saved;
  }

  /** A crash: unsynced writes are gone. */
  crash(): void {
    this.pending = [];
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
