/**
 * SharedFileLog: many groups' storages over one write-ahead log. What the conformance
 * suite cannot see from one group: isolation between groups (also after compaction and
 * a restart), one fdatasync for many groups' persists, recovery of all groups from torn
 * tails, damage and crashes, segments reclaimed only once every group is past them,
 * and dropping a group.
 */
import { appendFile, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type DurableState, type PersistBatch, SynodError } from '../../../src/core/index.js';
import type { Storage } from '../../../src/runtime/storage.js';
import {
  CorruptionError,
  FaultyFileSystem,
  FileStorage,
  SharedFileLog,
  type SharedFileLogOptions,
  StorageFailedError,
} from '../../../src/storage/file/index.js';
import { RecordType, encodeBatch, encodeGroupRecord, encodeRecord } from '../../../src/storage/file/record.js';
import { parseSegmentName, segmentName } from '../../../src/storage/file/wal.js';
import { accepted, ballot, markLockStale, tempDir, write } from './helpers.js';

const logs: SharedFileLog[] = [];
afterEach(async () => {
  for (const log of logs.splice(0)) await log.close().catch(() => {});
});

async function openLog(dir: string, options?: SharedFileLogOptions): Promise<SharedFileLog> {
  const log = await SharedFileLog.open(dir, options);
  logs.push(log);
  return log;
}

/** Closes `log` and opens the directory again, on `fs` if given. */
async function reopen(log: SharedFileLog, options?: SharedFileLogOptions): Promise<SharedFileLog> {
  await log.close();
  logs.splice(logs.indexOf(log), 1);
  return openLog(log.dir, options);
}

const decoder = new TextDecoder();
/** Each accepted entry as `slot:text` of its one command. */
function entriesOf(state: DurableState): string[] {
  return state.accepted.map((e) => `${e.slot}:${e.value.kind === 'batch' ? decoder.decode(e.value.commands[0]) : e.value.kind}`);
}
/** Group `group`'s batch for `slot`: one accepted entry whose command names the group. */
const batchOf = (group: number, slot: number): PersistBatch => write({ accepted: [accepted(slot, 1, `g${group}-${slot}`)] });
const ownEntries = (group: number, slots: readonly number[]): string[] => slots.map((s) => `${s}:g${group}-${s}`);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function segmentsOf(dir: string): Promise<number[]> {
  return (await readdir(dir))
    .map((name) => parseSegmentName(name))
    .filter((s): s is number => s !== undefined)
    .sort((a, b) => a - b);
}

describe('SharedFileLog: groups are isolated', () => {
  it("a group's load returns its own entries only, also after another group compacts and a restart", async () => {
    const dir = await tempDir();
    let log = await openLog(dir);
    const groups = [1, 2, 300];
    const storages = groups.map((g) => log.group(g));
    for (const slot of range(1, 5)) await Promise.all(storages.map((s, i) => s.persist(batchOf(groups[i]!, slot))));
    await storages[0]!.persist(write({ promised: ballot(9, 'one'), commitIndex: 5 }));
    for (const [i, g] of groups.entries()) expect(entriesOf(await storages[i]!.load())).toEqual(ownEntries(g, range(1, 5)));
    await storages[0]!.saveSnapshot({ slot: 3, data: Uint8Array.of(1, 3) });
    await storages[0]!.compact(4);
    expect(entriesOf(await storages[0]!.load())).toEqual(ownEntries(1, [4, 5]));
    expect(entriesOf(await storages[1]!.load())).toEqual(ownEntries(2, range(1, 5)));

    log = await reopen(log);
    const [one, two, three] = groups.map((g) => log.group(g));
    const first = await one!.load();
    expect(entriesOf(first)).toEqual(ownEntries(1, [4, 5]));
    expect(first.promised).toEqual(ballot(9, 'one'));
    expect(first.commitIndex).toBe(5);
    const second = await two!.load();
    expect(entriesOf(second)).toEqual(ownEntries(2, range(1, 5)));
    expect(second.promised).toEqual(ballot(0, ''));
    expect(second.commitIndex).toBe(0);
    expect(entriesOf(await three!.load())).toEqual(ownEntries(300, range(1, 5)));
    expect(await one!.loadSnapshot()).toEqual({ slot: 3, data: Uint8Array.of(1, 3) });
    expect(await two!.loadSnapshot()).toBeUndefined();
    expect(log.groupIds).toEqual(groups);
    expect(await readdir(join(dir, 'snapshots'))).toEqual(['1']);
  });

  it('hands out one storage per group at a time, again once it closed', async () => {
    const log = await openLog(await tempDir());
    const first = log.group(4);
    expect(() => log.group(4)).toThrow(/open already/);
    expect(() => log.group(-1)).toThrow(/non-negative integer/);
    await first.persist(batchOf(4, 1));
    await first.close();
    await expect(first.persist(batchOf(4, 2))).rejects.toThrow(/closed/);
    const again = log.group(4);
    expect(entriesOf(await again.load())).toEqual(ownEntries(4, [1]));
  });

  it('the group id is a varint inside the CRC: a few bytes more than a single-node record', () => {
    const payload = encodeBatch(batchOf(1, 1));
    const single = payload.byteLength;
    expect(encodeGroupRecord(RecordType.groupBatch, 5, encodeBatch(batchOf(1, 1))).byteLength - single).toBe(9 + 1);
    expect(encodeGroupRecord(RecordType.groupBatch, 300, encodeBatch(batchOf(1, 1))).byteLength - single).toBe(9 + 2);
  });
});

describe('SharedFileLog: group commit across groups', () => {
  it('persists of many groups issued together take one write and one fdatasync', async () => {
    const fs = new FaultyFileSystem();
    for (const syncOnEventLoop of [true, false]) {
      const log = await openLog(await tempDir(), { fs, preallocateBytes: 0, syncOnEventLoop });
      const storages = range(1, 20).map((g) => log.group(g));
      const syncsBefore = fs.calls('datasync');
      const writesBefore = fs.calls('write');
      await Promise.all(storages.map((s, i) => s.persist(batchOf(i + 1, 1))));
      expect(fs.calls('datasync') - syncsBefore).toBe(1);
      expect(fs.calls('write') - writesBefore).toBe(1);
      expect(log.stats).toEqual({ persists: 20, fsyncs: 1, groups: 20 });
      // One after the other, each persist needs its own sync.
      for (const [i, s] of storages.slice(0, 3).entries()) await s.persist(batchOf(i + 1, 2));
      expect(fs.calls('datasync') - syncsBefore).toBe(4);
    }
  });

  it('a failed sync rejects every group in the write, and every later write of every group', async () => {
    const fs = new FaultyFileSystem();
    const dir = await tempDir();
    const log = await openLog(dir, { fs, preallocateBytes: 0, syncOnEventLoop: false });
    const [a, b] = [1, 2].map((g) => log.group(g));
    await a!.persist(batchOf(1, 1));
    fs.failNext('datasync');
    const results = await Promise.allSettled([a!.persist(batchOf(1, 2)), b!.persist(batchOf(2, 1))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    await expect(b!.persist(batchOf(2, 2))).rejects.toBeInstanceOf(StorageFailedError);
    await expect(a!.saveSnapshot({ slot: 1, data: new Uint8Array(0) })).rejects.toBeInstanceOf(StorageFailedError);
    await log.close();
    logs.splice(logs.indexOf(log), 1);
    const again = await openLog(dir);
    expect(entriesOf(await again.group(1).load())).toContain('1:g1-1');
  });
});

describe('SharedFileLog: recovery', () => {
  async function twoGroups(dir: string): Promise<string> {
    const log = await openLog(dir, { preallocateBytes: 0 });
    const [a, b] = [1, 2].map((g) => log.group(g));
    for (const slot of range(1, 3)) await Promise.all([a!.persist(batchOf(1, slot)), b!.persist(batchOf(2, slot))]);
    await log.close();
    logs.splice(logs.indexOf(log), 1);
    return join(dir, segmentName(1));
  }

  it('truncates a torn last record, warns, and every group keeps what came before', async () => {
    const dir = await tempDir();
    const file = await twoGroups(dir);
    const torn = encodeGroupRecord(RecordType.groupBatch, 2, encodeBatch(batchOf(2, 4)));
    await appendFile(file, torn.subarray(0, torn.byteLength - 3));
    const warnings: string[] = [];
    const log = await openLog(dir, { onWarning: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/torn tail/);
    expect(entriesOf(await log.group(1).load())).toEqual(ownEntries(1, range(1, 3)));
    const b = log.group(2);
    expect(entriesOf(await b.load())).toEqual(ownEntries(2, range(1, 3)));
    await b.persist(batchOf(2, 5));
    const again = await reopen(log);
    expect(entriesOf(await again.group(2).load())).toEqual(ownEntries(2, [1, 2, 3, 5]));
  });

  it('refuses a damaged record before the tail, and a group id that does not decode', async () => {
    const dir = await tempDir();
    const file = await twoGroups(dir);
    const bytes = await readFile(file);
    const flipped = Uint8Array.from(bytes);
    flipped[20] = flipped[20]! ^ 0x04; // inside the first record
    await writeFile(file, flipped);
    const error = await SharedFileLog.open(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptionError);
    expect(error).toBeInstanceOf(SynodError);
    expect(String(error)).toMatch(/CRC mismatch/);
    // A record whose CRC holds but whose group id is a varint that never ends, with a record after it.
    const endless = encodeRecord(RecordType.groupBatch, Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff));
    await writeFile(file, Buffer.concat([bytes, endless, encodeGroupRecord(RecordType.groupBatch, 1, encodeBatch(batchOf(1, 9)))]));
    await expect(SharedFileLog.open(dir)).rejects.toThrow(/does not decode/);
  });

  it('FileStorage refuses a shared log directory, and SharedFileLog a FileStorage one', async () => {
    const shared = await tempDir();
    await twoGroups(shared);
    await expect(FileStorage.open(shared)).rejects.toThrow(/unknown record type 3/);
    const single = await tempDir();
    const storage = await FileStorage.open(single);
    await storage.persist(batchOf(1, 1));
    await storage.close();
    await expect(SharedFileLog.open(single)).rejects.toThrow(/unknown record type 1/);
  });

  it('a crash at any point keeps, for every group, a prefix of its own batches with at least those that resolved', async () => {
    const groups = [1, 2, 3, 40];
    const rounds = 8;
    for (let seed = 1; seed <= 12; seed++) {
      const dir = await tempDir();
      let fs = new FaultyFileSystem();
      const log = await openLog(dir, { fs, segmentBytesMax: 300, syncOnEventLoop: seed % 2 === 0 });
      const storages = groups.map((g) => log.group(g));
      const resolvedRounds = seed % (rounds + 1);
      for (let slot = 1; slot <= resolvedRounds; slot++) await Promise.all(storages.map((s, i) => s.persist(batchOf(groups[i]!, slot))));
      for (let slot = resolvedRounds + 1; slot <= rounds; slot++) {
        for (const [i, s] of storages.entries()) s.persist(batchOf(groups[i]!, slot)).catch(() => undefined);
      }
      for (let turn = 0; turn < seed % 3; turn++) await new Promise((r) => setImmediate(r));
      fs = await fs.crash(seed % 2 === 0 ? { seed } : {});
      logs.splice(logs.indexOf(log), 1);
      await markLockStale(fs, dir);
      const after = await openLog(dir, { fs });
      for (const g of groups) {
        const got = entriesOf(await after.group(g).load());
        const context = `seed ${seed}, group ${g}, ${resolvedRounds} rounds resolved: ${got.join(' ')}`;
        expect(got.length, context).toBeGreaterThanOrEqual(resolvedRounds);
        expect(got, context).toEqual(ownEntries(g, range(1, got.length)));
      }
    }
  });
});

describe('SharedFileLog: compaction and reclaiming segments', () => {
  const options = { segmentBytesMax: 200, preallocateBytes: 0 };

  it('deletes a segment only once no group needs a record in it', async () => {
    const dir = await tempDir();
    let log = await openLog(dir, options);
    const idle = log.group(1);
    const busy = log.group(2);
    const late = log.group(3);
    await idle.persist(batchOf(1, 1));
    for (const slot of range(1, 12)) await busy.persist(batchOf(2, slot));
    await late.persist(batchOf(3, 1));
    for (const slot of range(13, 24)) await busy.persist(batchOf(2, slot));
    const before = await segmentsOf(dir);
    expect(before.length).toBeGreaterThan(6);
    // Group 3's record is in a later segment than group 1's.
    const lateSegment = before.filter((s) => s <= 13 + 1).at(-1)!;

    // A drop reclaims without rewriting: group 1 still uses the first segment.
    await log.dropGroup(99);
    expect(await segmentsOf(dir)).toEqual(before);

    // The busy group compacts: its base goes to the head, and so does the state of the
    // idle group that used the oldest segment; group 3 still uses a later one.
    await busy.saveSnapshot({ slot: 24, data: new Uint8Array(0) });
    await busy.compact(25);
    const after = await segmentsOf(dir);
    expect(after[0]).toBeGreaterThan(before[0]!);
    expect(after[0]).toBeLessThanOrEqual(lateSegment);
    expect(log.segmentCount).toBe(after.length);

    // Once more: now group 3 uses the oldest, and is rewritten too; the segments of the
    // first records all go, and what is left is the live state (a segment or two here).
    await busy.compact(25);
    const last = await segmentsOf(dir);
    expect(last[0]).toBeGreaterThan(lateSegment);
    expect(last.length).toBeLessThanOrEqual(2);

    log = await reopen(log, options);
    expect(entriesOf(await log.group(1).load())).toEqual(ownEntries(1, [1]));
    expect(entriesOf(await log.group(2).load())).toEqual([]);
    expect(entriesOf(await log.group(3).load())).toEqual(ownEntries(3, [1]));
  });

  it('a crash during a compaction that rewrites groups and deletes segments leaves every group whole', async () => {
    const turnsCases = [0, 1, 2, 4, 8, 16, 32, 'resolved'] as const;
    for (let seed = 1; seed <= 16; seed++) {
      const turns = turnsCases[seed % turnsCases.length]!;
      const dir = await tempDir();
      let fs = new FaultyFileSystem();
      const log = await openLog(dir, { ...options, fs, syncOnEventLoop: seed % 2 === 0 });
      const storages = [1, 2, 3].map((g) => log.group(g));
      for (const slot of range(1, 10)) await Promise.all(storages.map((s, i) => s.persist(batchOf(i + 1, slot))));
      await storages[0]!.saveSnapshot({ slot: 5, data: Uint8Array.of(5) });
      const segmentsBefore = (await segmentsOf(dir)).length;
      const compacting = storages[0]!.compact(6);
      compacting.catch(() => undefined);
      if (turns === 'resolved') await compacting;
      else for (let turn = 0; turn < turns; turn++) await new Promise((r) => setImmediate(r));
      fs = await fs.crash(seed % 3 === 0 ? {} : { seed });
      logs.splice(logs.indexOf(log), 1);
      await markLockStale(fs, dir);
      const after = await openLog(dir, { ...options, fs });
      const context = `seed ${seed}, crash after ${turns} turns, ${segmentsBefore} segments before, ${(await segmentsOf(dir)).length} after`;
      const first = entriesOf(await after.group(1).load());
      expect([ownEntries(1, range(1, 10)), ownEntries(1, range(6, 10))], context).toContainEqual(first);
      if (turns === 'resolved') expect(first, context).toEqual(ownEntries(1, range(6, 10)));
      expect(entriesOf(await after.group(2).load()), context).toEqual(ownEntries(2, range(1, 10)));
      expect(entriesOf(await after.group(3).load()), context).toEqual(ownEntries(3, range(1, 10)));
    }
  });

  it('compaction of one group needs its own snapshot, not another group’s', async () => {
    const log = await openLog(await tempDir(), options);
    const [a, b] = [1, 2].map((g) => log.group(g));
    for (const slot of range(1, 4)) await Promise.all([a!.persist(batchOf(1, slot)), b!.persist(batchOf(2, slot))]);
    await a!.saveSnapshot({ slot: 4, data: Uint8Array.of(4) });
    await expect(b!.compact(3)).rejects.toThrow(/group 2 cannot forget entries below slot 3: the snapshot covers slots up to 0/);
    await a!.compact(5);
    expect(entriesOf(await b!.load())).toEqual(ownEntries(2, range(1, 4)));
    expect(entriesOf(await a!.load())).toEqual([]);
  });
});

describe('SharedFileLog: dropping a group', () => {
  it("removes the group's state and snapshot, keeps the others', and lets the id be used again", async () => {
    const dir = await tempDir();
    let log = await openLog(dir);
    const [a, b] = [5, 6].map((g) => log.group(g)) as [Storage, Storage];
    await Promise.all([a.persist(batchOf(5, 1)), b.persist(batchOf(6, 1))]);
    await a.saveSnapshot({ slot: 1, data: Uint8Array.of(5) });
    await expect(log.dropGroup(5)).rejects.toThrow(/open: close it first/);
    await a.close();
    await log.dropGroup(5);
    expect(log.groupIds).toEqual([6]);
    expect(await readdir(join(dir, 'snapshots', '5'))).toEqual([]);
    log = await reopen(log);
    const again = log.group(5);
    expect(entriesOf(await again.load())).toEqual([]);
    expect(await again.loadSnapshot()).toBeUndefined();
    expect(entriesOf(await log.group(6).load())).toEqual(ownEntries(6, [1]));
    await again.persist(batchOf(5, 2));
    log = await reopen(log);
    expect(entriesOf(await log.group(5).load())).toEqual(ownEntries(5, [2]));
  });
});
