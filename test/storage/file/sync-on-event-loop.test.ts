/**
 * FileStorage's choice between synchronous calls on the event loop and libuv's thread
 * pool for log appends (`syncOnEventLoop`): small appends block for one fdatasync, big
 * ones and a slow disk do not.
 */
import { describe, expect, it } from 'vitest';
import { type FileHandle, type FileSystem, nodeFileSystem } from '../../../src/storage/file/index.js';
import { inlineBackoffMs, inlineBytesMax, inlineStallMs } from '../../../src/storage/file/wal.js';
import { accepted, openStorage, slotsOf, tempDir, write } from './helpers.js';
import { batch } from '../../../src/core/index.js';

/** The real file system, counting the log's synchronous and asynchronous fdatasyncs; `stallNext` makes the next synchronous one slow. */
function countingFileSystem(): { fs: FileSystem; counts: { inline: number; pooled: number }; stallNext: () => void } {
  const counts = { inline: 0, pooled: 0 };
  let stall = false;
  const fs: FileSystem = {
    ...nodeFileSystem,
    async open(path, flags) {
      const handle = await nodeFileSystem.open(path, flags);
      const counted: FileHandle = {
        ...handle,
        async datasync() {
          counts.pooled++;
          await handle.datasync();
        },
        datasyncSync() {
          counts.inline++;
          handle.datasyncSync!();
          if (stall) {
            stall = false;
            const until = performance.now() + inlineStallMs + 5;
            while (performance.now() < until); // a disk that took too long
          }
        },
      };
      return counted;
    },
  };
  return { fs, counts, stallNext: () => (stall = true) };
}

describe('FileStorage: log appends on the event loop (syncOnEventLoop)', () => {
  it('by default a small append is written and synced on the event loop; one over inlineBytesMax goes through the thread pool', async () => {
    const dir = await tempDir();
    const { fs, counts } = countingFileSystem();
    const storage = await openStorage(dir, { fs, preallocateBytes: 0 });
    for (let slot = 1; slot <= 5; slot++) await storage.persist(write({ accepted: [accepted(slot, 1)] }));
    expect(counts).toEqual({ inline: 5, pooled: 0 });
    const big = new Uint8Array(inlineBytesMax + 1).fill(7);
    await storage.persist(write({ accepted: [{ slot: 6, ballot: { round: 1, node: 'a' }, value: batch([big]) }] }));
    expect(counts).toEqual({ inline: 5, pooled: 1 });
    await storage.close();
    expect(slotsOf((await (await openStorage(dir)).load()).accepted)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('false: every append goes through the thread pool', async () => {
    const { fs, counts } = countingFileSystem();
    const storage = await openStorage(await tempDir(), { fs, preallocateBytes: 0, syncOnEventLoop: false });
    for (let slot = 1; slot <= 5; slot++) await storage.persist(write({ accepted: [accepted(slot, 1)] }));
    expect(counts).toEqual({ inline: 0, pooled: 5 });
  });

  it(`a sync on the event loop slower than ${inlineStallMs} ms sends appends to the thread pool for ${inlineBackoffMs} ms, then back`, async () => {
    const { fs, counts, stallNext } = countingFileSystem();
    const storage = await openStorage(await tempDir(), { fs, preallocateBytes: 0 });
    await storage.persist(write({ accepted: [accepted(1, 1)] }));
    stallNext();
    await storage.persist(write({ accepted: [accepted(2, 1)] }));
    expect(counts).toEqual({ inline: 2, pooled: 0 });
    for (let slot = 3; slot <= 6; slot++) await storage.persist(write({ accepted: [accepted(slot, 1)] }));
    expect(counts).toEqual({ inline: 2, pooled: 4 });
    await new Promise((r) => setTimeout(r, inlineBackoffMs + 50));
    await storage.persist(write({ accepted: [accepted(7, 1)] }));
    expect(counts).toEqual({ inline: 3, pooled: 4 });
  });
});
