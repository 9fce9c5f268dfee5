/**
 * `synod/file-storage`: the durable, Node-only {@link FileStorage}, and the
 * {@link SharedFileLog} that keeps many groups in one log.
 */
export {
  FileStorage,
  type FileStorageOptions,
  type FileStorageStats,
  preallocateBytesDefault,
  segmentBytesMaxDefault,
  unwrittenBytesMax,
} from './file-storage.js';
export { SharedFileLog, type SharedFileLogOptions, type SharedFileLogStats } from './shared-file-log.js';
export { ClusterMismatchError, CorruptionError, LockedError, StorageFailedError } from './errors.js';
export { type FileSystem, type FileHandle, nodeFileSystem } from './file-system.js';
export { FaultyFileSystem, type FaultOptions, type CrashOptions, type FileSystemOp } from './faulty-file-system.js';
