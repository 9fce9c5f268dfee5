/**
 * The cluster-id file: the name of the cluster a data directory belongs to, recorded
 * by the first open that gives one (see `FileStorageOptions.clusterId`), so that the
 * directory is never served in another cluster by mistake.
 *
 * Layout (little-endian): magic `SYNODCID`, format version u16, id length u16, CRC-32
 * u32 of the id, then the id in UTF-8. Written to `cluster-id.tmp`, synced, renamed
 * over `cluster-id`, and the directory synced.
 */
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { ClusterMismatchError, CorruptionError } from './errors.js';
import { type FileSystem, hasCode, syncDirectory, writeFully } from './file-system.js';
import { getU16, getU32, setU16, setU32 } from '../../encoding/little-endian.js';

const clusterIdFileName = 'cluster-id';
const tempFileName = 'cluster-id.tmp';
const formatVersion = 1;
const magic = new TextEncoder().encode('SYNODCID');
const headerBytes = magic.byteLength + 2 + 2 + 4;
/** Longest cluster id, in UTF-8 bytes (the handshakes carry at most 255). */
export const clusterIdBytesMax = 255;

const decoder = new TextDecoder('utf-8', { fatal: true });

/** The bytes of the cluster-id file naming `clusterId`. */
function encodeClusterId(clusterId: string): Uint8Array {
  const id = new TextEncoder().encode(clusterId);
  const out = new Uint8Array(headerBytes + id.byteLength);
  out.set(magic);
  setU16(out, magic.byteLength, formatVersion);
  setU16(out, magic.byteLength + 2, id.byteLength);
  setU32(out, magic.byteLength + 4, crc32(id));
  out.set(id, headerBytes);
  return out;
}

/**
 * The cluster id `bytes` (read from `file`) name.
 * @throws {@link CorruptionError} if they are damaged or of an unknown version.
 */
function decodeClusterId(file: string, bytes: Uint8Array): string {
  if (bytes.byteLength < headerBytes) throw new CorruptionError(file, 0, `${bytes.byteLength} bytes, shorter than the ${headerBytes}-byte header`);
  for (let i = 0; i < magic.byteLength; i++) if (bytes[i] !== magic[i]) throw new CorruptionError(file, 0, 'bad magic: not a synod cluster-id file');
  const version = getU16(bytes, magic.byteLength);
  if (version !== formatVersion)
    throw new CorruptionError(file, magic.byteLength, `unknown cluster-id format version ${version}; this build reads version ${formatVersion}`);
  const length = getU16(bytes, magic.byteLength + 2);
  if (length === 0 || length !== bytes.byteLength - headerBytes)
    throw new CorruptionError(file, magic.byteLength + 2, `id length ${length} does not match the ${bytes.byteLength - headerBytes} bytes after the header`);
  const id = bytes.subarray(headerBytes);
  if (getU32(bytes, magic.byteLength + 4) !== crc32(id)) throw new CorruptionError(file, magic.byteLength + 4, 'CRC mismatch');
  try {
    return decoder.decode(id);
  } catch (error) {
    throw new CorruptionError(file, headerBytes, 'the id is not UTF-8', { cause: error });
  }
}

/**
 * Binds `dir` to `clusterId`: records it if the directory names no cluster yet, and
 * refuses (ClusterMismatchError) if it names another.
 */
export async function bindClusterId(fs: FileSystem, dir: string, clusterId: string): Promise<void> {
  const file = join(dir, clusterIdFileName);
  let bytes: Uint8Array | undefined;
  try {
    bytes = await fs.readFile(file);
  } catch (error) {
    if (!hasCode(error, 'ENOENT')) throw error;
  }
  if (bytes !== undefined) {
    const recorded = decodeClusterId(file, bytes);
    if (recorded !== clusterId) throw new ClusterMismatchError(dir, recorded, clusterId);
    return;
  }
  const temp = join(dir, tempFileName);
  try {
    await fs.unlink(temp);
  } catch (error) {
    if (!hasCode(error, 'ENOENT')) throw error;
  }
  const handle = await fs.open(temp, 'wx');
  try {
    await writeFully(handle, encodeClusterId(clusterId), 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temp, file);
  await syncDirectory(fs, dir);
}
