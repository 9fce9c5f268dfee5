/**
 * The write-ahead log: a directory of append-only segment files
 * `wal-<16-digit first sequence>.log`, each a header (magic `SYNODWAL`, format version
 * u16) followed by records (see record.ts). Records are numbered by a sequence that
 * runs on across segments, so a missing segment is detected.
 *
 * Durability rules: a segment is fully synced before the next one is started, so only
 * the last segment can end in a torn record; creating and deleting a segment are
 * followed by an fsync of the directory.
 *
 * Preallocation: while a segment is the tail, zeros are written (and synced) ahead of
 * its last record, so an append overwrites bytes the file already has and its
 * fdatasync flushes data only, not a new file size through the file system's journal
 * (on ext4 here 5-10% less per sync, and steadier). Closing or rolling the segment
 * cuts the zeros off again; after a crash they read as a torn tail of zeros.
 */
import { basename, join } from 'node:path';
import { type DurableStateBuilder, InvariantError, ballotZero } from '../../core/index.js';
import { CorruptionError } from './errors.js';
import { type FileHandle, type FileSystem, syncDirectory, writeFully, writeFullySync } from './file-system.js';
import { MalformedPayloadError, RecordType, mergeBatch, readRecord, recordHeaderBytes } from './record.js';
import { getU16, setU16 } from '../../encoding/little-endian.js';

/** The segment format this build writes and reads. */
const walFormatVersion = 1;
const magic = new TextEncoder().encode('SYNODWAL');
/** Magic and format version. */
export const segmentHeaderBytes = magic.byteLength + 2;
const segmentPattern = /^wal-(\d{16})\.log$/;

/** The file name of the segment whose first record has `firstSequence`. */
export function segmentName(firstSequence: number): string {
  if (!Number.isSafeInteger(firstSequence) || firstSequence < 1) throw new InvariantError(`segment sequence ${firstSequence} is not a positive integer`);
  return `wal-${String(firstSequence).padStart(16, '0')}.log`;
}

/** The first sequence a segment file name carries, or undefined if `name` is not a segment. */
export function parseSegmentName(name: string): number | undefined {
  const match = segmentPattern.exec(name);
  return match === null ? undefined : Number(match[1]);
}

/** A segment's header bytes. */
function segmentHeader(version = walFormatVersion): Uint8Array {
  const header = new Uint8Array(segmentHeaderBytes);
  header.set(magic);
  setU16(header, magic.byteLength, version);
  return header;
}

/** Options of {@link Wal.open}. */
export interface WalOptions {
  /** A segment that reached this size (bytes) is closed and the next append starts a new one. */
  readonly segmentBytesMax: number;
  /** Zeros kept written ahead of the tail's last record, in bytes (0: none). */
  readonly preallocateBytes: number;
  /** Whether appends of up to {@link inlineBytesMax} use the handle's synchronous calls, if it has them. */
  readonly syncOnEventLoop: boolean;
  /** Told about a torn tail that recovery truncated. */
  readonly onWarning: (message: string) => void;
}

/** Appends up to this size may be written and synced on the event loop (a copy into the page cache is quick). */
export const inlineBytesMax = 256 * 1024;
/** An fdatasync on the event loop slower than this (ms) means a slow disk: use the thread pool for {@link inlineBackoffMs}. */
export const inlineStallMs = 10;
/** How long (ms) a stalled sync sends appends through the thread pool before the event loop is tried again. */
export const inlineBackoffMs = 1000;

type InlineHandle = FileHandle & Required<Pick<FileHandle, 'writeSync' | 'datasyncSync'>>;

/** The segment being appended to. */
interface Tail {
  readonly file: string;
  readonly handle: FileHandle;
  readonly firstSequence: number;
  /** Bytes of header and records, header included. */
  size: number;
  /** Bytes in the file: `size` and the synced zeros after it. */
  length: number;
}

/** The log of one data directory, open for appending. */
export class Wal {
  /** Segments before the tail, oldest first (full paths). */
  private readonly older: string[];
  /** Whether the tail holds records written without a sync since the last one. */
  private unsynced = false;
  /** The write and sync of zeros after the tail's end, while one is under way. */
  private extending: Promise<void> | undefined;
  /** False once writing zeros failed (say the disk is full): appends then grow the file. */
  private preallocating: boolean;
  /** A failed sync of the zeros: it may have cost unsynced records too, so every later write fails. */
  private failure: unknown;
  private zeros: Uint8Array | undefined;
  /** Until when (performance.now()) appends go through the thread pool after a stalled inline sync. */
  private inlineAfter = 0;

  private constructor(
    private readonly fs: FileSystem,
    private readonly dir: string,
    private readonly options: WalOptions,
    private tail: Tail,
    /** The sequence the next record gets. */
    private nextSequence: number,
    older: string[],
  ) {
    this.older = older;
    this.preallocating = options.preallocateBytes > 0;
  }

  /** How many segment files the log has now. */
  get segmentCount(): number {
    return this.older.length + 1;
  }

  /** The first sequence of each segment file, oldest first; the last is the tail's. */
  get segmentFirstSequences(): number[] {
    return [...this.older.map((file) => parseSegmentName(basename(file))!), this.tail.firstSequence];
  }

  /** The first sequence of the tail: the segment the last append wrote to. */
  get tailFirstSequence(): number {
    return this.tail.firstSequence;
  }

  /**
   * Replays the log in `dir` with `replay`, truncating a torn tail, and opens it for
   * appending (starting a first segment if there is none).
   *
   * @throws {@link CorruptionError} if a segment is damaged other than at the tail.
   */
  static async open(fs: FileSystem, dir: string, replay: WalReplay, options: WalOptions): Promise<Wal> {
    const segments = (await fs.readdir(dir))
      .map((name) => ({ name, firstSequence: parseSegmentName(name) }))
      .filter((s): s is { name: string; firstSequence: number } => s.firstSequence !== undefined)
      .sort((a, b) => a.firstSequence - b.firstSequence);
    if (segments.length === 0) {
      const tail = await createSegment(fs, dir, 1);
      return new Wal(fs, dir, options, tail, 1, []);
    }
    let expected: number | undefined;
    let validEnd = 0;
    let torn = false;
    for (const [i, segment] of segments.entries()) {
      const file = join(dir, segment.name);
      if (expected !== undefined && segment.firstSequence !== expected) {
        throw new CorruptionError(
          file,
          0,
          `the segment starts at sequence ${segment.firstSequence}, but the one before it ends at ${expected - 1}: a segment is missing or out of place`,
        );
      }
      const replayed = replaySegment(file, segment.firstSequence, await fs.readFile(file), i === segments.length - 1, replay);
      expected = segment.firstSequence + replayed.records;
      validEnd = replayed.validEnd;
      torn = replayed.torn !== undefined;
      if (replayed.torn !== undefined) options.onWarning(`${file}: truncated a torn tail at byte ${validEnd}: ${replayed.torn}`);
    }
    const last = segments[segments.length - 1]!;
    const file = join(dir, last.name);
    const handle = await fs.open(file, 'r+');
    const tail: Tail = { file, handle, firstSequence: last.firstSequence, size: validEnd, length: validEnd };
    try {
      if (validEnd < segmentHeaderBytes) {
        // Torn while it was being created: write its header again.
        await handle.truncate(0);
        await writeFully(handle, segmentHeader(), 0);
        tail.size = segmentHeaderBytes;
        await handle.sync();
      } else if (torn) {
        await handle.truncate(validEnd);
        await handle.sync();
      }
    } catch (error) {
      await handle.close();
      throw error;
    }
    const older = segments.slice(0, -1).map((s) => join(dir, s.name));
    return new Wal(fs, dir, options, tail, expected!, older);
  }

  /**
   * Appends `records` (framed) and, if `sync`, fdatasyncs: then they are durable, with
   * every record before them, when it resolves. Unsynced records are written in order
   * (a crash can lose them only with everything after them) and become durable with
   * the next sync. Starts a new segment first if the tail reached `segmentBytesMax`. A
   * rejection leaves the log in an unknown state: the caller must stop using it.
   *
   * With `syncOnEventLoop`, an append of up to {@link inlineBytesMax} is written and
   * synced with synchronous calls: it blocks the event loop for one fdatasync, which
   * costs less than the two thread-pool trips it saves (each a handoff to a worker and a
   * wake-up of the loop) while the disk is quick. A sync slower than
   * {@link inlineStallMs} turns that off for {@link inlineBackoffMs}.
   */
  async append(records: readonly Uint8Array[], sync = true): Promise<void> {
    try {
      if (records.length === 0) return;
      this.checkFailure();
      if (this.tail.size >= this.options.segmentBytesMax && this.tail.firstSequence < this.nextSequence) await this.roll();
      const data = records.length === 1 ? records[0]! : Buffer.concat(records);
      const tail = this.tail;
      const end = tail.size + data.byteLength;
      // Never write into the range zeros are being written to.
      if (end > tail.length && this.extending !== undefined) {
        await this.extending;
        this.checkFailure();
      }
      const inline = this.inlineHandle(data.byteLength);
      if (inline !== undefined) writeFullySync(inline, data, tail.size);
      else await writeFully(tail.handle, data, tail.size);
      tail.size = end;
      tail.length = Math.max(tail.length, end);
      this.nextSequence += records.length;
      if (sync) {
        if (inline !== undefined) this.syncInline(inline);
        else await this.sync();
        // A sync of zeros under way may meet (and report only to itself) a write-back
        // error that also cost these records: resolve only once it ended well.
        if (this.extending !== undefined) await this.extending;
        this.checkFailure();
      } else this.unsynced = true;
      this.preallocate();
    } catch (error) {
      throw naming(error, this.tail.file);
    }
  }

  /** Makes every record written durable. */
  async sync(): Promise<void> {
    this.checkFailure();
    try {
      await this.tail.handle.datasync();
    } catch (error) {
      throw naming(error, this.tail.file);
    }
    this.unsynced = false;
  }

  private syncInline(handle: InlineHandle): void {
    const start = performance.now();
    handle.datasyncSync();
    this.unsynced = false;
    const end = performance.now();
    if (end - start > inlineStallMs) this.inlineAfter = end + inlineBackoffMs;
  }

  /** The tail's handle if an append of `bytes` is to use its synchronous calls. */
  private inlineHandle(bytes: number): InlineHandle | undefined {
    const handle = this.tail.handle;
    if (!this.options.syncOnEventLoop || bytes > inlineBytesMax || handle.writeSync === undefined || handle.datasyncSync === undefined) return undefined;
    if (this.inlineAfter > 0 && performance.now() < this.inlineAfter) return undefined;
    return handle as InlineHandle;
  }

  /**
   * Makes `base` (a framed base record holding the whole durable state) the log's
   * first record: writes it into a fresh segment, syncs, then deletes every older
   * segment and syncs the directory. A crash at any point leaves a log that replays
   * to the same state.
   */
  async rebase(base: Uint8Array): Promise<void> {
    if (this.tail.firstSequence < this.nextSequence) await this.roll();
    if (this.tail.firstSequence !== this.nextSequence)
      throw new InvariantError(`Wal.rebase: the tail segment starts at ${this.tail.firstSequence}, not at ${this.nextSequence}`);
    await this.append([base]);
    if (this.older.length === 0) return;
    for (const file of this.older) await this.fs.unlink(file);
    this.older.length = 0;
    await syncDirectory(this.fs, this.dir);
  }

  /**
   * Deletes the segments before the one that starts at `firstSequence` (never the
   * tail), oldest first, then syncs the directory: what a shared log does once no
   * group needs a record in them. A crash midway leaves a suffix of the segments, which
   * replays as the whole did for every group still using the log.
   */
  async dropSegmentsBefore(firstSequence: number): Promise<void> {
    let dropped = 0;
    while (dropped < this.older.length && parseSegmentName(basename(this.older[dropped]!))! < firstSequence) {
      await this.fs.unlink(this.older[dropped]!);
      dropped++;
    }
    if (dropped === 0) return;
    this.older.splice(0, dropped);
    await syncDirectory(this.fs, this.dir);
  }

  /** Closes the tail segment's file, syncing first what was written unsynced unless `sync` is false (after a failure). */
  async close(sync = true): Promise<void> {
    try {
      await this.extending;
      if (sync) await this.finishTail();
    } finally {
      await this.tail.handle.close();
    }
  }

  /** Finishes the tail (see {@link finishTail}), closes it, and starts a segment at the next sequence. */
  private async roll(): Promise<void> {
    await this.extending;
    await this.finishTail();
    const next = await createSegment(this.fs, this.dir, this.nextSequence);
    const previous = this.tail;
    this.older.push(previous.file);
    this.tail = next;
    await previous.handle.close();
  }

  /** Cuts the zeros after the tail's records off and makes its records and length durable. */
  private async finishTail(): Promise<void> {
    this.checkFailure();
    const tail = this.tail;
    if (tail.length > tail.size) {
      await tail.handle.truncate(tail.size);
      tail.length = tail.size;
      await tail.handle.sync();
      this.unsynced = false;
    } else if (this.unsynced) await this.sync();
  }

  /**
   * Starts writing and syncing zeros after the tail's end when less than half of
   * `preallocateBytes` is left ahead of it, up to the segment size limit. Runs beside
   * appends; an append that needs the range waits for it.
   */
  private preallocate(): void {
    const tail = this.tail;
    const chunk = this.options.preallocateBytes;
    if (!this.preallocating || this.extending !== undefined || tail.length - tail.size >= chunk / 2) return;
    const bytes = Math.min(chunk, this.options.segmentBytesMax - tail.length);
    if (bytes <= 0) return;
    this.zeros ??= new Uint8Array(chunk);
    const from = tail.length;
    const zeros = this.zeros.subarray(0, bytes);
    this.extending = (async () => {
      try {
        await writeFully(tail.handle, zeros, from);
      } catch {
        // Not fatal (records can still grow the file), but no more tries.
        this.preallocating = false;
        return;
      }
      try {
        await tail.handle.datasync();
        tail.length = from + bytes;
      } catch (error) {
        this.failure ??= naming(error, tail.file);
      }
    })().finally(() => {
      this.extending = undefined;
    });
  }

  private checkFailure(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}

/**
 * `error` with the file it happened on: Node's errors from calls on an open handle
 * (write, fdatasync) name no path, and "ENOSPC" alone does not say which disk is full.
 */
function naming(error: unknown, file: string): unknown {
  if (error instanceof Error && (error as { path?: unknown }).path === undefined) Object.assign(error, { path: file });
  return error;
}

/** A new segment with its header, synced, and the directory synced. */
async function createSegment(fs: FileSystem, dir: string, firstSequence: number): Promise<Tail> {
  const file = join(dir, segmentName(firstSequence));
  const handle = await fs.open(file, 'wx');
  try {
    await writeFully(handle, segmentHeader(), 0);
    await handle.sync();
    await syncDirectory(fs, dir);
  } catch (error) {
    await handle.close();
    throw error;
  }
  return { file, handle, firstSequence, size: segmentHeaderBytes, length: segmentHeaderBytes };
}

interface Replayed {
  /** Complete, valid records. */
  readonly records: number;
  /** Where the valid prefix ends (0 for a last segment torn inside its header). */
  readonly validEnd: number;
  /** Why the tail was cut, if it was. */
  readonly torn?: string;
}

/**
 * Merges the records of one segment into `state`. Only the last segment may end in a
 * torn record: an incomplete frame or a frame whose CRC fails, with no valid frame
 * after it (in preallocated zeros the pages of a record can land in any order), or
 * zeros to the end of the file.
 */
function replaySegment(file: string, firstSequence: number, bytes: Uint8Array, last: boolean, replay: WalReplay): Replayed {
  if (bytes.byteLength < segmentHeaderBytes) {
    const header = segmentHeader();
    const prefix = bytes.every((b, i) => b === header[i] || b === 0);
    if (last && prefix) return { records: 0, validEnd: 0, torn: `a segment header of ${bytes.byteLength} bytes` };
    throw new CorruptionError(file, 0, `the segment is ${bytes.byteLength} bytes, shorter than its header`);
  }
  for (let i = 0; i < magic.byteLength; i++) {
    if (bytes[i] !== magic[i]) throw new CorruptionError(file, 0, 'bad magic: not a synod WAL segment');
  }
  const version = getU16(bytes, magic.byteLength);
  if (version !== walFormatVersion) {
    throw new CorruptionError(file, magic.byteLength, `unknown WAL format version ${version}; this build reads version ${walFormatVersion}`);
  }
  let offset = segmentHeaderBytes;
  let records = 0;
  while (offset < bytes.byteLength) {
    if (last && isZero(bytes, offset)) return { records, validEnd: offset, torn: 'zeros to the end of the file' };
    const read = readRecord(bytes, offset);
    if (read.kind === 'truncated' || read.kind === 'bad-crc') {
      if (!last) throw new CorruptionError(file, offset, read.why);
      // A crash tears only the records written last. A whole record after this one
      // means damage in the middle (say, a flipped length bit): truncating would drop
      // records that may have been acknowledged.
      const next = validRecordAfter(bytes, offset + 1, replay);
      if (next !== undefined) throw new CorruptionError(file, offset, `${read.why}, yet a valid record follows at byte ${next}: damage, not a torn tail`);
      return { records, validEnd: offset, torn: read.why };
    }
    if (!replay.knows(read.type)) throw new CorruptionError(file, offset, `unknown record type ${read.type}`);
    try {
      replay.apply(read.type, read.payload, firstSequence);
    } catch (error) {
      // The state holds part of the record now; the open fails, so it is dropped.
      if (!(error instanceof MalformedPayloadError)) throw error;
      throw new CorruptionError(file, offset + recordHeaderBytes + error.offset, `a record that passed its CRC does not decode: ${error.message}`);
    }
    records++;
    offset = read.end;
  }
  return { records, validEnd: offset };
}

/**
 * What replaying a log does with its records: which record types it knows (any other
 * is damage) and how a record changes the state being rebuilt.
 */
export interface WalReplay {
  /** Whether `type` is a record type of this log. */
  knows(type: number): boolean;
  /**
   * Applies one record of a known type, found in the segment whose first sequence is
   * `segment`.
   *
   * @throws {@link MalformedPayloadError} if the payload does not decode (the open then fails).
   */
  apply(type: number, payload: Uint8Array, segment: number): void;
}

/** The replay of a single node's log (batch and base records) into `state`. */
export function durableStateReplay(state: DurableStateBuilder): WalReplay {
  return {
    knows: (type) => type === RecordType.batch || type === RecordType.base,
    apply(type, payload) {
      if (type === RecordType.base) {
        state.promised = ballotZero;
        state.commitIndex = 0;
        state.accepted.clear();
        state.chosen.clear();
      }
      mergeBatch(payload, state);
    },
  };
}

/** The offset of the first complete record with a valid CRC at or after `from`, if any. */
function validRecordAfter(bytes: Uint8Array, from: number, replay: WalReplay): number | undefined {
  for (let offset = from; offset + recordHeaderBytes <= bytes.byteLength; offset++) {
    if (!replay.knows(bytes[offset + 4]!)) continue;
    if (readRecord(bytes, offset).kind === 'record') return offset;
  }
  return undefined;
}

function isZero(bytes: Uint8Array, from: number): boolean {
  for (let i = from; i < bytes.byteLength; i++) if (bytes[i] !== 0) return false;
  return true;
}
