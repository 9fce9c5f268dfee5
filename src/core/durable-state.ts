import { type Ballot, ballotZero } from './ballot.js';
import type { AcceptedEntry, ChosenEntry } from './entries.js';

/**
 * What a replica needs to be durable, written as one atomic batch. Later batches
 * override earlier ones field by field; accepted and chosen entries replace the
 * entry of the same slot.
 */
export interface PersistBatch {
  /** The promised ballot, if it changed. Its round is the highest round this node used or promised. */
  readonly promised?: Ballot;
  /** Newly accepted values (in slot order). */
  readonly accepted: readonly AcceptedEntry[];
  /** Chosen values learned from other replicas (in slot order). */
  readonly chosen: readonly ChosenEntry[];
  /** The commit index, if it advanced. */
  readonly commitIndex?: number;
}

/**
 * Whether `batch` must be durable before its persist resolves. A batch with no
 * promise, no accepted entry and no chosen value holds only the commit index: the
 * replica learns it again from its peers after a crash, so a storage may resolve such
 * a persist once it is written in order, and make it durable with the next batch that
 * needs a sync (as etcd's raft syncs only for new entries or a new vote). Chosen values
 * learned by catch-up are synced: a replica's answer that it holds every slot up to its
 * commit index is what lets a new configuration take over from the old one. A storage
 * that syncs every batch is correct too, only slower.
 *
 * @example
 * ```ts
 * persistNeedsSync({ accepted: [], chosen: [], commitIndex: 7 }); // false
 * ```
 */
export function persistNeedsSync(batch: PersistBatch): boolean {
  return batch.promised !== undefined || batch.accepted.length > 0 || batch.chosen.length > 0;
}

/** Everything a replica persisted: what it restarts from. */
export interface DurableState {
  readonly promised: Ballot;
  /** The highest-slot-wins set of accepted entries, in slot order. */
  readonly accepted: readonly AcceptedEntry[];
  readonly chosen: readonly ChosenEntry[];
  readonly commitIndex: number;
}

/** The state of a replica that has never persisted anything. */
export const emptyDurableState: DurableState = Object.freeze({
  promised: ballotZero,
  accepted: [],
  chosen: [],
  commitIndex: 0,
});

/**
 * A durable state kept as maps, with batches merged in: the reference semantics of a
 * Storage, used by in-memory storages and the simulator's disk.
 */
export class DurableStateBuilder {
  promised: Ballot = ballotZero;
  commitIndex = 0;
  readonly accepted = new Map<number, AcceptedEntry>();
  readonly chosen = new Map<number, ChosenEntry>();

  static from(state: DurableState): DurableStateBuilder {
    const b = new DurableStateBuilder();
    b.promised = state.promised;
    b.commitIndex = state.commitIndex;
    for (const e of state.accepted) b.accepted.set(e.slot, e);
    for (const e of state.chosen) b.chosen.set(e.slot, e);
    return b;
  }

  merge(batch: PersistBatch): void {
    if (batch.promised !== undefined) this.promised = batch.promised;
    for (const e of batch.accepted) this.accepted.set(e.slot, e);
    for (const e of batch.chosen) this.chosen.set(e.slot, e);
    if (batch.commitIndex !== undefined) this.commitIndex = batch.commitIndex;
  }

  build(): DurableState {
    const bySlot = <T extends { slot: number }>(m: Map<number, T>): T[] => [...m.values()].sort((a, b) => a.slot - b.slot);
    return { promised: this.promised, accepted: bySlot(this.accepted), chosen: bySlot(this.chosen), commitIndex: this.commitIndex };
  }
}

/**
 * Why `batch` breaks the PersistBatch contract a storage relies on (both lists arrays
 * of positive integer slots, strictly increasing; a commit index a non-negative
 * integer, never below the stored one), or undefined. Every storage checks it and
 * refuses the batch with an InvariantError: it is a bug in the driver. @internal
 */
export function persistBatchProblem(batch: PersistBatch, storedCommitIndex: number): string | undefined {
  for (const list of ['accepted', 'chosen'] as const) {
    const entries: unknown = batch[list];
    if (!Array.isArray(entries)) return `batch.${list} must be an array`;
    let previous = 0;
    for (const { slot } of entries as readonly { readonly slot: number }[]) {
      if (!Number.isSafeInteger(slot) || slot < 1) return `${list} slot ${slot} is not a positive integer`;
      if (slot <= previous) return `${list} slot ${slot} follows slot ${previous}; slots must increase`;
      previous = slot;
    }
  }
  const { commitIndex } = batch;
  if (commitIndex !== undefined) {
    if (!Number.isSafeInteger(commitIndex) || commitIndex < 0) return `commitIndex must be a non-negative integer, got ${commitIndex}`;
    if (commitIndex < storedCommitIndex) return `commitIndex ${commitIndex} is below the stored ${storedCommitIndex}`;
  }
  return undefined;
}

/**
 * One batch with the effect of `batches` applied in order: how a driver writes several
 * outputs' state with one storage write (group commit).
 */
export function mergePersistBatches(batches: readonly PersistBatch[]): PersistBatch {
  if (batches.length === 1) return batches[0]!;
  const b = new DurableStateBuilder();
  let promised: Ballot | undefined;
  let commitIndex: number | undefined;
  for (const batch of batches) {
    if (batch.promised !== undefined) promised = batch.promised;
    if (batch.commitIndex !== undefined) commitIndex = batch.commitIndex;
    b.merge({ accepted: batch.accepted, chosen: batch.chosen });
  }
  const { accepted, chosen } = b.build();
  return {
    ...(promised !== undefined ? { promised } : {}),
    accepted,
    chosen,
    ...(commitIndex !== undefined ? { commitIndex } : {}),
  };
}
