import { type DurableState, DurableStateBuilder, type PersistBatch } from '../core/index.js';

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
