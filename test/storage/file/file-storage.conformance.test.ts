/**
 * FileStorage against the Storage conformance suite of synod/testing, over a
 * FaultyFileSystem so that the crash cases run too: a crash is a simulated power loss
 * that drops what was not synced. Crashes alternate between the harshest (every
 * unsynced write and directory change lost) and seeded ones (a random prefix of them
 * kept, the next write perhaps torn), with seeds that follow one another, so a failure
 * replays.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { FaultyFileSystem, FileStorage } from '../../../src/storage/file/index.js';
import { markLockStale } from './helpers.js';
import { storageConformance } from '../../../src/testing/index.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** The file system each data directory is used through now (a crash replaces it). */
const fileSystems = new Map<string, FaultyFileSystem>();
let crashes = 0;

// Both ways a log append can go: synchronous calls on the event loop (the default) and the thread pool.
for (const syncOnEventLoop of [true, false]) {
  storageConformance(
    `FileStorage (syncOnEventLoop: ${syncOnEventLoop})`,
    {
      async create() {
        const dir = await mkdtemp(join(tmpdir(), 'synod-conformance-'));
        dirs.push(dir);
        const fs = new FaultyFileSystem();
        fileSystems.set(dir, fs);
        return FileStorage.open(dir, { fs, syncOnEventLoop });
      },
      reopen: async (previous) => {
        const { dir } = previous as FileStorage;
        return FileStorage.open(dir, { fs: fileSystems.get(dir)!, syncOnEventLoop });
      },
      crash: async (storage) => {
        const { dir } = storage as FileStorage;
        crashes++;
        const fs = await fileSystems.get(dir)!.crash(crashes % 2 === 0 ? { seed: crashes } : {});
        fileSystems.set(dir, fs);
        await markLockStale(fs, dir);
        return FileStorage.open(dir, { fs, syncOnEventLoop });
      },
    },
    { describe, it },
  );
}
