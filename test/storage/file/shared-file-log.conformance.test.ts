/**
 * Each group's Storage from a SharedFileLog against the Storage conformance suite of
 * synod/testing, over a FaultyFileSystem so that the crash cases run too. The group
 * under test (7) shares the log with a neighbour group (3) that persisted before it and
 * persists again beside each reopen: the suite compares load() with the exact merge of
 * the group's own batches, so a record of the neighbour's routed to group 7 fails it.
 * A reopen and a crash reopen the whole log, not just the group.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import type { Storage } from '../../../src/runtime/storage.js';
import { FaultyFileSystem, SharedFileLog } from '../../../src/storage/file/index.js';
import { storageConformance } from '../../../src/testing/index.js';
import { accepted, ballot, markLockStale, write } from './helpers.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const testedGroup = 7;
const neighbour = 3;
/** The log and file system behind each group storage handed to the suite. */
const opened = new Map<Storage, { dir: string; log: SharedFileLog; fs: FaultyFileSystem }>();
let crashes = 0;
let round = 1;

/** Opens the log in `dir`, has the neighbour persist a batch, and returns the tested group's storage. */
async function openGroup(dir: string, fs: FaultyFileSystem, syncOnEventLoop: boolean): Promise<Storage> {
  const log = await SharedFileLog.open(dir, { fs, syncOnEventLoop, segmentBytesMax: 4096 });
  const other = log.group(neighbour);
  round++;
  await other.persist(write({ promised: ballot(round, 'z'), accepted: [accepted(round, round, `neighbour-${round}`)] }));
  const storage = log.group(testedGroup);
  opened.set(storage, { dir, log, fs });
  return storage;
}

for (const syncOnEventLoop of [true, false]) {
  storageConformance(
    `SharedFileLog group (syncOnEventLoop: ${syncOnEventLoop})`,
    {
      async create() {
        const dir = await mkdtemp(join(tmpdir(), 'synod-shared-conformance-'));
        dirs.push(dir);
        return openGroup(dir, new FaultyFileSystem(), syncOnEventLoop);
      },
      reopen: async (previous) => {
        const { dir, log, fs } = opened.get(previous)!;
        opened.delete(previous);
        await log.close();
        return openGroup(dir, fs, syncOnEventLoop);
      },
      crash: async (storage) => {
        const { dir, fs } = opened.get(storage)!;
        opened.delete(storage);
        crashes++;
        const after = await fs.crash(crashes % 2 === 0 ? { seed: crashes } : {});
        await markLockStale(after, dir);
        return openGroup(dir, after, syncOnEventLoop);
      },
    },
    { describe, it },
  );
}
