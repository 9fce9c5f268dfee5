/**
 * The snapshot file: `snapshot`, replaced atomically by writing `snapshot.tmp`,
 * syncing it, renaming it over `snapshot` and syncing the directory.
 *
 * Layout (little-endian): magic `SYNODSNP`, format version u16, slot f64, data length
 * u32, CRC-32 u32 over slot, length and data, then the data.
 */
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { InvariantError } from '../../core/index.js';
import type { Snapshot } from '../../runtime/storage.js';
import { CorruptionError } from './errors.js';
import { type FileSystem, hasCode, syncDirectory, writeFully } from './file-system.js';

/** The snapshot format this build writes and reads. */
export const snapshotFormatVersion = 1;
export const snapshotFileName = 'snapshot';
export const snapshotTempFileName = 'snapshot.tmp';
const magic = new TextEncoder().encode('SYNODSNP');
const headerBytes = magic.byteLength + 2 + 8 + 4 + 4;
const crcOffset = headerBytes - 4;
const slotOffset = magic.byteLength + 2;

/** Bytes of data written or checked at a time: a few ms of CRC between two turns of the event loop. */
const writePieceBytes = 8 * 1024 * 1024;

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
  const view = new DataView(out.buffer);
  out.set(magic);
  view.setUint16(magic.byteLength, snapshotFormatVersion, true);
  view.setFloat64(slotOffset, slot, true);
  view.setUint32(slotOffset + 8, length, true);
  view.setUint32(crcOffset, crc, true);
  return out;
}

/**
 * The snapshot `bytes` (read from `file`) hold. The CRC is computed a piece of
 * {@link writePieceBytes} at a time, with a turn of the event loop between pieces (a
 * 1 GB snapshot's CRC is half a second of work).
 *
 * @throws {@link CorruptionError} if they are damaged or of an unknown version.
 */
export async function decodeSnapshot(file: string, bytes: Uint8Array): Promise<Snapshot> {
  if (bytes.byteLength < headerBytes) throw new CorruptionError(file, 0, `${bytes.byteLength} bytes, shorter than the ${headerBytes}-byte header`);
  for (let i = 0; i < magic.byteLength; i++) {
    if (bytes[i] !== magic[i]) throw new CorruptionError(file, 0, 'bad magic: not a synod snapshot');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(magic.byteLength, true);
  if (version !== snapshotFormatVersion) {
    throw new CorruptionError(file, magic.byteLength, `unknown snapshot format version ${version}; this build reads version ${snapshotFormatVersion}`);
  }
  const slot = view.getFloat64(slotOffset, true);
  if (!Number.isSafeInteger(slot) || slot < 0) throw new CorruptionError(file, slotOffset, `slot ${slot} is not a non-negative integer`);
  const length = view.getUint32(slotOffset + 8, true);
  if (length !== bytes.byteLength - headerBytes) {
    throw new CorruptionError(file, slotOffset + 8, `data length ${length} does not match the ${bytes.byteLength - headerBytes} bytes after the header`);
  }
  const stored = view.getUint32(crcOffset, true);
  const data = bytes.subarray(headerBytes);
  let crc = crc32(bytes.subarray(slotOffset, crcOffset));
  for (let at = 0; at < data.byteLength; at += writePieceBytes) {
    if (at > 0) await new Promise((resolve) => setImmediate(resolve));
    crc = crc32(data.subarray(at, Math.min(data.byteLength, at + writePieceBytes)), crc);
  }
  if (stored !== crc) throw new CorruptionError(file, crcOffset, 'CRC mismatch');
  // A view: `bytes` were just read for this call, so nothing else holds them.
  return { slot, data };
}

/** The CRC-32 of slot and length as the header lays them out: where the data's CRC starts. */
function seedOf(slot: number, length: number): number {
  const fields = new Uint8Array(crcOffset - slotOffset);
  const view = new DataView(fields.buffer);
  view.setFloat64(0, slot, true);
  view.setUint32(8, length, true);
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
 * save can be under way) it first removes a leftover `snapshot.tmp` of a crashed save.
 */
export async function readSnapshotFile(fs: FileSystem, dir: string, options: { readonly removeTemp: boolean }): Promise<Snapshot | undefined> {
  if (options.removeTemp && (await removeIfPresent(fs, join(dir, snapshotTempFileName)))) await syncDirectory(fs, dir);
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

async function removeIfPresent(fs: FileSystem, file: string): Promise<boolean> {
  try {
    await fs.unlink(file);
    return true;
  } catch (error) {
    if (hasCode(error, 'ENOENT')) return false;
    throw error;
  }
}
