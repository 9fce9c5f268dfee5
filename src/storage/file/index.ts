/**
 * `synod/file-storage`: the durable, Node-only {@link FileStorage}.
 */
export {
  FileStorage,
  type FileStorageOptions,
  type FileStorageStats,
  preallocateBytesDefault,
  segmentBytesMaxDefault,
  unwrittenBytesMax,
} from './file-storage.js';
export { ClusterMismatchError, CorruptionError, LockedError, StorageFailedError } from './errors.js';
export { type FileSystem, type FileHandle, nodeFileSystem } from './file-system.js';
export { FaultyFileSystem, type FaultOptions, type CrashOptions, type FileSystemOp } from './faulty-file-system.js';
