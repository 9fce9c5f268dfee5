/**
 * The backup file `synod snapshot save` writes and `synod snapshot restore` reads: a
 * consistent snapshot of a KV cluster, the cluster it came from, and a SHA-256 over
 * everything, so that a damaged or cut-off file is refused before anything is done
 * with it.
 *
 * Layout: magic `SYNODBAK`, format version u16 (little-endian), then varint-framed
 * fields (the wire layer's `Writer`): the cluster id, the slot the snapshot covers,
 * when it was saved (ms since the epoch, for display only), the snapshot's bytes (the
 * runtime snapshot format: the runtime's state, then the KV's); then the SHA-256 of
 * every byte before it (32 bytes).
 */
import { createHash } from 'node:crypto';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigError } from '../core/index.js';
import { kvResultCodec, readString, writeString } from '../kv/kv-codec.js';
import { decodeKvSnapshot } from '../kv/kv-snapshot.js';
import type { KvResult } from '../kv/kv-command.js';
import { type RuntimeState, decodeSnapshot } from '../runtime/snapshot-format.js';
import { CorruptionError } from '../storage/file/index.js';
import { Reader } from '../encoding/reader.js';
import { Writer } from '../encoding/writer.js';

/** The backup format this build writes and reads. */
const backupFormatVersion = 1;
const magic = new TextEncoder().encode('SYNODBAK');
const versionBytes = 2;
const digestBytes = 32;
/** Longest cluster id, in bytes (as the file storage's cluster-id file). */
const clusterIdBytesMax = 255;
/** Largest snapshot a backup holds: what a stored snapshot may hold. */
const snapshotBytesMax = 0xffffffff;

/** What a backup file holds. */
export interface Backup {
  /** The cluster the snapshot was taken of. */
  readonly clusterId: string;
  /** Every slot up to this one is reflected in `data`. */
  readonly slot: number;
  /** When it was saved, in ms since the epoch (the saving machine's clock: for display only). */
  readonly savedAt: number;
  /** The snapshot, in the runtime snapshot format. */
  readonly data: Uint8Array;
}

/** A backup's snapshot, decoded: what restore starts from and what save and info report. */
export interface BackupContents {
  readonly state: RuntimeState<KvResult>;
  /** The KV state machine's snapshot bytes. */
  readonly machine: Uint8Array;
  /** The KV's revision, the revision its history was compacted to, and its live keys. */
  readonly revision: number;
  readonly compactRevision: number;
  readonly keys: number;
}

/** The header (magic, version, cluster id, slot, time, the snapshot's length) ahead of the snapshot's bytes. */
function encodeHeader(backup: Backup): Uint8Array {
  const w = new Writer(64);
  for (const b of magic) w.u8(b);
  w.u8(backupFormatVersion & 0xff);
  w.u8(backupFormatVersion >> 8);
  writeString(w, 'cluster id', backup.clusterId, clusterIdBytesMax);
  w.uint(backup.slot);
  w.uint(backup.savedAt);
  w.uint(backup.data.byteLength);
  return w.finish().slice();
}

/**
 * The backup `bytes` (read from `file`) hold; checks the magic, the version and the
 * SHA-256 before anything else is read.
 * @throws {@link CorruptionError} if the file is not a backup, of another format
 *   version, damaged, or cut short.
 */
export function decodeBackup(file: string, bytes: Uint8Array): Backup {
  const fixed = magic.byteLength + versionBytes;
  if (bytes.byteLength < fixed + digestBytes) throw new CorruptionError(file, 0, `${bytes.byteLength} bytes, too short for a synod backup`);
  for (let i = 0; i < magic.byteLength; i++) if (bytes[i] !== magic[i]) throw new CorruptionError(file, 0, 'bad magic: not a synod backup');
  const version = bytes[magic.byteLength]! | (bytes[magic.byteLength + 1]! << 8);
  if (version !== backupFormatVersion)
    throw new CorruptionError(file, magic.byteLength, `backup format version ${version}; this synod reads version ${backupFormatVersion}`);
  const end = bytes.byteLength - digestBytes;
  const digest = createHash('sha256').update(bytes.subarray(0, end)).digest();
  if (!digest.equals(bytes.subarray(end))) throw new CorruptionError(file, end, 'SHA-256 mismatch: the file is damaged or cut short');
  const r = new Reader(bytes.subarray(0, end), fixed);
  try {
    const clusterId = readString(r, 'cluster id', clusterIdBytesMax);
    const slot = r.uint('slot');
    const savedAt = r.uint('saved at');
    const data = r.bytesOf('snapshot', snapshotBytesMax);
    r.end();
    if (clusterId === '') throw new Error('the cluster id is empty');
    if (slot < 1) throw new Error('slot 0: a snapshot covers at least one slot');
    return { clusterId, slot, savedAt, data };
  } catch (error) {
    throw new CorruptionError(file, fixed, `the header does not decode: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/**
 * The snapshot of a backup (read from `file`), decoded down to the KV's records.
 * @throws {@link CorruptionError} if it does not decode.
 */
export function backupContents(file: string, backup: Backup): BackupContents {
  try {
    const { state, machine } = decodeSnapshot(backup.data, kvResultCodec);
    const kv = decodeKvSnapshot(machine);
    let keys = 0;
    for (const key of kv.store.allHistories()) if (kv.store.latest(key[0]) !== undefined) keys++;
    return { state, machine, revision: kv.store.revision, compactRevision: kv.store.compactRevision, keys };
  } catch (error) {
    throw new CorruptionError(
      file,
      magic.byteLength + versionBytes,
      `the snapshot inside does not decode: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

/** Reads, checks and decodes the backup `file`. @throws {@link CorruptionError}, or the file system's error. */
export async function readBackup(file: string): Promise<{ backup: Backup; contents: BackupContents; sha256: string }> {
  const buffer = await readFile(file);
  const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const backup = decodeBackup(file, bytes);
  return { backup, contents: backupContents(file, backup), sha256: Buffer.from(bytes.subarray(bytes.byteLength - digestBytes)).toString('hex') };
}

/**
 * Writes `backup` to `file`, which must not exist: to a temporary file beside it,
 * synced, renamed into place, the directory synced. Returns the file's SHA-256 (hex).
 * @throws {@link ConfigError} if `file` exists (a backup never replaces another).
 */
export async function writeBackup(file: string, backup: Backup): Promise<string> {
  await refuseExisting(file);
  const header = encodeHeader(backup);
  const digest = createHash('sha256').update(header).update(backup.data).digest();
  const temp = `${file}.tmp-${process.pid}`;
  const handle = await open(temp, 'wx');
  try {
    let position = 0;
    for (const part of [header, backup.data, digest]) {
      for (let written = 0; written < part.byteLength; ) {
        const { bytesWritten } = await handle.write(part, written, part.byteLength - written, position);
        written += bytesWritten;
        position += bytesWritten;
      }
    }
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await refuseExisting(file);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  const dir = await open(dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
  return digest.toString('hex');
}

/** @throws {@link ConfigError} if `file` exists. */
export async function refuseExisting(file: string): Promise<void> {
  const found = await stat(file).then(
    () => true,
    (error: unknown) => {
      if ((error as { code?: unknown }).code === 'ENOENT') return false;
      throw error;
    },
  );
  if (found) throw new ConfigError('synod snapshot save', 'FILE', `${file} exists: a backup never replaces another; name a new file`);
}
