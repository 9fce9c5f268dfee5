/**
 * The snapshot reads a file storage has under way and the readers it has open: they
 * do not wait in its write queue, so its `close` waits for the ones and closes the
 * others. @internal
 */
import type { SnapshotReader } from '../../runtime/storage.js';

/** Snapshot reads under way and snapshot readers open, of one storage. @internal */
export class SnapshotReads {
  // Made at the first read: most groups of a shared log never read a snapshot.
  private reads: Set<Promise<unknown>> | undefined;
  private readers: Set<SnapshotReader> | undefined;

  /** Keeps `read` until it settles, for {@link settled}; returns it. */
  track<T>(read: Promise<T>): Promise<T> {
    const reads = (this.reads ??= new Set());
    reads.add(read);
    const done = (): void => {
      reads.delete(read);
      // Every storage reads its snapshot at the start: an empty set is not kept for life.
      if (reads.size === 0 && this.reads === reads) this.reads = undefined;
    };
    read.then(done, done);
    return read;
  }

  /** Keeps the opening (as {@link track}) and the reader it gives, until that reader is closed, for {@link closeReaders}. */
  open(opening: Promise<SnapshotReader | undefined>): Promise<SnapshotReader | undefined> {
    const open = opening.then((reader) => {
      if (reader === undefined) return undefined;
      const readers = (this.readers ??= new Set());
      const tracked: SnapshotReader = {
        slot: reader.slot,
        byteLength: reader.byteLength,
        ...(reader.dataCrc32 === undefined ? {} : { dataCrc32: reader.dataCrc32 }),
        read: (offset, length) => reader.read(offset, length),
        close: () => {
          readers.delete(tracked);
          return reader.close();
        },
      };
      readers.add(tracked);
      return tracked;
    });
    return this.track(open);
  }

  /** Resolves once every read under way now has settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...(this.reads ?? [])]);
  }

  /** Closes every reader open. */
  async closeReaders(): Promise<void> {
    await Promise.allSettled([...(this.readers ?? [])].map((reader) => reader.close()));
  }
}
