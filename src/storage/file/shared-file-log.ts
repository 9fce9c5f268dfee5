/**
 * One durable log for many groups: a directory whose write-ahead log holds the records
 * of every group, tagged with the group id, and a snapshot directory per group. Each
 * group gets its own {@link Storage} from {@link SharedFileLog.group}. Node-only.
 */
import { join } from 'node:path';
import { ConfigError, type DurableState, DurableStateBuilder, InvariantError, type PersistBatch } from '../../core/index.js';
import { persistBatchProblem } from '../../core/durable-state.js';
import { ClosedError } from '../../runtime/errors.js';
import type { CreateSnapshotOptions, OpenSnapshotOptions, Snapshot, SnapshotReader, SnapshotWriter, Storage } from '../../runtime/storage.js';
import { bindClusterId } from './cluster-id-file.js';
import { type FileStorageOptions, type FileStorageStats, checkDataDirOptions, createDirectory } from './file-storage.js';
import { type FileSystem, hasCode } from './file-system.js';
import { LockFile } from './lock-file.js';
import { MalformedPayloadError, RecordType, encodeBatch, encodeGroupRecord, mergeBatch, splitGroupRecord } from './record.js';
import {
  SnapshotFileWriter,
  checkSnapshot,
  openSnapshotFile,
  readSnapshotFile,
  removeSnapshotFiles,
  removeSnapshotTemps,
  writeSnapshotFile,
} from './snapshot-file.js';
import { SnapshotReads } from './snapshot-reads.js';
import { Wal, type WalReplay } from './wal.js';
import { type QueuedPersist, WriteQueue } from './write-queue.js';

/** Options of {@link SharedFileLog.open}: those of a {@link FileStorage}, for the one log of all groups. */
export type SharedFileLogOptions = FileStorageOptions;

/** Counters of a {@link SharedFileLog}, since it was opened, over all its groups. */
export interface SharedFileLogStats extends FileStorageStats {
  /** Groups with state in the log now. */
  readonly groups: number;
}

/** The folder of the data directory that holds a folder of snapshot files per group. */
const snapshotsDirName = 'snapshots';
const groupIdPattern = /^(0|[1-9]\d{0,15})$/;

/** What the log keeps of one group. */
interface GroupLog {
  readonly id: number;
  /** The state every synced record of the group adds up to. */
  readonly state: DurableStateBuilder;
  /**
   * The first sequence of the oldest segment that holds a record of the group that
   * replay needs (its last base record, or its first record if it has no base). No
   * older segment may be deleted while the group is in the log. It may name an older
   * segment than the record's own (never a newer one).
   */
  since: number;
}

/** A group's persist, as it waits in the log's queue. */
interface GroupPersist extends QueuedPersist {
  readonly group: number;
}

/**
 * One write-ahead log for many groups, as {@link GroupHost} runs them: a storage write
 * holds the records of every group that persisted during it and takes one fdatasync,
 * so many groups' accepts share one sync. {@link group} hands out each group's
 * {@link Storage}.
 *
 * - Records carry their group's id (a varint in front of the batch, inside the CRC);
 *   replay routes each to its group, and a group's `load()` returns its own state only.
 * - Group commit across groups: persists of any groups issued while a write is under
 *   way are written together and share the next fdatasync; each resolves only once the
 *   write that holds its own record is durable (persist before you speak holds per
 *   group), in call order. {@link stats} counts persists and syncs.
 * - Snapshots are per group: `snapshots/<group>/snapshot`, written as
 *   {@link FileStorage} writes its one.
 * - Compaction is per group: `compact(slot)` writes the group's remaining state as a
 *   base record at the log's head. A segment is deleted only once no group needs a
 *   record in it: each compaction also rewrites, at the head, the state of the groups
 *   that still use the oldest segment (usually idle ones), so the oldest segments go.
 * - {@link dropGroup} removes a group's state and snapshot (after its storage closed).
 * - Opening replays the log, truncating a torn tail as {@link FileStorage} does; damage
 *   elsewhere refuses to open with {@link CorruptionError}. A failed write fails every
 *   group's storage closed ({@link StorageFailedError}); reopening recovers what was
 *   durable. A lock file keeps a second open out ({@link LockedError}).
 *
 * The segment and record framing are the {@link FileStorage} log's; the group records
 * are record types of their own, so neither opens the other's directory.
 *
 * @example
 * ```ts
 * const log = await SharedFileLog.open('/var/lib/synod/a');
 * const host = new GroupHost({ id: 'a', transport, storage: (group) => log.group(group) });
 * await host.start();
 * // ... createGroup, propose, removeGroup(7) ...
 * await log.dropGroup(7); // once group 7 was removed for good
 * await host.close();
 * await log.close();
 * ```
 */
export class SharedFileLog {
  /** Every group's writes, in call order; its failure fails every group. */
  private readonly queue: WriteQueue<GroupPersist>;
  private closed = false;
  /** The storages handed out and not closed, by group. */
  private readonly open_ = new Map<number, SharedLogStorage>();

  private constructor(
    private readonly fs: FileSystem,
    /** The data directory. */
    readonly dir: string,
    private readonly lock: LockFile,
    private readonly wal: Wal,
    /** The groups with state in the log. */
    private readonly groups: Map<number, GroupLog>,
    /** The slot of each group's saved snapshot. */
    private readonly snapshotSlots: Map<number, number>,
  ) {
    this.queue = new WriteQueue('SharedFileLog', {
      append: (records, sync) => wal.append(records, sync),
      persisted: (persists) => this.persisted(persists),
    });
  }

  /**
   * Opens (creating it if missing) the data directory `dir`: takes its lock, reads
   * which snapshot each group has, then replays the log into every group's state.
   *
   * @throws {@link LockedError} if another live process (or another open) holds it.
   * @throws {@link CorruptionError} if a file is damaged other than at the log's tail,
   *   or holds records of a single node's {@link FileStorage}.
   * @throws {@link ClusterMismatchError} if the directory belongs to another cluster.
   * @throws {@link ConfigError} if an option is out of range.
   */
  static async open(dir: string, options: SharedFileLogOptions = {}): Promise<SharedFileLog> {
    const { fs, clusterId, walOptions } = checkDataDirOptions('SharedFileLog.open', dir, options);
    await createDirectory(fs, dir);
    const lock = await LockFile.acquire(fs, dir);
    try {
      if (clusterId !== undefined) await bindClusterId(fs, dir, clusterId);
      const snapshotSlots = await readSnapshotSlots(fs, join(dir, snapshotsDirName));
      const groups = new Map<number, GroupLog>();
      const wal = await Wal.open(fs, dir, groupReplay(groups), walOptions);
      return new SharedFileLog(fs, dir, lock, wal, groups, snapshotSlots);
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  /**
   * The {@link Storage} of group `id`, over this log: what {@link GroupHost}'s `storage`
   * option asks for. One at a time per group: closing it lets `group(id)` hand out the
   * next (a restarted group); closing it does not close the log.
   *
   * @throws {@link ConfigError} if `id` is not a non-negative safe integer, or the
   *   group's storage is open already.
   * @throws {@link ClosedError} if the log is closed.
   */
  group(id: number): Storage {
    if (this.closed) throw new ClosedError('SharedFileLog.group: the log is closed');
    if (!Number.isSafeInteger(id) || id < 0) throw new ConfigError('SharedFileLog.group', 'id', `must be a non-negative integer, got ${id}`);
    if (this.open_.has(id)) throw new ConfigError('SharedFileLog.group', 'id', `group ${id}'s storage is open already: close it first`);
    const storage = new SharedLogStorage(this, id, this.groups.get(id)?.state.commitIndex ?? 0);
    this.open_.set(id, storage);
    return storage;
  }

  /**
   * Removes group `id`'s state from the log (a record that empties it, synced) and its
   * snapshot files; the segments only it still used go at the next compaction of any
   * group, or now. For a group removed for good: its storage must be closed. A crash
   * midway may leave its snapshot, which calling this again removes.
   *
   * @throws {@link ConfigError} (rejects) if the group's storage is open.
   */
  dropGroup(id: number): Promise<void> {
    if (this.open_.has(id)) {
      return Promise.reject(new ConfigError('SharedFileLog.dropGroup', 'id', `group ${id}'s storage is open: close it first`));
    }
    return this.enqueueTask('dropGroup', true, async () => {
      await this.queue.append([encodeGroupRecord(RecordType.groupDrop, id, new Uint8Array(0))], true);
      this.groups.delete(id);
      this.snapshotSlots.delete(id);
      const snapshotDir = this.snapshotDir(id);
      if (await directoryExists(this.fs, snapshotDir)) await removeSnapshotFiles(this.fs, snapshotDir);
      await this.reclaim(false);
    });
  }

  /** The groups with state in the log, in increasing order. */
  get groupIds(): number[] {
    return [...this.groups.keys()].sort((a, b) => a - b);
  }

  /** Counters since the log was opened: `persists / fsyncs` is the group-commit factor, across groups. */
  get stats(): SharedFileLogStats {
    return { ...this.queue.stats, groups: this.groups.size };
  }

  /** How many log segment files the directory holds. @internal */
  get segmentCount(): number {
    return this.wal.segmentCount;
  }

  /**
   * Closes every group's storage that is open (their later calls reject), waits for
   * the writes in flight, closes the log and removes the lock file.
   */
  async close(): Promise<void> {
    if (this.closed) throw new ClosedError('SharedFileLog.close: the log is closed');
    this.closed = true;
    await Promise.allSettled([...this.open_.values()].map((storage) => storage.close()));
    await this.queue.idle();
    try {
      if (this.queue.failure === undefined) await this.queue.flush();
      await this.wal.close(this.queue.failure === undefined);
    } finally {
      await this.lock.release();
    }
  }

  // --- what a group's storage calls ---

  /** @internal */
  snapshotDir(id: number): string {
    return join(this.dir, snapshotsDirName, String(id));
  }

  /** @internal */
  get fileSystem(): FileSystem {
    return this.fs;
  }

  /** @internal */
  snapshotSlot(id: number): number | undefined {
    return this.snapshotSlots.get(id);
  }

  /** @internal */
  setSnapshotSlot(id: number, slot: number): void {
    this.snapshotSlots.set(id, slot);
  }

  /** @internal */
  released(id: number, storage: SharedLogStorage): void {
    if (this.open_.get(id) === storage) this.open_.delete(id);
  }

  /** @internal The log's failure, if a write failed. */
  get failed(): Error | undefined {
    return this.queue.failure;
  }

  /** @internal The group's durable state, as a group's `load` returns it. */
  stateOf(id: number): DurableState {
    return (this.groups.get(id)?.state ?? new DurableStateBuilder()).build();
  }

  /** @internal Queues group `id`'s persist of `batch`, framed as `record`. */
  enqueuePersist(group: number, batch: PersistBatch, record: Uint8Array): Promise<void> {
    return this.queue.persist({ group, batch, record });
  }

  /** @internal Runs `task` in call order with every group's writes. */
  enqueueTask<T>(api: string, writes: boolean, task: () => Promise<T>): Promise<T> {
    return this.queue.task(api, writes, task);
  }

  /** @internal Writes the learner-only records waiting in memory, synced. Run from a task. */
  flush(): Promise<void> {
    return this.queue.flush();
  }

  /**
   * @internal Forgets group `id`'s entries below `slot`, writes what remains as its
   * base record at the head, then reclaims the oldest segments. Run from a task.
   */
  async compactGroup(id: number, slot: number): Promise<void> {
    const group = this.groups.get(id);
    if (group !== undefined) {
      const { accepted, chosen } = group.state;
      for (const s of accepted.keys()) if (s < slot) accepted.delete(s);
      for (const s of chosen.keys()) if (s < slot) chosen.delete(s);
      await this.queue.append([baseRecord(group)], true);
      group.since = this.wal.tailFirstSequence;
    }
    await this.reclaim(true);
  }

  /**
   * Deletes the segments no group needs a record in. With `rewrite`, first writes at
   * the head the base record of each group that still uses the oldest segment (when it
   * is not the head), so that it can go.
   */
  private async reclaim(rewrite: boolean): Promise<void> {
    const segments = this.wal.segmentFirstSequences;
    if (segments.length < 2) return;
    if (rewrite) {
      const second = segments[1]!;
      const pinning = [...this.groups.values()].filter((group) => group.since < second);
      if (pinning.length > 0) {
        await this.queue.append(pinning.map(baseRecord), true);
        for (const group of pinning) group.since = this.wal.tailFirstSequence;
      }
    }
    let keepFrom = this.wal.tailFirstSequence;
    for (const group of this.groups.values()) keepFrom = Math.min(keepFrom, group.since);
    await this.wal.dropSegmentsBefore(keepFrom);
    const first = this.wal.segmentFirstSequences[0]!;
    for (const group of this.groups.values()) {
      if (group.since < first) throw new InvariantError(`SharedFileLog: group ${group.id} needs segment ${group.since}, but the log starts at ${first}`);
    }
  }

  /** Records the persists of a group commit in their groups' states. */
  private persisted(persists: readonly GroupPersist[]): void {
    // Where the records went, or (for records still in memory) a segment no newer.
    const segment = this.wal.tailFirstSequence;
    for (const p of persists) {
      let group = this.groups.get(p.group);
      if (group === undefined) {
        group = { id: p.group, state: new DurableStateBuilder(), since: segment };
        this.groups.set(p.group, group);
      }
      group.state.merge(p.batch);
    }
  }
}

/** A group's whole durable state, as the base record that replaces its earlier records. */
function baseRecord(group: GroupLog): Uint8Array {
  const whole = group.state.build();
  const payload = encodeBatch({ promised: whole.promised, accepted: whole.accepted, chosen: whole.chosen, commitIndex: whole.commitIndex });
  return encodeGroupRecord(RecordType.groupBase, group.id, payload);
}

/** The replay of a shared log: each record to its group's state in `groups`. */
function groupReplay(groups: Map<number, GroupLog>): WalReplay {
  return {
    knows: (type) => type === RecordType.groupBatch || type === RecordType.groupBase || type === RecordType.groupDrop,
    apply(type, payload, segment) {
      const record = splitGroupRecord(payload);
      if (type === RecordType.groupDrop) {
        if (record.payload.byteLength > 0) {
          throw new MalformedPayloadError(
            payload.byteLength - record.payload.byteLength,
            `a group drop record has ${record.payload.byteLength} bytes after the group id`,
          );
        }
        groups.delete(record.group);
        return;
      }
      let group = groups.get(record.group);
      if (group === undefined) {
        group = { id: record.group, state: new DurableStateBuilder(), since: segment };
        groups.set(record.group, group);
      } else if (type === RecordType.groupBase) {
        group = { id: record.group, state: new DurableStateBuilder(), since: segment };
        groups.set(record.group, group);
      }
      mergeBatch(record.payload, group.state);
    },
  };
}

/** The slot of each group's snapshot in `snapshotsDir`, removing leftovers of crashed saves. */
async function readSnapshotSlots(fs: FileSystem, snapshotsDir: string): Promise<Map<number, number>> {
  const slots = new Map<number, number>();
  let names: string[];
  try {
    names = await fs.readdir(snapshotsDir);
  } catch (error) {
    if (hasCode(error, 'ENOENT')) return slots;
    throw error;
  }
  for (const name of names) {
    if (!groupIdPattern.test(name) || !Number.isSafeInteger(Number(name))) continue;
    const dir = join(snapshotsDir, name);
    await removeSnapshotTemps(fs, dir);
    const reader = await openSnapshotFile(fs, dir);
    if (reader === undefined) continue;
    slots.set(Number(name), reader.slot);
    await reader.close();
  }
  return slots;
}

async function directoryExists(fs: FileSystem, dir: string): Promise<boolean> {
  try {
    await fs.readdir(dir);
    return true;
  } catch (error) {
    if (hasCode(error, 'ENOENT')) return false;
    throw error;
  }
}

/**
 * One group's {@link Storage} over a {@link SharedFileLog}: what
 * {@link SharedFileLog.group} returns. Its writes go through the log's one queue, in
 * call order with every group's.
 */
class SharedLogStorage implements Storage {
  private closed = false;
  /** A malformed batch (a driver bug) fails this group alone. */
  private failure: Error | undefined;
  /** The snapshot being streamed in, if any. */
  private incoming: SnapshotFileWriter | undefined;
  /** Snapshot reads under way and readers open: close waits for and closes them. */
  private readonly reads = new SnapshotReads();
  /** The group's snapshot folder, once made. */
  private snapshotDirMade: Promise<void> | undefined;

  constructor(
    private readonly log: SharedFileLog,
    private readonly id: number,
    /** The commit index of the last persist called, to check the next one against. */
    private commitIndexCalled: number,
  ) {}

  load(): Promise<DurableState> {
    if (this.closed) return Promise.reject(this.closedError('load'));
    return this.log.enqueueTask('load', false, async () => this.log.stateOf(this.id));
  }

  persist(batch: PersistBatch): Promise<void> {
    try {
      this.checkWritable('persist');
      const problem = persistBatchProblem(batch, this.commitIndexCalled);
      if (problem !== undefined) throw new InvariantError(`SharedFileLog group ${this.id}: persist: ${problem}`);
      const record = encodeGroupRecord(RecordType.groupBatch, this.id, encodeBatch(batch));
      if (batch.commitIndex !== undefined) this.commitIndexCalled = batch.commitIndex;
      return this.log.enqueuePersist(this.id, batch, record);
    } catch (error) {
      if (error instanceof InvariantError) this.failure ??= error;
      return Promise.reject(error);
    }
  }

  saveSnapshot(snapshot: Snapshot): Promise<void> {
    try {
      this.checkWritable('saveSnapshot');
      checkSnapshot(snapshot);
    } catch (error) {
      return Promise.reject(error);
    }
    const { slot, data } = snapshot;
    return this.log.enqueueTask('saveSnapshot', true, async () => {
      // Learner-only batches called before it go first: what survives is a prefix of the calls.
      await this.log.flush();
      await this.makeSnapshotDir();
      await writeSnapshotFile(this.log.fileSystem, this.log.snapshotDir(this.id), { slot, data });
      this.log.setSnapshotSlot(this.id, slot);
    });
  }

  loadSnapshot(): Promise<Snapshot | undefined> {
    if (this.closed) return Promise.reject(this.closedError('loadSnapshot'));
    return this.reads.track(readSnapshotFile(this.log.fileSystem, this.log.snapshotDir(this.id), { removeTemp: false }));
  }

  openSnapshot(options: OpenSnapshotOptions = {}): Promise<SnapshotReader | undefined> {
    if (this.closed) return Promise.reject(this.closedError('openSnapshot'));
    return this.reads.open(openSnapshotFile(this.log.fileSystem, this.log.snapshotDir(this.id), options.checkedByCaller === true));
  }

  createSnapshot(slot: number, byteLength: number, options: CreateSnapshotOptions = {}): SnapshotWriter {
    this.checkWritable('createSnapshot');
    if (!Number.isSafeInteger(slot) || slot < 0) throw new InvariantError(`SharedFileLog.createSnapshot: slot must be a non-negative integer, got ${slot}`);
    if (!Number.isSafeInteger(byteLength) || byteLength < 0 || byteLength > 0xffffffff) {
      throw new InvariantError(`SharedFileLog.createSnapshot: byteLength must be an integer from 0 to 4 GiB, got ${byteLength}`);
    }
    // The one before is removed before this one creates the same file; the folder exists first.
    const previous = Promise.all([this.incoming?.abort(), this.makeSnapshotDir()]).then(() => undefined);
    const fs = this.log.fileSystem;
    const writer = new SnapshotFileWriter(fs, this.log.snapshotDir(this.id), slot, byteLength, options.dataCrc32ByCaller === true, previous, (run) =>
      this.log.enqueueTask('saveSnapshot', true, async () => {
        await this.log.flush();
        await run();
        this.log.setSnapshotSlot(this.id, slot);
        if (this.incoming === writer) this.incoming = undefined;
      }),
    );
    this.incoming = writer;
    return writer;
  }

  compact(slot: number): Promise<void> {
    try {
      this.checkWritable('compact');
      if (!Number.isSafeInteger(slot) || slot < 1) throw new InvariantError(`SharedFileLog.compact: slot must be a positive integer, got ${slot}`);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.log.enqueueTask('compact', true, async () => {
      // An empty state covers slot 0, so compact(1) (forget nothing) needs no snapshot.
      const covered = this.log.snapshotSlot(this.id) ?? 0;
      if (covered < slot - 1) {
        throw new InvariantError(
          `SharedFileLog.compact: group ${this.id} cannot forget entries below slot ${slot}: the snapshot covers slots up to ${covered} only`,
        );
      }
      await this.log.compactGroup(this.id, slot);
    });
  }

  /** Waits for the group's writes in flight, makes its learner-only records durable, and releases the group. The log stays open. */
  async close(): Promise<void> {
    if (this.closed) throw this.closedError('close');
    this.closed = true;
    try {
      await this.log.enqueueTask('close', false, async () => {
        if (this.log.failed === undefined) await this.log.flush();
      });
    } catch {
      // A failed log: what was durable stays; the next open recovers it.
    }
    await this.reads.settled();
    await this.incoming?.abort();
    await this.reads.closeReaders();
    this.log.released(this.id, this);
  }

  private makeSnapshotDir(): Promise<void> {
    this.snapshotDirMade ??= createDirectory(this.log.fileSystem, this.log.snapshotDir(this.id)).catch((error: unknown) => {
      this.snapshotDirMade = undefined;
      throw error;
    });
    return this.snapshotDirMade;
  }

  private checkWritable(api: string): void {
    if (this.closed) throw this.closedError(api);
    if (this.failure !== undefined) throw this.failure;
    const failed = this.log.failed;
    if (failed !== undefined) throw failed;
  }

  private closedError(api: string): ClosedError {
    return new ClosedError(`SharedFileLog group ${this.id}: ${api}: the storage is closed`);
  }
}
