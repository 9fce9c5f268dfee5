import type { DurableState, PersistBatch } from '../core/index.js';

/** A state machine snapshot, and the last slot it includes. */
export interface Snapshot {
  /** Every slot up to and including this one is reflected in `data`. */
  readonly slot: number;
  /** The state machine's (and the runtime's) state, opaque to the storage. */
  readonly data: Uint8Array;
}

/**
 * The stored snapshot, read a piece at a time: what a storage that can stream gives to
 * send a large snapshot without holding it in memory (see {@link Storage.openSnapshot}).
 */
export interface SnapshotReader {
  /** Every slot up to and including this one is reflected in the data. */
  readonly slot: number;
  /** The data's length in bytes. */
  readonly byteLength: number;
  /**
   * `length` bytes of the data from `offset` (within `byteLength`), as saved. A storage
   * that checks a checksum of the whole rejects the read that reaches the end, with
   * the reason, if the data read on the way does not match it: the last piece of a
   * damaged snapshot is never handed out.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Optional: the CRC-32 (IEEE, as `zlib.crc32` computes it over the data alone) of the
   * data as it was saved, for a reader opened with `checkedByCaller` (see
   * {@link OpenSnapshotOptions}); a storage that keeps no such checksum leaves it out.
   */
  readonly dataCrc32?: number;
  /** Releases the reader; later reads reject. */
  close(): Promise<void>;
}

/** How {@link Storage.openSnapshot} opens a snapshot. */
export interface OpenSnapshotOptions {
  /**
   * The caller computes the CRC-32 of every byte it reads, front to back, and compares
   * it with the reader's {@link SnapshotReader.dataCrc32} before it trusts the last
   * piece: a reader that offers `dataCrc32` may then skip its own check (one pass over
   * the bytes instead of two). A reader without `dataCrc32` checks as it would.
   * Default false.
   */
  readonly checkedByCaller?: boolean;
}

/** How {@link Storage.createSnapshot} writes a snapshot. */
export interface CreateSnapshotOptions {
  /**
   * The caller gives the data's CRC-32 (IEEE, over the data alone) to
   * {@link SnapshotWriter.commit}, having computed it on the bytes it wrote: the storage
   * may keep that one rather than compute its own (one pass over the bytes instead of
   * two). Default false.
   */
  readonly dataCrc32ByCaller?: boolean;
}

/**
 * A snapshot being written a piece at a time, as it arrives from a peer or as the
 * runtime writes its own (see {@link Storage.createSnapshot}). Nothing of it is visible
 * before {@link commit}.
 */
export interface SnapshotWriter {
  /** Appends the next bytes of the data, in order. The caller leaves `bytes` unchanged until the promise settles. */
  write(bytes: Uint8Array): Promise<void>;
  /**
   * Replaces the stored snapshot with this one, atomically and durably, as
   * {@link Storage.saveSnapshot} would, in call order with the storage's other writes.
   * Rejects unless exactly the announced number of bytes was written. `dataCrc32`: the
   * data's CRC-32, from a caller that created the writer with `dataCrc32ByCaller`
   * (others ignore it).
   */
  commit(dataCrc32?: number): Promise<void>;
  /** Drops what was written; the stored snapshot stays as it was. */
  abort(): Promise<void>;
}

/**
 * Where a node keeps what must survive a crash: the acceptor's promise, accepted and
 * chosen log entries, the commit index, and snapshots. Slots are absolute, from 1.
 *
 * Contract, checked by `storageConformance` in `synod/testing`:
 * - `persist` applies one batch atomically (all of it or none after a crash) and in
 *   call order; its promise resolves only once the batch is durable (the adapter owns
 *   fsync). The runtime sends nothing that reports a batch's state before that.
 *   Exception: a batch that `persistNeedsSync` says needs no sync (learner state
 *   only) may resolve once written in order; a crash may lose it, but only together with
 *   every later batch, and the next synced batch makes it durable too (a log's prefix).
 * - Batches merge as {@link DurableStateBuilder.merge} does: a new promise, accepted or
 *   chosen entry replaces the one of the same slot, the commit index only moves on.
 * - `load` returns what every resolved `persist` wrote (and maybe later ones).
 * - Snapshots are kept apart from the log: `saveSnapshot` replaces the previous one
 *   atomically; `compact(slot)` then forgets accepted and chosen entries below `slot`,
 *   and rejects, forgetting nothing, unless the saved snapshot covers `slot - 1`.
 * - A failed write rejects, and the storage fails closed: no later write may resolve
 *   as if the failed one had succeeded.
 *
 * @example
 * ```ts
 * const storage = new MemoryStorage();
 * await storage.persist({ promised: { round: 1, node: 'a' }, accepted: [], chosen: [] });
 * const state = await storage.load(); // state.promised is { round: 1, node: 'a' }
 * ```
 */
export interface Storage {
  /** What was persisted before: the node's restart point. A new storage returns the empty state. */
  load(): Promise<DurableState>;
  /** Makes `batch` durable, atomically and after every earlier batch. */
  persist(batch: PersistBatch): Promise<void>;
  /**
   * Stores `snapshot` atomically, replacing the previous one. The caller leaves
   * `snapshot.data` unchanged until the promise settles (the runtime never changes a
   * snapshot's bytes), so a storage may write it without copying it first; it must not
   * keep a reference to it after that.
   */
  saveSnapshot(snapshot: Snapshot): Promise<void>;
  /** The latest snapshot saved, if any. */
  loadSnapshot(): Promise<Snapshot | undefined>;
  /**
   * Optional: the latest snapshot saved, to read a piece at a time (undefined if none).
   * The reader sees that snapshot even if a later save replaces it meanwhile. Without
   * it, the runtime loads a snapshot whole to send it.
   */
  openSnapshot?(options?: OpenSnapshotOptions): Promise<SnapshotReader | undefined>;
  /**
   * Optional: starts writing the snapshot of `slot`, of `byteLength` bytes, a piece at a
   * time; it replaces the stored one when committed. At most one is open at a time:
   * creating another aborts the first, or, if the first's commit was called and has not
   * finished, lets that commit finish whole first (the runtime starts the next
   * transfer's writer without waiting for the last commit). The runtime writes its own
   * scheduled snapshots this way too, never while a peer's is being written. Without
   * it, the runtime assembles a snapshot sent by a peer in memory and saves it whole,
   * and copies its own into one buffer to save it whole.
   */
  createSnapshot?(slot: number, byteLength: number, options?: CreateSnapshotOptions): SnapshotWriter;
  /** Forgets accepted and chosen entries below `slot`; rejects unless the saved snapshot covers `slot - 1`. */
  compact(slot: number): Promise<void>;
  /** Flushes and releases the storage. Later calls reject. */
  close(): Promise<void>;
}
