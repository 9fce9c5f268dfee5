/**
 * FileStorage's snapshots by pieces: what the storage conformance suite cannot see from
 * outside (damage found by the read that reaches the end, a crash in the middle of a
 * streamed-in snapshot, close with a reader and a writer open, a file system whose
 * handles cannot read).
 */
import { appendFile, cp, readFile, readdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { InvariantError } from '../../../src/core/index.js';
import { CorruptionError, type FileSystem, nodeFileSystem } from '../../../src/storage/file/index.js';
import { snapshotFileName, snapshotIncomingFileName } from '../../../src/storage/file/snapshot-file.js';
import { Prng } from '../../../src/testing/prng.js';
import { openStorage, tempDir } from './helpers.js';

const bytes = (n: number, seed = 1): Uint8Array => {
  const prng = new Prng(seed);
  return Uint8Array.from({ length: n }, () => prng.int(256));
};

/** Reads `reader` front to back in pieces of `piece` bytes. */
async function readAll(reader: { byteLength: number; read(offset: number, length: number): Promise<Uint8Array> }, piece: number): Promise<Uint8Array> {
  const out = new Uint8Array(reader.byteLength);
  for (let at = 0; at < reader.byteLength; at += piece) out.set(await reader.read(at, Math.min(piece, reader.byteLength - at)), at);
  return out;
}

describe('FileStorage snapshots by pieces', () => {
  it('a byte damaged in the middle of the file: every read before the end succeeds, the read that reaches the end rejects with CorruptionError', async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir);
    const data = bytes(200_000);
    await storage.saveSnapshot({ slot: 3, data });
    const file = join(dir, snapshotFileName);
    const raw = await readFile(file);
    raw[raw.byteLength - 100_000] = raw[raw.byteLength - 100_000]! ^ 0x40;
    await writeFile(file, raw);
    const reader = (await storage.openSnapshot())!;
    expect(await reader.read(0, 100_000)).toBeInstanceOf(Uint8Array);
    await expect(reader.read(100_000, 100_000)).rejects.toThrow(CorruptionError);
    await reader.close();
  });

  it('reads out of order still check the whole: the last piece read first rejects if any byte before it is damaged', async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir);
    await storage.saveSnapshot({ slot: 3, data: bytes(50_000) });
    const file = join(dir, snapshotFileName);
    const raw = await readFile(file);
    raw[100] = raw[100]! ^ 1;
    await writeFile(file, raw);
    const reader = (await storage.openSnapshot())!;
    await expect(reader.read(40_000, 10_000)).rejects.toThrow(/CRC mismatch/);
    await reader.close();
  });

  it("checkedByCaller: the reader computes no CRC and offers the data's as dataCrc32, which tells a damaged byte from the stored CRC", async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir);
    const data = bytes(200_000);
    await storage.saveSnapshot({ slot: 3, data });
    const plain = (await storage.openSnapshot())!;
    expect(plain.dataCrc32).toBeUndefined();
    await plain.close();
    const reader = (await storage.openSnapshot({ checkedByCaller: true }))!;
    expect(reader.dataCrc32).toBe(crc32(data));
    expect(await readAll(reader, 65_536)).toEqual(data);
    await reader.close();
    // Damaged: every read succeeds (the caller checks), and the bytes no longer match dataCrc32.
    const file = join(dir, snapshotFileName);
    const raw = await readFile(file);
    raw[raw.byteLength - 100_000] = raw[raw.byteLength - 100_000]! ^ 0x40;
    await writeFile(file, raw);
    const damaged = (await storage.openSnapshot({ checkedByCaller: true }))!;
    const read = await readAll(damaged, 65_536);
    expect(damaged.dataCrc32).toBe(crc32(data));
    expect(crc32(read)).not.toBe(damaged.dataCrc32);
    await damaged.close();
    // Bytes after the data are still refused.
    await storage.saveSnapshot({ slot: 4, data: bytes(10_000) });
    await appendFile(file, Uint8Array.of(0));
    const longer = (await storage.openSnapshot({ checkedByCaller: true }))!;
    await expect(readAll(longer, 4_096)).rejects.toThrow(/bytes after the 10000 bytes/);
    await longer.close();
  });

  it('dataCrc32ByCaller: the header takes the CRC given to commit (a wrong one makes a file that fails its check), and a commit without one is refused', async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir);
    const data = bytes(100_000, 7);
    const writer = storage.createSnapshot(5, data.byteLength, { dataCrc32ByCaller: true });
    await writer.write(data.subarray(0, 30_000));
    await writer.write(data.subarray(30_000));
    await writer.commit(crc32(data));
    expect(await storage.loadSnapshot()).toEqual({ slot: 5, data });
    const missing = storage.createSnapshot(6, 3, { dataCrc32ByCaller: true });
    await missing.write(Uint8Array.of(1, 2, 3));
    await expect(missing.commit()).rejects.toThrow(InvariantError);
    await missing.abort();
    const wrong = storage.createSnapshot(6, 3, { dataCrc32ByCaller: true });
    await wrong.write(Uint8Array.of(1, 2, 3));
    await wrong.commit(crc32(Uint8Array.of(1, 2, 4)));
    await expect(storage.loadSnapshot()).rejects.toThrow(CorruptionError);
    await storage.close();
  });

  it('bytes after the data the header announces are refused by the read that reaches the end', async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir);
    const data = bytes(10_000);
    await storage.saveSnapshot({ slot: 3, data });
    await appendFile(join(dir, snapshotFileName), Uint8Array.of(0));
    const reader = (await storage.openSnapshot())!;
    await expect(readAll(reader, 4_096)).rejects.toThrow(/bytes after the 10000 bytes/);
    await reader.close();
  });

  it('a file cut short is refused with CorruptionError', async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir);
    await storage.saveSnapshot({ slot: 3, data: bytes(10_000) });
    const file = join(dir, snapshotFileName);
    await writeFile(file, (await readFile(file)).subarray(0, 5_000));
    const reader = (await storage.openSnapshot())!;
    await expect(readAll(reader, 4_096)).rejects.toThrow(CorruptionError);
    await reader.close();
  });

  it('reads outside the snapshot are refused with InvariantError', async () => {
    const storage = await openStorage(await tempDir());
    await storage.saveSnapshot({ slot: 3, data: bytes(100) });
    const reader = (await storage.openSnapshot())!;
    await expect(reader.read(90, 20)).rejects.toThrow(InvariantError);
    await expect(reader.read(-1, 2)).rejects.toThrow(InvariantError);
    await reader.close();
    await expect(reader.read(0, 1)).rejects.toThrow(/closed/);
  });

  it('a crash while a snapshot streams in leaves the old snapshot; opening removes the partial file', async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir);
    const old = bytes(1_000, 2);
    await storage.saveSnapshot({ slot: 3, data: old });
    const data = bytes(100_000, 3);
    const writer = storage.createSnapshot(9, data.byteLength);
    await writer.write(data.subarray(0, 60_000));
    expect(await readdir(dir)).toContain(snapshotIncomingFileName);
    const crashed = join(await tempDir(), 'crashed');
    await cp(dir, crashed, { recursive: true });
    await unlink(join(crashed, 'LOCK'));
    await writer.abort();
    const after = await openStorage(crashed);
    expect(await readdir(crashed)).not.toContain(snapshotIncomingFileName);
    expect(await after.loadSnapshot()).toEqual({ slot: 3, data: old });
  });

  it('a second createSnapshot aborts the first; the second commits', async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir);
    const first = storage.createSnapshot(5, 4);
    await first.write(Uint8Array.of(1, 2));
    const second = storage.createSnapshot(6, 3);
    await expect(first.write(Uint8Array.of(3, 4))).rejects.toThrow(InvariantError);
    await second.write(Uint8Array.of(7, 8, 9));
    await second.commit();
    expect(await storage.loadSnapshot()).toEqual({ slot: 6, data: Uint8Array.of(7, 8, 9) });
    expect(await readdir(dir)).not.toContain(snapshotIncomingFileName);
    // The storage's compaction counts on it like on a saved one.
    await storage.compact(7);
  });

  // Seen in the netns nemesis: a member restarted with a `snapshot` whose header was zeros.
  it('a createSnapshot while the previous writer commits waits for that commit: the first is saved whole, then the second replaces it', async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir);
    const firstData = bytes(3_000, 1);
    const first = storage.createSnapshot(5, firstData.byteLength);
    await first.write(firstData);
    const committing = first.commit();
    // A new transfer starts before that commit ran: its file must not be the one renamed.
    const second = storage.createSnapshot(6, 10);
    const written = second.write(Uint8Array.of(1, 2, 3));
    await committing;
    await written;
    expect(await storage.loadSnapshot()).toEqual({ slot: 5, data: firstData });
    await second.write(Uint8Array.of(4, 5, 6, 7, 8, 9, 10));
    await second.commit();
    expect(await storage.loadSnapshot()).toEqual({ slot: 6, data: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10) });
    await storage.close();
    const reopened = await openStorage(dir);
    expect(await reopened.loadSnapshot()).toEqual({ slot: 6, data: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10) });
  });

  it('close aborts a writer under way and closes open readers', async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir);
    await storage.saveSnapshot({ slot: 2, data: bytes(1_000) });
    const reader = (await storage.openSnapshot())!;
    const writer = storage.createSnapshot(5, 10);
    await writer.write(Uint8Array.of(1));
    await storage.close();
    await expect(reader.read(0, 1)).rejects.toThrow(/closed/);
    expect(await readdir(dir)).not.toContain(snapshotIncomingFileName);
    expect(() => storage.createSnapshot(6, 1)).toThrow(/closed/);
    await expect(storage.openSnapshot()).rejects.toThrow(/closed/);
  });

  it('refuses a slot or a length that is not a non-negative integer', async () => {
    const storage = await openStorage(await tempDir());
    expect(() => storage.createSnapshot(-1, 1)).toThrow(InvariantError);
    expect(() => storage.createSnapshot(1, 1.5)).toThrow(InvariantError);
    expect(() => storage.createSnapshot(1, 2 ** 33)).toThrow(InvariantError);
  });

  it('a file system whose handles cannot read: the reader reads the file whole, the same bytes', async () => {
    const fs: FileSystem = {
      ...nodeFileSystem,
      async open(path, flags) {
        const { read: _read, ...rest } = await nodeFileSystem.open(path, flags);
        return rest;
      },
    };
    const storage = await openStorage(await tempDir(), { fs });
    const data = bytes(30_000);
    await storage.saveSnapshot({ slot: 4, data });
    const reader = (await storage.openSnapshot())!;
    expect(await readAll(reader, 7_000)).toEqual(data);
    await reader.close();
  });

  it('a data sync of a streamed-in snapshot that fails while later pieces are written: the commit rejects, and the old snapshot stays', async () => {
    let failed = 0;
    const fs: FileSystem = {
      ...nodeFileSystem,
      async open(path, flags) {
        const handle = await nodeFileSystem.open(path, flags);
        if (!path.endsWith(snapshotIncomingFileName)) return handle;
        return {
          ...handle,
          // The first sync of the data fails, late: after every write behind it is done.
          datasync: async () => {
            if (failed++ > 0) return handle.datasync();
            await new Promise((r) => setTimeout(r, 500));
            throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
          },
        };
      },
    };
    const storage = await openStorage(await tempDir(), { fs });
    const old = bytes(1_000, 3);
    await storage.saveSnapshot({ slot: 2, data: old });
    const piece = bytes(1 << 20, 9);
    const pieces = 12;
    const writer = storage.createSnapshot(7, pieces * piece.byteLength);
    const writes = await Promise.allSettled(Array.from({ length: pieces }, () => writer.write(piece)));
    expect(failed).toBeGreaterThan(0);
    await expect(writer.commit()).rejects.toThrow(/EIO/);
    expect(writes.filter((w) => w.status === 'fulfilled').length).toBeGreaterThan(8);
    expect(await storage.loadSnapshot()).toEqual({ slot: 2, data: old });
  });
});
