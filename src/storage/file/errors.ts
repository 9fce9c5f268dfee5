/**
 * The errors of the file storage. Each extends {@link SynodError} with a stable
 * `code`, and matches `instanceof` across duplicate copies of the package.
 */
import { SynodError } from '../../core/errors.js';

/**
 * A file of the storage is damaged somewhere other than a torn tail (which recovery
 * truncates), or written in a format this build does not read. The storage refuses to
 * open: nothing is repaired or dropped silently.
 */
export class CorruptionError extends SynodError {
  /** The damaged file's path. */
  readonly file: string;
  /** The byte offset in `file` where the damage starts. */
  readonly offset: number;

  constructor(file: string, offset: number, why: string, options?: { cause?: unknown }) {
    super('CORRUPTION', `${file} at byte ${offset}: ${why}`, options);
    this.file = file;
    this.offset = offset;
  }
}

/** Another live process holds the data directory's lock file. */
export class LockedError extends SynodError {
  /** The lock file's path. */
  readonly lockFile: string;
  /** The process that holds the lock. */
  readonly pid: number;

  constructor(lockFile: string, pid: number) {
    super('LOCKED', `${lockFile} is held by the live process ${pid}; one process at a time may use a data directory`);
    this.lockFile = lockFile;
    this.pid = pid;
  }
}

/**
 * The data directory belongs to another cluster than the one it is opened for (see
 * `FileStorageOptions.clusterId`): nothing was read or written. A member's data served
 * in another cluster (an old cluster's member joining a restored one, or the other way
 * round) could vote with a log that cluster never chose.
 */
export class ClusterMismatchError extends SynodError {
  /** The data directory. */
  readonly dir: string;
  /** The cluster the directory belongs to. */
  readonly recorded: string;
  /** The cluster it was opened for. */
  readonly expected: string;

  constructor(dir: string, recorded: string, expected: string) {
    super(
      'CLUSTER_MISMATCH',
      `${dir} belongs to cluster ${JSON.stringify(recorded)}, not ${JSON.stringify(expected)}; a member's data cannot move to another cluster (give a new member an empty directory)`,
    );
    this.dir = dir;
    this.recorded = recorded;
    this.expected = expected;
  }
}

/**
 * A write or an fsync failed (EIO, ENOSPC, ...): the storage failed closed. The call
 * that hit the failure and every later call reject with this error (`cause` is the
 * original one) until the storage is reopened, which recovers what was durable.
 */
export class StorageFailedError extends SynodError {
  constructor(what: string, options: { cause: unknown }) {
    super('STORAGE_FAILED', `${what} failed: ${describe(options.cause)}; the storage failed closed, reopen it to recover`, options);
  }
}

function describe(cause: unknown): string {
  if (cause instanceof Error) {
    const { code, path } = cause as { code?: unknown; path?: unknown };
    // Node names the path in the message of path calls, not of calls on a handle.
    const where = typeof path === 'string' && !cause.message.includes(path) ? ` on ${path}` : '';
    return typeof code === 'string' ? `${code}${where} (${cause.message})` : `${cause.message}${where}`;
  }
  return String(cause);
}
