/**
 * The few file-system calls the file storage makes, as an interface, so that tests can
 * inject faults (a failing fsync, a full disk) around the real `node:fs/promises`.
 */
import { fdatasyncSync, promises as fsp, writeSync } from 'node:fs';

/** An open file. Positions and lengths are in bytes. */
export interface FileHandle {
  /** Writes `length` bytes of `data` from `offset` at file position `position`; may write fewer. */
  write(data: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  /**
   * Optional: reads up to `length` bytes at file position `position` into `buffer` from
   * `offset`; fewer at the end of the file. Without it, FileStorage reads a snapshot whole
   * where it would read it a piece at a time.
   */
  read?(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  /** fdatasync(2): the file's data (and its size) are durable when it resolves. */
  datasync(): Promise<void>;
  /** fsync(2): the file's data and metadata are durable; on a directory, its entries. */
  sync(): Promise<void>;
  /** Cuts the file to `length` bytes. */
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
  /**
   * Optional, with {@link datasyncSync}: {@link write} as a system call on the calling
   * thread, returning the bytes written. A handle with both lets FileStorage append small
   * records to its log without two trips through libuv's thread pool (see
   * `FileStorageOptions.syncOnEventLoop`).
   */
  writeSync?(data: Uint8Array, offset: number, length: number, position: number): number;
  /** Optional, with {@link writeSync}: {@link datasync} on the calling thread. */
  datasyncSync?(): void;
}

/** The file-system calls the file storage uses (a subset of `node:fs/promises`). */
export interface FileSystem {
  /** Creates `path` and its missing parents; no error if it exists. */
  mkdir(path: string): Promise<void>;
  /** The names in directory `path`. */
  readdir(path: string): Promise<string[]>;
  /** The whole content of `path`. Rejects with code `ENOENT` if it does not exist. */
  readFile(path: string): Promise<Uint8Array>;
  /**
   * Opens `path` with `flags`: `'r'` (read; also used to fsync a directory), `'r+'`
   * (read and write an existing file) or `'wx'` (create a new file, `EEXIST` if present).
   */
  open(path: string, flags: 'r' | 'r+' | 'wx'): Promise<FileHandle>;
  /** Renames `from` to `to` atomically, replacing `to`. */
  rename(from: string, to: string): Promise<void>;
  /** Removes `path`. Rejects with code `ENOENT` if it does not exist. */
  unlink(path: string): Promise<void>;
}

/** The real file system, over `node:fs/promises`. */
export const nodeFileSystem: FileSystem = Object.freeze({
  async mkdir(path: string): Promise<void> {
    await fsp.mkdir(path, { recursive: true });
  },
  readdir: (path: string) => fsp.readdir(path),
  async readFile(path: string): Promise<Uint8Array> {
    // One read of the whole file where fs.readFile makes one per 512 KiB, each a trip
    // through the thread pool and back to the event loop: 200 of them for a 100 MB
    // snapshot, slow on a busy loop.
    const handle = await fsp.open(path, 'r');
    try {
      const { size } = await handle.stat();
      const bytes = new Uint8Array(size);
      let length = 0;
      while (length < size) {
        const { bytesRead } = await handle.read(bytes, length, size - length, length);
        if (bytesRead === 0) return bytes.subarray(0, length); // it shrank since stat
        length += bytesRead;
      }
      // It may have grown since stat: read on until the end.
      const more: Uint8Array[] = [];
      for (;;) {
        const piece = new Uint8Array(64 * 1024);
        const { bytesRead } = await handle.read(piece, 0, piece.byteLength, length);
        if (bytesRead === 0) break;
        more.push(piece.subarray(0, bytesRead));
        length += bytesRead;
      }
      if (more.length === 0) return bytes;
      const whole = new Uint8Array(length);
      whole.set(bytes);
      let at = size;
      for (const piece of more) {
        whole.set(piece, at);
        at += piece.byteLength;
      }
      return whole;
    } finally {
      await handle.close();
    }
  },
  async open(path: string, flags: 'r' | 'r+' | 'wx'): Promise<FileHandle> {
    const handle = await fsp.open(path, flags);
    const { fd } = handle;
    return {
      write: (data, offset, length, position) => handle.write(data, offset, length, position),
      read: (buffer, offset, length, position) => handle.read(buffer, offset, length, position),
      datasync: () => handle.datasync(),
      sync: () => handle.sync(),
      truncate: (length) => handle.truncate(length),
      close: () => handle.close(),
      writeSync: (data, offset, length, position) => writeSync(fd, data, offset, length, position),
      datasyncSync: () => fdatasyncSync(fd),
    };
  },
  rename: (from: string, to: string) => fsp.rename(from, to),
  unlink: (path: string) => fsp.unlink(path),
});

/**
 * Makes the entries of directory `dir` durable (a created, renamed or deleted file).
 * @internal
 */
export async function syncDirectory(fs: FileSystem, dir: string): Promise<void> {
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes all of `data` at `position`, looping over short writes.
 * @internal
 */
export async function writeFully(handle: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let written = 0;
  while (written < data.byteLength) {
    const { bytesWritten } = await handle.write(data, written, data.byteLength - written, position + written);
    if (bytesWritten <= 0) throw Object.assign(new Error(`write returned ${bytesWritten} bytes`), { code: 'EIO' });
    written += bytesWritten;
  }
}

/**
 * {@link writeFully} with `handle.writeSync`.
 * @internal
 */
export function writeFullySync(handle: FileHandle & { writeSync: NonNullable<FileHandle['writeSync']> }, data: Uint8Array, position: number): void {
  let written = 0;
  while (written < data.byteLength) {
    const bytesWritten = handle.writeSync(data, written, data.byteLength - written, position + written);
    if (bytesWritten <= 0) throw Object.assign(new Error(`write returned ${bytesWritten} bytes`), { code: 'EIO' });
    written += bytesWritten;
  }
}

/** True if `error` is a Node system error with `code`. @internal */
export function hasCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}
