/**
 * The snapshot file: `snapshot`, replaced atomically by writing `snapshot.tmp` (or,
 * for one streamed in from a peer, `snapshot.incoming`), syncing it, renaming it over
 * `snapshot` and syncing the directory.
 *
 * Layout (little-endian): magic `SYNODSNP`, format version u16, slot f64, data length
 * u32, CRC-32 u32 over slot, length and data, then the data.
 */
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { InvariantError } from '../../core/index.js';
import { crc32Combine } from '../../encoding/crc32.js';
import { getF64, getU16, getU32, setF64, setU16, setU32 } from '../../encoding/little-endian.js';
import type { Snapshot, SnapshotReader } from '../../runtime/storage.js';
import { CorruptionError } from './errors.js';
import { type FileHandle, type FileSystem, hasCode, syncDirectory, writeFully } from './file-system.js';

/** The snapshot format this build writes and reads. */
const snapshotFormatVersion = 1;
export const snapshotFileName = 'snapshot';
const snapshotTempFileName = 'snapshot.tmp';
export const snapshotIncomingFileName = 'snapshot.incoming';
const magic = new TextEncoder().encode('SYNODSNP');
const headerBytes = magic.byteLength + 2 + 8 + 4 + 4;
const crcOffset = headerBytes - 4;
const slotOffset = magic.byteLength + 2;

/** Bytes of data written or checked at a time: about 1 ms of CRC between two turns of the event loop. */
const writePieceBytes = 2 * 1024 * 1024;

/**
 * Checks that `snapshot` can be saved.
 * @throws {@link InvariantError} if its slot is not a non-negative integer, its data not a Uint8Array, or over 4 GiB.
 */
export function checkSnapshot(snapshot: Snapshot): void {
  if (!Number.isSafeInteger(snapshot.slot) || snapshot.slot < 0) {
    throw new InvariantError(`FileStorage.saveSnapshot: slot must be a non-negative integer, got ${snapshot.slot}`);
  }
  if (!(snapshot.data instanceof Uint8Array)) throw new InvariantError('FileStorage.saveSnapshot: data must be a Uint8Array');
  if (snapshot.data.byteLength > 0xffffffff) throw new InvariantError(`FileStorage.saveSnapshot: ${snapshot.data.byteLength} bytes exceed 4 GiB`);
}

/** The header of the snapshot file for `slot` and data of `length` bytes, CRC-32 `crc` (see {@link checksumOf}). */
function encodeHeader(slot: number, length: number, crc: number): Uint8Array {
  const out = new Uint8Array(headerBytes);
  out.set(magic);
  setU16(out, magic.byteLength, snapshotFormatVersion);
  setF64(out, slotOffset, slot);
  setU32(out, slotOffset + 8, length);
  setU32(out, crcOffset, crc);
  return out;
}

/**
 * The snapshot `bytes` (read from `file`) hold. The CRC is computed a piece of
 * {@link writePieceBytes} at a time, with a turn of the event loop between pieces (a
 * 1 GB snapshot's CRC is half a second of work).
 *
 * @throws {@link CorruptionError} if they are damaged or of an unknown version.
 */
async function decodeSnapshot(file: string, bytes: Uint8Array): Promise<Snapshot> {
  const { slot, length, crc: stored } = decodeHeader(file, bytes);
  if (length !== bytes.byteLength - headerBytes) {
    throw new CorruptionError(file, slotOffset + 8, `data length ${length} does not match the ${bytes.byteLength - headerBytes} bytes after the header`);
  }
  const data = bytes.subarray(headerBytes);
  let crc = seedOf(slot, length);
  for (let at = 0; at < data.byteLength; at += writePieceBytes) {
    if (at > 0) await new Promise((resolve) => setImmediate(resolve));
    crc = crc32(data.subarray(at, Math.min(data.byteLength, at + writePieceBytes)), crc);
  }
  if (stored !== crc) throw new CorruptionError(file, crcOffset, 'CRC mismatch');
  // A view: `bytes` were just read for this call, so nothing else holds them.
  return { slot, data };
}

/** The fields of a snapshot file's header (its first {@link headerBytes} of `bytes`). */
function decodeHeader(file: string, bytes: Uint8Array): { slot: number; length: number; crc: number } {
  if (bytes.byteLength < headerBytes) throw new CorruptionError(file, 0, `${bytes.byteLength} bytes, shorter than the ${headerBytes}-byte header`);
  for (let i = 0; i < magic.byteLength; i++) {
    if (bytes[i] !== magic[i]) throw new CorruptionError(file, 0, 'bad magic: not a synod snapshot');
  }
  const version = getU16(bytes, magic.byteLength);
  if (version !== snapshotFormatVersion) {
    throw new CorruptionError(file, magic.byteLength, `unknown snapshot format version ${version}; this build reads version ${snapshotFormatVersion}`);
  }
  const slot = getF64(bytes, slotOffset);
  if (!Number.isSafeInteger(slot) || slot < 0) throw new CorruptionError(file, slotOffset, `slot ${slot} is not a non-negative integer`);
  return { slot, length: getU32(bytes, slotOffset + 8), crc: getU32(bytes, crcOffset) };
}

/** The CRC-32 of slot and length as the header lays them out: where the data's CRC starts. */
function seedOf(slot: number, length: number): number {
  const fields = new Uint8Array(crcOffset - slotOffset);
  setF64(fields, 0, slot);
  setU32(fields, 8, length);
  return crc32(fields);
}

/**
 * Replaces the snapshot in `dir` with `snapshot` (checked by {@link checkSnapshot}),
 * atomically and durably: the data is written straight from `snapshot.data` (no copy of
 * it is made; it must not change until this settles), a piece at a time, its CRC-32
 * computed piece by piece between the writes; then the header that holds the CRC.
 */
export async function writeSnapshotFile(fs: FileSystem, dir: string, snapshot: Snapshot): Promise<void> {
  const { slot, data } = snapshot;
  const temp = join(dir, snapshotTempFileName);
  await removeIfPresent(fs, temp);
  const handle = await fs.open(temp, 'wx');
  try {
    let crc = seedOf(slot, data.byteLength);
    for (let at = 0; at < data.byteLength; at += writePieceBytes) {
      const piece = data.subarray(at, Math.min(data.byteLength, at + writePieceBytes));
      crc = crc32(piece, crc);
      await writeFully(handle, piece, headerBytes + at);
    }
    await writeFully(handle, encodeHeader(slot, data.byteLength, crc), 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temp, join(dir, snapshotFileName));
  await syncDirectory(fs, dir);
}

/**
 * The snapshot in `dir`, if any. With `removeTemp` (when the directory is opened, and no
 * save can be under way) it first removes a leftover `snapshot.tmp` or `snapshot.incoming`
 * of a crashed save.
 */
export async function readSnapshotFile(fs: FileSystem, dir: string, options: { readonly removeTemp: boolean }): Promise<Snapshot | undefined> {
  if (options.removeTemp) await removeSnapshotTemps(fs, dir);
  const file = join(dir, snapshotFileName);
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(file);
  } catch (error) {
    if (hasCode(error, 'ENOENT')) return undefined;
    throw error;
  }
  return decodeSnapshot(file, bytes);
}

/**
 * Removes a leftover `snapshot.tmp` or `snapshot.incoming` of a crashed save from
 * `dir` (when no save can be under way), syncing the directory if it removed one.
 */
export async function removeSnapshotTemps(fs: FileSystem, dir: string): Promise<void> {
  const removed = [await removeIfPresent(fs, join(dir, snapshotTempFileName)), await removeIfPresent(fs, join(dir, snapshotIncomingFileName))];
  if (removed.includes(true)) await syncDirectory(fs, dir);
}

/**
 * Removes the snapshot of `dir` and any leftover of a save, then syncs the directory:
 * the snapshot is gone when it resolves.
 */
export async function removeSnapshotFiles(fs: FileSystem, dir: string): Promise<void> {
  for (const name of [snapshotFileName, snapshotTempFileName, snapshotIncomingFileName]) await removeIfPresent(fs, join(dir, name));
  await syncDirectory(fs, dir);
}

async function removeIfPresent(fs: FileSystem, file: string): Promise<boolean> {
  try {
    await fs.unlink(file);
    return true;
  } catch (error) {
    if (hasCode(error, 'ENOENT')) return false;
    throw error;
  }
}

/**
 * The snapshot in `dir`, to read a piece at a time, if any: its header is checked now,
 * its CRC as the reads go (see {@link SnapshotFileReader}). A file system whose handles
 * cannot read falls back to reading the file whole.
 */
export async function openSnapshotFile(fs: FileSystem, dir: string, checkedByCaller = false): Promise<SnapshotReader | undefined> {
  const file = join(dir, snapshotFileName);
  let handle: FileHandle;
  try {
    handle = await fs.open(file, 'r');
  } catch (error) {
    if (hasCode(error, 'ENOENT')) return undefined;
    throw error;
  }
  try {
    const read = handle.read?.bind(handle);
    if (read === undefined) {
      await handle.close();
      const whole = await readSnapshotFile(fs, dir, { removeTemp: false });
      return whole === undefined ? undefined : new WholeSnapshotReader(whole);
    }
    const header = new Uint8Array(headerBytes);
    const { bytesRead } = await read(header, 0, headerBytes, 0);
    const { slot, length, crc } = decodeHeader(file, header.subarray(0, bytesRead));
    return new SnapshotFileReader(file, handle, read, slot, length, crc, checkedByCaller);
  } catch (error) {
    await handle.close().catch(() => undefined);
    throw error;
  }
}

/** A snapshot held in memory, read by pieces (views of it). */
class WholeSnapshotReader implements SnapshotReader {
  readonly slot: number;
  readonly byteLength: number;
  private data: Uint8Array | undefined;

  constructor(snapshot: Snapshot) {
    this.slot = snapshot.slot;
    this.byteLength = snapshot.data.byteLength;
    this.data = snapshot.data;
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    const data = this.data;
    if (data === undefined) return Promise.reject(new InvariantError('SnapshotReader.read: the reader is closed'));
    checkRange(offset, length, this.byteLength);
    return Promise.resolve(data.subarray(offset, offset + length));
  }

  close(): Promise<void> {
    this.data = undefined;
    return Promise.resolve();
  }
}

function checkRange(offset: number, length: number, byteLength: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > byteLength) {
    throw new InvariantError(`SnapshotReader.read: ${length} bytes at ${offset} are not within the ${byteLength}-byte snapshot`);
  }
}

/**
 * The snapshot file open for reading. Its CRC is computed over the bytes as they are
 * read in order (a sender reads a snapshot front to back, and goes back only over what
 * it read already); the read that reaches the end checks it, reading what an
 * out-of-order caller skipped, and rejects with {@link CorruptionError} on a mismatch
 * or bytes after the data. The open handle keeps the file it opened, even if a later
 * save renames another over it.
 */
class SnapshotFileReader implements SnapshotReader {
  /** The CRC of the header fields and the data before {@link checkedTo}. */
  private crc: number;
  private checkedTo = 0;
  private closed = false;

  constructor(
    private readonly file: string,
    private readonly handle: FileHandle,
    private readonly readAt: NonNullable<FileHandle['read']>,
    readonly slot: number,
    readonly byteLength: number,
    private readonly storedCrc: number,
    /** The caller checks the CRC (against {@link dataCrc32}): this reader computes none. */
    private readonly checkedByCaller: boolean,
  ) {
    this.crc = seedOf(slot, byteLength);
    // The stored CRC covers the header's slot and length, then the data: the data's own
    // CRC is what is left once the seed's part is taken out (CRC-32 is affine).
    if (checkedByCaller) this.dataCrc32 = (storedCrc ^ crc32Combine(this.crc, 0, byteLength)) >>> 0;
  }

  readonly dataCrc32?: number;

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (this.closed) throw new InvariantError('SnapshotReader.read: the reader is closed');
    checkRange(offset, length, this.byteLength);
    const bytes = await this.readFully(offset, length);
    if (this.checkedByCaller) {
      if (offset + length === this.byteLength) await this.checkEnd();
      return bytes;
    }
    if (offset <= this.checkedTo && offset + length > this.checkedTo) {
      this.crc = crc32(bytes.subarray(this.checkedTo - offset), this.crc);
      this.checkedTo = offset + length;
    }
    if (offset + length === this.byteLength) await this.checkWhole();
    return bytes;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }

  /** Reads what the CRC has not covered yet, then compares it; also refuses bytes past the data. */
  private async checkWhole(): Promise<void> {
    while (this.checkedTo < this.byteLength) {
      const piece = await this.readFully(this.checkedTo, Math.min(writePieceBytes, this.byteLength - this.checkedTo));
      this.crc = crc32(piece, this.crc);
      this.checkedTo += piece.byteLength;
    }
    if (this.crc !== this.storedCrc) throw new CorruptionError(this.file, crcOffset, 'CRC mismatch');
    await this.checkEnd();
  }

  /** Refuses a file with bytes after the data its header announces. */
  private async checkEnd(): Promise<void> {
    const { bytesRead } = await this.readAt(new Uint8Array(1), 0, 1, headerBytes + this.byteLength);
    if (bytesRead !== 0) throw new CorruptionError(this.file, slotOffset + 8, `bytes after the ${this.byteLength} bytes of data the header announces`);
  }

  private async readFully(offset: number, length: number): Promise<Uint8Array> {
    // Not zero-filled first: every byte is read into it, or the read throws.
    const bytes: Uint8Array = Buffer.allocUnsafeSlow(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await this.readAt(bytes, got, length - got, headerBytes + offset + got);
      if (bytesRead === 0)
        throw new CorruptionError(this.file, headerBytes + offset + got, `the file ends inside the ${this.byteLength} bytes of data the header announces`);
      got += bytesRead;
    }
    return bytes;
  }
}

/**
 * A snapshot streamed in a piece at a time into `snapshot.incoming`: each piece is
 * written as it comes, its CRC computed on the way, and the data synced every
 * {@link incomingSyncBytes}, beside the writes that follow, so that the sync at commit
 * has little left to do. The
 * commit (header, sync, rename over `snapshot`, directory sync) runs through `commitTask`,
 * the storage's queue, so it keeps call order with the storage's other writes.
 * @internal
 */
export class SnapshotFileWriter {
  private handle: Promise<FileHandle> | undefined;
  /** Writes in order, one after the other; the first failure stays. */
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown;
  private written = 0;
  private unsynced = 0;
  /** The data sync under way, if any: it never rejects (a failure is kept in `failure`). */
  private syncing: Promise<void> = Promise.resolve();
  private crc: number;
  private ended = false;
  /** Once committed or aborted: settles when that is done (the file renamed or removed). */
  private settled: Promise<void> | undefined;

  constructor(
    private readonly fs: FileSystem,
    private readonly dir: string,
    readonly slot: number,
    readonly byteLength: number,
    /** The CRC comes from the caller, given to {@link commit}: the writes compute none. */
    private readonly crcByCaller: boolean,
    /** The previous writer's abort: it removes the file this one creates. */
    private readonly previous: Promise<void>,
    private readonly commitTask: (run: () => Promise<void>) => Promise<void>,
  ) {
    this.crc = seedOf(slot, byteLength);
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.ended) return Promise.reject(new InvariantError('SnapshotWriter.write: the writer was committed or aborted'));
    if (this.written + bytes.byteLength > this.byteLength) {
      return Promise.reject(new InvariantError(`SnapshotWriter.write: ${this.written + bytes.byteLength} bytes exceed the ${this.byteLength} announced`));
    }
    const position = headerBytes + this.written;
    this.written += bytes.byteLength;
    if (!this.crcByCaller) this.crc = crc32(bytes, this.crc);
    const done = this.chain.then(async () => {
      if (this.failure !== undefined) throw this.failure;
      try {
        const handle = await this.open();
        await writeFully(handle, bytes, position);
        this.unsynced += bytes.byteLength;
        if (this.unsynced >= incomingSyncBytes) {
          // The sync runs beside the next writes rather than before them: the disk
          // flushes while the socket delivers. One at a time; the commit waits for it.
          this.unsynced = 0;
          await this.syncing;
          this.syncing = handle.datasync().catch((error: unknown) => {
            this.failure ??= error;
          });
        }
      } catch (error) {
        this.failure ??= error;
        throw error;
      }
    });
    this.chain = done.catch(() => undefined);
    return done;
  }

  commit(dataCrc32?: number): Promise<void> {
    if (this.ended) return Promise.reject(new InvariantError('SnapshotWriter.commit: the writer was committed or aborted'));
    if (this.crcByCaller && (!Number.isInteger(dataCrc32) || dataCrc32! < 0 || dataCrc32! > 0xffffffff)) {
      return Promise.reject(new InvariantError(`SnapshotWriter.commit: the writer was created with dataCrc32ByCaller, and got no CRC-32 (${dataCrc32})`));
    }
    this.ended = true;
    if (this.crcByCaller) this.crc = crc32Combine(this.crc, dataCrc32!, this.byteLength);
    if (this.written !== this.byteLength) {
      const error = new InvariantError(`SnapshotWriter.commit: ${this.written} bytes written of the ${this.byteLength} announced`);
      this.settled = this.discard();
      return this.settled.then(() => Promise.reject(error));
    }
    const committed = this.commitTask(async () => {
      await this.chain;
      await this.syncing;
      if (this.failure !== undefined) throw this.failure;
      const handle = await this.open();
      try {
        await writeFully(handle, encodeHeader(this.slot, this.byteLength, this.crc), 0);
        await handle.sync();
      } finally {
        this.handle = undefined;
        await handle.close();
      }
      await this.fs.rename(join(this.dir, snapshotIncomingFileName), join(this.dir, snapshotFileName));
      await syncDirectory(this.fs, this.dir);
    });
    this.settled = committed.then(
      () => undefined,
      () => undefined,
    );
    return committed;
  }

  /**
   * Drops the snapshot being written. After a commit it changes nothing, and settles
   * once the commit is done: the next writer creates the same file, and must not before
   * this one's was renamed (it would have been renamed in its place, its header zeros).
   */
  abort(): Promise<void> {
    if (this.ended) return this.settled ?? Promise.resolve();
    this.ended = true;
    this.settled = this.discard();
    return this.settled;
  }

  /** Closes and removes the incoming file; never rejects (a leftover is removed at the next open). */
  private async discard(): Promise<void> {
    await this.chain;
    await this.syncing;
    const handle = this.handle;
    this.handle = undefined;
    if (handle === undefined) return;
    try {
      await (await handle).close();
    } catch {
      // Opening failed, or closing did: nothing more to do with it.
    }
    await removeIfPresent(this.fs, join(this.dir, snapshotIncomingFileName)).catch(() => undefined);
  }

  private open(): Promise<FileHandle> {
    this.handle ??= (async () => {
      await this.previous;
      const path = join(this.dir, snapshotIncomingFileName);
      await removeIfPresent(this.fs, path);
      return this.fs.open(path, 'wx');
    })();
    return this.handle;
  }
}

/** Bytes of a streamed-in snapshot written between two syncs of its data. */
const incomingSyncBytes = 8 * 1024 * 1024;
