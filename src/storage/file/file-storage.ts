/**
 * A durable {@link Storage} in a directory of files: a write-ahead log with group
 * commit, a snapshot file, and a lock file. Node-only.
 */
import { dirname, resolve } from 'node:path';
import { ConfigError, type DurableState, DurableStateBuilder, InvariantError, type PersistBatch } from '../../core/index.js';
import { persistBatchProblem } from '../../core/durable-state.js';
import { ClosedError } from '../../runtime/errors.js';
import type { CreateSnapshotOptions, OpenSnapshotOptions, Snapshot, SnapshotReader, SnapshotWriter, Storage } from '../../runtime/storage.js';
import { type FileSystem, hasCode, nodeFileSystem, syncDirectory } from './file-system.js';
import { bindClusterId, clusterIdBytesMax } from './cluster-id-file.js';
import { LockFile } from './lock-file.js';
import { RecordType, encodeBatch, encodeRecord } from './record.js';
import { SnapshotReads } from './snapshot-reads.js';
import { SnapshotFileWriter, checkSnapshot, openSnapshotFile, readSnapshotFile, writeSnapshotFile } from './snapshot-file.js';
import { Wal, type WalOptions, durableStateReplay } from './wal.js';
import { type QueuedPersist, WriteQueue } from './write-queue.js';

export { unwrittenBytesMax } from './write-queue.js';

/** Options of {@link FileStorage.open}. */
export interface FileStorageOptions {
  /**
   * A log segment that reached this size, in bytes, is closed and the next write
   * starts a new one. Default 64 MiB. A single record may make a segment larger.
   */
  readonly segmentBytesMax?: number;
  /**
   * Zeros written ahead of the log's last record, in bytes, so that a synced append
   * overwrites space the file has and its fdatasync does not also commit a new file
   * size (a journal write on ext4 and XFS). Default 1 MiB; 0 turns it off. Written and
   * synced beside the appends, a chunk at a time, never past `segmentBytesMax`; cut off
   * again on close.
   */
  readonly preallocateBytes?: number;
  /**
   * Whether small log appends (up to 256 KiB, the usual case) are written and
   * fdatasynced with synchronous system calls on the event loop rather than through
   * libuv's thread pool. Default true: on a quick disk one blocking fdatasync (about
   * 0.1-0.2 ms) costs less than the two thread-pool trips it replaces, in latency and in
   * CPU. A sync slower than 10 ms (a slow or overloaded disk) turns it off for a second,
   * so a sick disk does not freeze the event loop again and again. Set false to never
   * block the event loop on the disk. Used only with a file system whose handles have
   * `writeSync` and `datasyncSync` ({@link nodeFileSystem} does).
   */
  readonly syncOnEventLoop?: boolean;
  /**
   * Told about repairs made while opening (a torn tail truncated after a crash).
   * Default: ignore them.
   */
  readonly onWarning?: (message: string) => void;
  /** The file system to use. Default {@link nodeFileSystem}; tests wrap it to inject faults. */
  readonly fs?: FileSystem;
  /**
   * The cluster this directory belongs to. The first open that names one records it in
   * the file `cluster-id`; an open that names another is refused with
   * {@link ClusterMismatchError} before anything is read, so one cluster's data is never
   * served in another (an old cluster's member joining a restored one). A directory
   * that records no cluster yet (one written before synod recorded them) takes the
   * first it is opened for. At most 255 UTF-8 bytes. Default: no check.
   */
  readonly clusterId?: string;
}

/** Counters of a {@link FileStorage}, since it was opened. */
export interface FileStorageStats {
  /** Persists that resolved. */
  readonly persists: number;
  /** fdatasyncs of the log that made persists durable; `persists / fsyncs` is the group-commit factor. */
  readonly fsyncs: number;
}

/** Default of {@link FileStorageOptions.segmentBytesMax}: 64 MiB. */
export const segmentBytesMaxDefault = 64 * 1024 * 1024;
/** Default of {@link FileStorageOptions.preallocateBytes}: 1 MiB. */
export const preallocateBytesDefault = 1024 * 1024;

/**
 * A {@link Storage} that keeps its data in files in one directory, for production use.
 *
 * - `persist` appends one record to a write-ahead log and resolves after an
 *   `fdatasync`. Persists issued while a sync is in flight are written together and
 *   share the next sync (group commit); they resolve in call order. {@link stats}
 *   shows the effect. A batch of learner state only (`persistNeedsSync` is false)
 *   resolves at once: it waits in memory (up to {@link unwrittenBytesMax}) and goes
 *   with the next write, whose sync (or `close`) makes it durable.
 * - Snapshots are written to `snapshot.tmp`, synced and renamed over `snapshot`.
 * - `compact(slot)` writes the remaining state as a base record into a fresh log
 *   segment and deletes the older segments.
 * - Opening replays the log; a torn tail (the last record of the last segment, cut by
 *   a crash) is truncated and reported to `onWarning`; damage anywhere else refuses to
 *   open with {@link CorruptionError}.
 * - A failed write or sync fails the storage closed: that call and every later write
 *   reject with {@link StorageFailedError}; reopening recovers what was durable.
 * - A lock file `LOCK` with the owner's pid keeps a second process (or a second open
 *   in this one) out: {@link LockedError}. A crashed owner's lock is taken over.
 *
 * @example
 * ```ts
 * const storage = await FileStorage.open('/var/lib/synod/n1');
 * await storage.persist({ promised: { round: 1, node: 'n1' }, accepted: [], chosen: [] });
 * await storage.close();
 * ```
 */
export class FileStorage implements Storage {
  /** The log's writes, in call order; its failure is the storage's. */
  private readonly queue: WriteQueue<QueuedPersist>;
  private closed = false;
  /** The commit index of the last persist called, to check the next one against. */
  private commitIndexCalled: number;
  /** Snapshot reads under way and readers open (they do not wait in the queue): close waits for and closes them. */
  private readonly reads = new SnapshotReads();
  /** The snapshot being streamed in, if any. */
  private incoming: SnapshotFileWriter | undefined;

  private constructor(
    private readonly fs: FileSystem,
    /** The data directory. */
    readonly dir: string,
    private readonly lock: LockFile,
    private readonly wal: Wal,
    /** The state every synced record adds up to. */
    private readonly state: DurableStateBuilder,
    /** The slot of the saved snapshot, if any. */
    private snapshotSlot: number | undefined,
    /**
     * The snapshot `open` read and checked, handed to the first {@link loadSnapshot}
     * (a start reads it right after opening) rather than read and checked again; dropped
     * then, or by a save.
     */
    private openedSnapshot: Snapshot | undefined,
  ) {
    this.commitIndexCalled = state.commitIndex;
    this.queue = new WriteQueue('FileStorage', {
      append: (records, sync) => wal.append(records, sync),
      persisted: (persists) => {
        for (const p of persists) state.merge(p.batch);
      },
    });
  }

  /**
   * Opens (creating it if missing) the data directory `dir`: takes its lock, then
   * replays the snapshot and the log. A directory it creates is made durable in its
   * parent (and so is each parent it creates) before it resolves.
   *
   * @throws {@link LockedError} if another live process (or another open handle in this
   *   process) holds the directory.
   * @throws {@link CorruptionError} if a file is damaged other than at the log's tail,
   *   or of an unknown format version.
   * @throws {@link ClusterMismatchError} if the directory belongs to another cluster
   *   than `options.clusterId`.
   * @throws {@link ConfigError} if an option is out of range.
   */
  static async open(dir: string, options: FileStorageOptions = {}): Promise<FileStorage> {
    const { fs, clusterId, walOptions } = checkDataDirOptions('FileStorage.open', dir, options);
    await createDirectory(fs, dir);
    const lock = await LockFile.acquire(fs, dir);
    try {
      if (clusterId !== undefined) await bindClusterId(fs, dir, clusterId);
      const snapshot = await readSnapshotFile(fs, dir, { removeTemp: true });
      const state = new DurableStateBuilder();
      const wal = await Wal.open(fs, dir, durableStateReplay(state), walOptions);
      return new FileStorage(fs, dir, lock, wal, state, snapshot?.slot, snapshot);
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  /**
   * Counters since the storage was opened.
   *
   * @example
   * ```ts
   * await Promise.all(batches.map((b) => storage.persist(b)));
   * storage.stats.persists / storage.stats.fsyncs; // persists per fsync
   * ```
   */
  get stats(): FileStorageStats {
    return this.queue.stats;
  }

  /** How many log segment files the directory holds. @internal */
  get segmentCount(): number {
    return this.wal.segmentCount;
  }

  /** {@inheritDoc Storage.load} It includes every persist called before it that succeeded. */
  load(): Promise<DurableState> {
    return this.enqueueTask('load', false, async () => this.state.build());
  }

  /**
   * {@inheritDoc Storage.persist}
   *
   * @throws {@link StorageFailedError} (rejects) if the write or its sync failed, or
   *   an earlier one did.
   * @throws {@link InvariantError} (rejects) if the batch is malformed: slots not
   *   positive integers increasing within each list, a commit index below the stored one.
   */
  persist(batch: PersistBatch): Promise<void> {
    try {
      // Everything up to the enqueue runs at call time: that is what keeps call order.
      this.checkWritable('persist');
      checkBatch(batch, this.commitIndexCalled);
      const record = encodeRecord(RecordType.batch, encodeBatch(batch));
      if (batch.commitIndex !== undefined) this.commitIndexCalled = batch.commitIndex;
      return this.queue.persist({ batch, record });
    } catch (error) {
      if (error instanceof InvariantError) this.queue.failWith(error);
      return Promise.reject(error);
    }
  }

  /**
   * {@inheritDoc Storage.saveSnapshot} Durable when it resolves. The data is written from
   * `snapshot.data` itself, without a copy.
   */
  saveSnapshot(snapshot: Snapshot): Promise<void> {
    this.openedSnapshot = undefined;
    try {
      this.checkWritable('saveSnapshot');
      checkSnapshot(snapshot);
    } catch (error) {
      return Promise.reject(error);
    }
    const { slot, data } = snapshot;
    return this.enqueueTask('saveSnapshot', true, async () => {
      // Learner-only batches called before this save may still wait in memory: they go
      // to disk first, so what survives a crash is always a prefix of the calls (a
      // snapshot on disk never runs ahead of the batches called before it).
      await this.queue.flush();
      await writeSnapshotFile(this.fs, this.dir, { slot, data });
      this.snapshotSlot = slot;
    });
  }

  /**
   * {@inheritDoc Storage.loadSnapshot} Read from the file: a fresh copy. Not queued behind
   * the log's writes, which a large snapshot's read would hold up (a leader loads one to
   * send it while it serves writes): it reads the file the last completed save left (a
   * save replaces it with an atomic rename).
   */
  loadSnapshot(): Promise<Snapshot | undefined> {
    if (this.closed) return Promise.reject(new ClosedError('FileStorage.loadSnapshot: the storage is closed'));
    const opened = this.openedSnapshot;
    if (opened !== undefined) {
      this.openedSnapshot = undefined;
      return Promise.resolve(opened);
    }
    return this.reads.track(readSnapshotFile(this.fs, this.dir, { removeTemp: false }));
  }

  /**
   * {@inheritDoc Storage.openSnapshot} Not queued behind the log's writes (see
   * {@link loadSnapshot}); the header is checked when it opens, the CRC by the read that
   * reaches the end ({@link CorruptionError} if the file is damaged), unless the caller
   * checks it (`checkedByCaller`: the reader then offers the data's CRC-32 as
   * `dataCrc32`, and still refuses a file with bytes after the data). `close` closes it.
   */
  openSnapshot(options: OpenSnapshotOptions = {}): Promise<SnapshotReader | undefined> {
    if (this.closed) return Promise.reject(new ClosedError('FileStorage.openSnapshot: the storage is closed'));
    return this.reads.open(openSnapshotFile(this.fs, this.dir, options.checkedByCaller === true));
  }

  /**
   * {@inheritDoc Storage.createSnapshot} The data goes to `snapshot.incoming` as it is
   * written, synced now and then; the commit (in call order with the other writes)
   * writes the header, syncs and renames it over `snapshot`. With `dataCrc32ByCaller`,
   * the header's CRC comes from the one given to `commit` (the writes compute none).
   *
   * @throws {@link InvariantError} if `slot` or `byteLength` is not a non-negative integer, or `byteLength` is over 4 GiB.
   * @throws {@link ClosedError} if the storage is closed.
   */
  createSnapshot(slot: number, byteLength: number, options: CreateSnapshotOptions = {}): SnapshotWriter {
    this.openedSnapshot = undefined;
    this.checkWritable('createSnapshot');
    if (!Number.isSafeInteger(slot) || slot < 0) throw new InvariantError(`FileStorage.createSnapshot: slot must be a non-negative integer, got ${slot}`);
    if (!Number.isSafeInteger(byteLength) || byteLength < 0 || byteLength > 0xffffffff) {
      throw new InvariantError(`FileStorage.createSnapshot: byteLength must be an integer from 0 to 4 GiB, got ${byteLength}`);
    }
    // The one before is removed before this one creates the same file.
    const previous = this.incoming?.abort() ?? Promise.resolve();
    const writer = new SnapshotFileWriter(this.fs, this.dir, slot, byteLength, options.dataCrc32ByCaller === true, previous, (run) =>
      this.enqueueTask('saveSnapshot', true, async () => {
        await this.queue.flush();
        await run();
        this.snapshotSlot = slot;
        if (this.incoming === writer) this.incoming = undefined;
      }),
    );
    this.incoming = writer;
    return writer;
  }

  /**
   * {@inheritDoc Storage.compact}
   *
   * Only what a saved snapshot covers may go: it rejects with {@link InvariantError}
   * unless the snapshot's slot is at least `slot - 1`. The commit index stays.
   */
  compact(slot: number): Promise<void> {
    try {
      this.checkWritable('compact');
      if (!Number.isSafeInteger(slot) || slot < 1) throw new InvariantError(`FileStorage.compact: slot must be a positive integer, got ${slot}`);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.enqueueTask('compact', true, async () => {
      // An empty state covers slot 0, so compact(1) (forget nothing) needs no snapshot.
      const covered = this.snapshotSlot ?? 0;
      if (covered < slot - 1) {
        throw new InvariantError(`FileStorage.compact: cannot forget entries below slot ${slot}: the snapshot covers slots up to ${covered} only`);
      }
      const { accepted, chosen } = this.state;
      for (const s of accepted.keys()) if (s < slot) accepted.delete(s);
      for (const s of chosen.keys()) if (s < slot) chosen.delete(s);
      const whole = this.state.build();
      const base = encodeBatch({ promised: whole.promised, accepted: whole.accepted, chosen: whole.chosen, commitIndex: whole.commitIndex });
      // The base holds the unwritten records' state: written after it, they would bring back compacted entries.
      this.queue.discardUnwritten();
      await this.wal.rebase(encodeRecord(RecordType.base, base));
    });
  }

  /**
   * {@inheritDoc Storage.close} Waits for the writes in flight (their promises settle
   * first), then closes the log and removes the lock file. Also after a failure.
   */
  async close(): Promise<void> {
    if (this.closed) throw new ClosedError('FileStorage.close: the storage is closed');
    this.closed = true;
    await this.queue.idle();
    await this.reads.settled();
    await this.incoming?.abort();
    await this.reads.closeReaders();
    try {
      if (this.queue.failure === undefined) await this.queue.flush();
      await this.wal.close(this.queue.failure === undefined);
    } finally {
      await this.lock.release();
    }
  }

  private checkWritable(api: string): void {
    if (this.closed) throw new ClosedError(`FileStorage.${api}: the storage is closed`);
    if (this.queue.failure !== undefined) throw this.queue.failure;
  }

  private enqueueTask<T>(api: string, writes: boolean, task: () => Promise<T>): Promise<T> {
    try {
      if (writes) this.checkWritable(api);
      else if (this.closed) throw new ClosedError(`FileStorage.${api}: the storage is closed`);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.queue.task(api, writes, task);
  }
}

/**
 * The options of a data directory's open, checked and with their defaults. @internal
 *
 * @throws {@link ConfigError} naming `api` if one is out of range.
 */
export function checkDataDirOptions(
  api: string,
  dir: string,
  options: FileStorageOptions,
): { readonly fs: FileSystem; readonly clusterId: string | undefined; readonly walOptions: WalOptions } {
  const segmentBytesMax = options.segmentBytesMax ?? segmentBytesMaxDefault;
  if (!Number.isSafeInteger(segmentBytesMax) || segmentBytesMax < 1) {
    throw new ConfigError(api, 'segmentBytesMax', `must be a positive integer (bytes), got ${segmentBytesMax}`);
  }
  const preallocateBytes = options.preallocateBytes ?? preallocateBytesDefault;
  if (!Number.isSafeInteger(preallocateBytes) || preallocateBytes < 0) {
    throw new ConfigError(api, 'preallocateBytes', `must be a non-negative integer (bytes), got ${preallocateBytes}`);
  }
  if (typeof dir !== 'string' || dir === '') throw new ConfigError(api, 'dir', 'must be a non-empty path');
  const clusterId = options.clusterId;
  if (clusterId !== undefined && (typeof clusterId !== 'string' || clusterId === '' || new TextEncoder().encode(clusterId).byteLength > clusterIdBytesMax)) {
    throw new ConfigError(api, 'clusterId', `must be a non-empty string of at most ${clusterIdBytesMax} UTF-8 bytes`);
  }
  const onWarning = options.onWarning ?? (() => {});
  return {
    fs: options.fs ?? nodeFileSystem,
    clusterId,
    walOptions: { segmentBytesMax, preallocateBytes, syncOnEventLoop: options.syncOnEventLoop ?? true, onWarning },
  };
}

/**
 * Creates `dir` and its missing parents, and makes their entries durable: each new
 * directory is an entry of its parent, lost in a power cut (with the lock and the log
 * written into it) unless the parent is synced.
 */
export async function createDirectory(fs: FileSystem, dir: string): Promise<void> {
  const missing: string[] = [];
  for (let path = resolve(dir); !(await directoryExists(fs, path)); path = dirname(path)) {
    missing.push(path);
    if (dirname(path) === path) break;
  }
  await fs.mkdir(dir);
  for (const created of missing) await syncDirectory(fs, dirname(created));
}

/** Whether `path` exists; anything but ENOENT counts as there (mkdir then reports it). */
async function directoryExists(fs: FileSystem, path: string): Promise<boolean> {
  try {
    await fs.readdir(path);
    return true;
  } catch (error) {
    if (hasCode(error, 'ENOENT')) return false;
    return true;
  }
}

/** Checks what the merge relies on; a failure is a bug in the driver. */
function checkBatch(batch: PersistBatch, commitIndexBefore: number): void {
  const problem = persistBatchProblem(batch, commitIndexBefore);
  if (problem !== undefined) throw new InvariantError(`FileStorage.persist: ${problem}`);
}
