/**
 * The log's preallocation: zeros written ahead of the tail's last record, so a synced
 * append overwrites space the file has. What must hold: appends never land in a range
 * whose zeros are still being written, a record torn inside the zeros reads as a torn
 * tail (not as damage), a failed sync of the zeros fails the storage closed, and close
 * leaves a file that ends with its last record.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type FileHandle, type FileSystem, StorageFailedError, nodeFileSystem, preallocateBytesDefault } from '../../../src/storage/file/index.js';
import { segmentName } from '../../../src/storage/file/wal.js';
import { accepted, openStorage, slotsOf, tempDir, write } from './helpers.js';

const firstSegment = segmentName(1);
const isZeros = (data: Uint8Array, offset: number, length: number): boolean => {
  for (let i = offset; i < offset + length; i++) if (data[i] !== 0) return false;
  return length > 0;
};

/** The real file system with a hook on each file write and fdatasync; `zeros` tells a write of zeros only. */
function hookedFileSystem(hooks: {
  beforeWrite?: (zeros: boolean) => Promise<void> | void;
  beforeDatasync?: (afterZeros: boolean) => Promise<void> | void;
}): FileSystem {
  return {
    ...nodeFileSystem,
    async open(path, flags) {
      const handle = await nodeFileSystem.open(path, flags);
      let lastWriteZeros = false;
      const hooked: FileHandle = {
        ...handle,
        async write(data, offset, length, position) {
          const zeros = isZeros(data, offset, length);
          await hooks.beforeWrite?.(zeros);
          lastWriteZeros = zeros;
          return handle.write(data, offset, length, position);
        },
        async datasync() {
          await hooks.beforeDatasync?.(lastWriteZeros);
          return handle.datasync();
        },
        // Records may be written on the event loop; zeros never are, so the hooks' delays apply to them.
        writeSync(data, offset, length, position) {
          const zeros = isZeros(data, offset, length);
          void hooks.beforeWrite?.(zeros);
          lastWriteZeros = zeros;
          return handle.writeSync!(data, offset, length, position);
        },
        datasyncSync() {
          void hooks.beforeDatasync?.(lastWriteZeros);
          handle.datasyncSync!();
        },
      };
      return hooked;
    },
  };
}

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200 && !(await check()); i++) await new Promise((r) => setTimeout(r, 10));
  expect(await check()).toBe(true);
}

describe('FileStorage preallocation', () => {
  it('while open the tail holds zeros after its records; close cuts them off, and the default is 1 MiB', async () => {
    expect(preallocateBytesDefault).toBe(1024 * 1024);
    const dir = await tempDir();
    const file = join(dir, firstSegment);
    const storage = await openStorage(dir, { preallocateBytes: 64 * 1024 });
    for (let slot = 1; slot <= 5; slot++) await storage.persist(write({ accepted: [accepted(slot, 1)] }));
    await waitFor(async () => (await stat(file)).size >= 64 * 1024);
    const open = await readFile(file);
    let recordsEnd = open.byteLength;
    while (recordsEnd > 0 && open[recordsEnd - 1] === 0) recordsEnd--;
    expect(recordsEnd).toBeLessThan(1024);
    await storage.close();
    const closed = await readFile(file);
    expect(closed.byteLength).toBeGreaterThanOrEqual(recordsEnd);
    expect(closed.byteLength).toBeLessThan(recordsEnd + 16); // the last record may end in zero bytes
    expect(slotsOf((await (await openStorage(dir)).load()).accepted)).toEqual([1, 2, 3, 4, 5]);
  });

  it('0 turns it off: the file ends with the last record while open', async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir, { preallocateBytes: 0 });
    await storage.persist(write({ accepted: [accepted(1, 1)] }));
    const sizeAfterOne = (await stat(join(dir, firstSegment))).size;
    await storage.persist(write({ accepted: [accepted(2, 1)] }));
    await new Promise((r) => setTimeout(r, 50));
    expect((await stat(join(dir, firstSegment))).size).toBeGreaterThan(sizeAfterOne);
    expect((await stat(join(dir, firstSegment))).size).toBeLessThan(2 * sizeAfterOne);
    await expect(openStorage(`${dir}-x`, { preallocateBytes: -1 })).rejects.toThrow(/preallocateBytes/);
  });

  it('an append never lands in a range whose zeros are still being written (slow zeros)', async () => {
    const dir = await tempDir();
    // Zeros take 5 ms to land, records none: a record written into a range being zeroed is lost.
    const fs = hookedFileSystem({ beforeWrite: (zeros) => (zeros ? new Promise((r) => setTimeout(r, 5)) : undefined) });
    const storage = await openStorage(dir, { fs, preallocateBytes: 512 });
    let slot = 0;
    for (let round = 0; round < 30; round++) {
      const wave = Array.from({ length: 1 + (round % 4) }, () => write({ accepted: [accepted(++slot, 1)] }));
      await Promise.all(wave.map((b) => storage.persist(b)));
    }
    await storage.close();
    const warnings: string[] = [];
    const state = await (await openStorage(dir, { onWarning: (w) => warnings.push(w) })).load();
    expect(warnings).toEqual([]);
    expect(slotsOf(state.accepted)).toEqual(Array.from({ length: slot }, (_, i) => i + 1));
  });

  it('a record torn inside the zeros (any of its bytes missing) is a torn tail: the records before it open, and the log goes on', async () => {
    const source = await tempDir();
    const storage = await openStorage(source, { preallocateBytes: 0 });
    const ends: number[] = [];
    for (let slot = 1; slot <= 4; slot++) {
      await storage.persist(write({ accepted: [accepted(slot, 1, 'x'.repeat(40 * slot))] }));
      ends.push((await stat(join(source, firstSegment))).size);
    }
    await storage.close();
    const whole = await readFile(join(source, firstSegment));
    const lastStart = ends[2]!;
    const lastLength = ends[3]! - lastStart;
    await fc.assert(
      fc.asyncProperty(fc.nat(lastLength - 1), fc.integer({ min: 1, max: lastLength }), fc.integer({ min: 0, max: 8192 }), async (from, count, padding) => {
        // The bytes of the last record in [from, from + count) never reached the disk.
        const start = lastStart + from;
        const end = Math.min(start + count, ends[3]!);
        fc.pre(!isZeros(whole, start, end - start)); // zeros lost are no loss
        const dir = await tempDir();
        const torn = Buffer.concat([whole, Buffer.alloc(padding)]);
        torn.fill(0, start, end);
        await writeFile(join(dir, firstSegment), torn);
        const warnings: string[] = [];
        const reopened = await openStorage(dir, { onWarning: (w) => warnings.push(w) });
        expect(slotsOf((await reopened.load()).accepted)).toEqual([1, 2, 3]);
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toContain('truncated a torn tail');
        await reopened.persist(write({ accepted: [accepted(9, 1)] }));
        await reopened.close();
        expect(slotsOf((await (await openStorage(dir)).load()).accepted)).toEqual([1, 2, 3, 9]);
      }),
      { numRuns: 40 },
    );
  });

  it('a failed fdatasync of the zeros fails the storage closed; the records synced before it are kept', async () => {
    const dir = await tempDir();
    let failing = true;
    const fs = hookedFileSystem({
      beforeDatasync: (afterZeros) => {
        if (afterZeros && failing) throw Object.assign(new Error('EIO: injected'), { code: 'EIO' });
      },
    });
    const storage = await openStorage(dir, { fs, preallocateBytes: 256 });
    await storage.persist(write({ accepted: [accepted(1, 1)] }));
    // The zeros' sync failed beside it: the failure reaches the next write at the latest.
    let failure: unknown;
    for (let slot = 2; slot < 20 && failure === undefined; slot++) {
      failure = await storage.persist(write({ accepted: [accepted(slot, 1)] })).then(
        () => undefined,
        (e: unknown) => e,
      );
    }
    expect(failure).toBeInstanceOf(StorageFailedError);
    await expect(storage.persist(write({ accepted: [accepted(50, 1)] }))).rejects.toBeInstanceOf(StorageFailedError);
    await storage.close();
    failing = false;
    expect(slotsOf((await (await openStorage(dir)).load()).accepted)).toContain(1);
  });

  it('a persist whose sync overlapped a failing sync of the zeros rejects (the error may have cost its records)', async () => {
    const dir = await tempDir();
    let zeroSyncs = 0;
    let secondUnderWay = false;
    const fs = hookedFileSystem({
      beforeDatasync: async (afterZeros) => {
        if (!afterZeros || ++zeroSyncs === 1) return; // the first chunk of zeros syncs well
        secondUnderWay = true;
        await new Promise((r) => setTimeout(r, 30));
        throw Object.assign(new Error('EIO: injected'), { code: 'EIO' });
      },
    });
    const storage = await openStorage(dir, { fs, preallocateBytes: 4096 });
    // Append until the second chunk of zeros is being written; the records still fit in the first.
    let slot = 0;
    while (!secondUnderWay) {
      await storage.persist(write({ accepted: [accepted(++slot, 1)] }));
      await new Promise((r) => setTimeout(r, 1));
      expect(slot).toBeLessThan(200);
    }
    await expect(storage.persist(write({ accepted: [accepted(++slot, 1)] }))).rejects.toBeInstanceOf(StorageFailedError);
  });

  it('a failed write of the zeros (a full disk) does not fail the storage: appends grow the file', async () => {
    const dir = await tempDir();
    const fs = hookedFileSystem({
      beforeWrite: (zeros) => {
        if (zeros) throw Object.assign(new Error('ENOSPC: injected'), { code: 'ENOSPC' });
      },
    });
    const storage = await openStorage(dir, { fs, preallocateBytes: 256 });
    for (let slot = 1; slot <= 20; slot++) await storage.persist(write({ accepted: [accepted(slot, 1)] }));
    await storage.close();
    expect(slotsOf((await (await openStorage(dir)).load()).accepted)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });
});
