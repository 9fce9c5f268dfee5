/**
 * FaultyFileSystem: its crash model (synced data survives, unsynced data may go,
 * directory entries need a directory sync, nothing from before a crash acts after it),
 * its fault injection, and FileStorage through it: failed writes, fsyncs, directory
 * syncs and renames fail the storage closed and a crash then leaves exactly what was
 * durable. Then torn tails and flipped bits on copies of segment files FileStorage
 * wrote under load.
 */
import { cp, mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DurableState, DurableStateBuilder, type PersistBatch, batch } from '../../../src/core/index.js';
import {
  CorruptionError,
  FaultyFileSystem,
  FileStorage,
  type FileStorageOptions,
  type FileSystem,
  StorageFailedError,
  nodeFileSystem,
} from '../../../src/storage/file/index.js';
import { syncDirectory, writeFully } from '../../../src/storage/file/file-system.js';
import { parseSegmentName, segmentHeaderBytes } from '../../../src/storage/file/wal.js';
import { Prng } from '../../../src/testing/prng.js';
import { accepted, chosen, slotsOf, tempDir, write } from './helpers.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = async (path: string): Promise<string> => new TextDecoder().decode(await readFile(path));
const exists = async (path: string): Promise<boolean> =>
  readFile(path).then(
    () => true,
    () => false,
  );

/** Creates `path` through `fs`, writes `content`, syncs it and (unless told not to) its directory. */
async function createSynced(fs: FileSystem, path: string, content: string, options: { syncDirectory?: boolean } = {}): Promise<void> {
  const handle = await fs.open(path, 'wx');
  await writeFully(handle, bytes(content), 0);
  await handle.datasync();
  await handle.close();
  if (options.syncDirectory ?? true) await syncDirectory(fs, join(path, '..'));
}

/** The state of the first `count` batches merged. */
function merged(batches: readonly PersistBatch[], count: number): DurableState {
  const builder = new DurableStateBuilder();
  for (const b of batches.slice(0, count)) builder.merge(b);
  return builder.build();
}

/** A state as one string: large states compare fast this way. */
function fingerprint(state: DurableState): string {
  return JSON.stringify(state, (_, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v));
}

/**
 * The crashed storage's LOCK names this process, which a simulated crash leaves alive:
 * make it name a dead one, as after a real crash, so the reopen takes it over.
 */
async function markLockStale(fs: FileSystem, dir: string): Promise<void> {
  const handle = await fs.open(join(dir, 'LOCK'), 'r+').catch(() => undefined);
  if (handle === undefined) return;
  const deadPid = bytes('2147483646\n');
  await handle.truncate(0);
  await writeFully(handle, deadPid, 0);
  await handle.datasync();
  await handle.close();
}

/** Crashes `fs` (under a storage in `dir`), reopens the storage on what survived. */
async function crashAndReopen(
  fs: FaultyFileSystem,
  dir: string,
  seed: number | undefined,
  options: FileStorageOptions = {},
): Promise<{ fs: FaultyFileSystem; storage: FileStorage }> {
  const next = await fs.crash(seed === undefined ? {} : { seed });
  await markLockStale(next, dir);
  const storage = await FileStorage.open(dir, { ...options, fs: next });
  return { fs: next, storage };
}

/** `count` batches, each accepting one slot (with a payload of `payloadBytes`) and moving the commit index. */
function batches(count: number, payloadBytes = 8): PersistBatch[] {
  return Array.from({ length: count }, (_, i) =>
    write({ accepted: [{ ...accepted(i + 1, 1), value: batch([new Uint8Array(payloadBytes).fill(i & 0xff)]) }], commitIndex: i }),
  );
}

/** Seeds of the crashes a case runs: the harshest crash (no seed) and a few seeded ones. */
const crashSeeds = [undefined, 1, 2, 3, 4] as const;

describe('FaultyFileSystem: the crash model', () => {
  it('keeps what was synced; of the writes after the last sync, a prefix survives, the next perhaps torn', async () => {
    const command = fc.oneof(
      fc.record({ kind: fc.constant('append' as const), data: fc.uint8Array({ minLength: 1, maxLength: 48 }) }),
      fc.record({ kind: fc.constant('datasync' as const) }),
    );
    await fc.assert(
      // Half the crashes without a seed: those must drop every unsynced write.
      fc.asyncProperty(fc.array(command, { maxLength: 12 }), fc.oneof(fc.constant(undefined), fc.nat()), async (commands, seed) => {
        const dir = await mkdtemp(join(tmpdir(), 'synod-faulty-'));
        try {
          const fs = new FaultyFileSystem();
          const file = join(dir, 'f');
          await createSynced(fs, file, '');
          const handle = await fs.open(file, 'r+');
          const full: number[] = [];
          const writeEnds: number[] = [];
          let synced = 0;
          for (const c of commands) {
            if (c.kind === 'append') {
              await writeFully(handle, c.data, full.length);
              full.push(...c.data);
              writeEnds.push(full.length);
            } else {
              await handle.datasync();
              synced = full.length;
            }
          }
          await fs.crash(seed === undefined ? {} : { seed });
          const after = [...(await readFile(file))];
          const prefix = (n: number): boolean => after.length >= n && after.slice(0, n).every((b, i) => b === full[i]);
          expect(prefix(synced), `synced bytes 0..${synced} survive`).toBe(true);
          if (seed === undefined) {
            expect(after.length, 'a crash without a seed drops every unsynced write').toBe(synced);
            return;
          }
          // Some whole writes after the sync, then at most part of the next one.
          const boundaries = [synced, ...writeEnds.filter((end) => end > synced)];
          const kept = Math.max(...boundaries.filter((b) => b <= after.length && prefix(b)));
          const next = boundaries.find((b) => b > kept);
          const rest = after.slice(kept);
          if (next === undefined) {
            expect(rest).toEqual([]);
          } else {
            expect(rest.length).toBeLessThanOrEqual(next - kept);
            const torn = rest.every((b, i) => b === full[kept + i]) || rest.every((b) => b === 0);
            expect(torn, `bytes after ${kept}: ${rest.join(',')}`).toBe(true);
          }
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 60 },
    );
  });

  it('a new file vanishes unless its directory was synced, however well its content was', async () => {
    const dir = await tempDir();
    const fs = new FaultyFileSystem();
    await createSynced(fs, join(dir, 'kept'), 'k');
    await createSynced(fs, join(dir, 'lost'), 'l', { syncDirectory: false });
    await fs.crash();
    expect((await readdir(dir)).sort()).toEqual(['kept']);
    expect(await text(join(dir, 'kept'))).toBe('k');
  });

  it('an unsynced rename reverts and an unsynced unlink comes back, with their synced content; a directory sync makes them hold', async () => {
    for (const synced of [false, true]) {
      const dir = await tempDir();
      const fs = new FaultyFileSystem();
      await createSynced(fs, join(dir, 'new'), 'new');
      await createSynced(fs, join(dir, 'current'), 'old');
      await createSynced(fs, join(dir, 'doomed'), 'doomed');
      await fs.rename(join(dir, 'new'), join(dir, 'current'));
      await fs.unlink(join(dir, 'doomed'));
      if (synced) await syncDirectory(fs, dir);
      await fs.crash();
      if (synced) {
        expect((await readdir(dir)).sort()).toEqual(['current']);
        expect(await text(join(dir, 'current'))).toBe('new');
      } else {
        expect((await readdir(dir)).sort()).toEqual(['current', 'doomed', 'new']);
        expect(await text(join(dir, 'current'))).toBe('old');
        expect(await text(join(dir, 'new'))).toBe('new');
        expect(await text(join(dir, 'doomed'))).toBe('doomed');
      }
    }
  });

  it('files found on disk before count as durable; a seeded crash keeps a prefix of the unsynced directory changes', async () => {
    for (let seed = 0; seed < 12; seed++) {
      const dir = await tempDir();
      await writeFile(join(dir, 'found'), 'there before');
      const fs = new FaultyFileSystem();
      const names = ['f1', 'f2', 'f3', 'f4', 'f5'];
      for (const name of names) await createSynced(fs, join(dir, name), name, { syncDirectory: false });
      await fs.unlink(join(dir, 'found'));
      await fs.crash({ seed });
      const left = (await readdir(dir)).sort();
      const created = left.filter((n) => n !== 'found');
      expect(created, `seed ${seed}`).toEqual(names.slice(0, created.length));
      // The unlink came after every create: it survives only if they all did.
      if (!left.includes('found')) expect(created).toEqual(names);
      else expect(await text(join(dir, 'found'))).toBe('there before');
      for (const name of created) expect(await text(join(dir, name))).toBe(name);
    }
  });

  it('a directory made by mkdir is emptied by a crash unless its parent was synced', async () => {
    for (const synced of [false, true]) {
      const base = await tempDir();
      const fs = new FaultyFileSystem();
      const dir = join(base, 'a', 'b');
      await fs.mkdir(dir);
      await createSynced(fs, join(dir, 'file'), 'data');
      if (synced) {
        await syncDirectory(fs, join(base, 'a'));
        await syncDirectory(fs, base);
      }
      await fs.crash();
      expect(await exists(join(dir, 'file'))).toBe(synced);
    }
  });

  it('after a crash this file system and its handles are dead; the one it returns works on the same disk', async () => {
    const dir = await tempDir();
    const fs = new FaultyFileSystem();
    await createSynced(fs, join(dir, 'f'), 'abc');
    const handle = await fs.open(join(dir, 'f'), 'r+');
    const next = await fs.crash();
    expect(fs.crashed).toBe(true);
    await expect(handle.write(bytes('x'), 0, 1, 0)).rejects.toMatchObject({ code: 'EIO' });
    await expect(handle.datasync()).rejects.toMatchObject({ code: 'EIO' });
    await expect(handle.close()).rejects.toMatchObject({ code: 'EIO' });
    await expect(fs.readdir(dir)).rejects.toThrow(/crashed/);
    await expect(fs.open(join(dir, 'g'), 'wx')).rejects.toMatchObject({ code: 'EIO' });
    await expect(fs.rename(join(dir, 'f'), join(dir, 'g'))).rejects.toMatchObject({ code: 'EIO' });
    await expect(fs.crash()).rejects.toThrow(/crashed already/);
    expect(await readdir(dir)).toEqual(['f']);
    expect(await text(join(dir, 'f'))).toBe('abc');
    expect(next.crashed).toBe(false);
    expect(new TextDecoder().decode(await next.readFile(join(dir, 'f')))).toBe('abc');
    expect(next.calls('readdir')).toBe(fs.calls('readdir')); // one disk, one set of counters
  });

  it('calls under way when the power goes land before the disk is reverted, and reject', async () => {
    const dir = await tempDir();
    // A rename that is done on disk but has not returned yet when the power goes.
    let landed!: () => void;
    const renameLanded = new Promise<void>((resolve) => (landed = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const gated: FileSystem = {
      ...nodeFileSystem,
      async rename(from, to) {
        await nodeFileSystem.rename(from, to);
        landed();
        await released;
      },
    };
    const fs = new FaultyFileSystem(gated);
    await createSynced(fs, join(dir, 'f'), 'synced');
    await createSynced(fs, join(dir, 'g'), 'g');
    const handle = await fs.open(join(dir, 'f'), 'r+');
    const renaming = fs.rename(join(dir, 'g'), join(dir, 'h'));
    renaming.catch(() => undefined);
    await renameLanded;
    const writing = handle.write(new Uint8Array(64).fill(7), 0, 64, 6);
    const crashed = fs.crash();
    const creating = fs.open(join(dir, 'i'), 'wx'); // after the power went: never reaches the disk
    creating.catch(() => undefined);
    setTimeout(release, 100); // the crash must wait for the rename to return
    await expect(writing).rejects.toMatchObject({ code: 'EIO' });
    await expect(renaming).rejects.toMatchObject({ code: 'EIO' });
    await expect(creating).rejects.toMatchObject({ code: 'EIO' });
    await crashed;
    expect(await text(join(dir, 'f'))).toBe('synced');
    expect((await readdir(dir)).sort()).toEqual(['f', 'g']); // the rename was not synced: reverted
  });

  it('a failed fsync dooms the writes before it: a retried fsync that succeeds does not make them durable', async () => {
    for (const seed of crashSeeds) {
      const dir = await tempDir();
      const fs = new FaultyFileSystem();
      await createSynced(fs, join(dir, 'f'), 'a');
      const handle = await fs.open(join(dir, 'f'), 'r+');
      await writeFully(handle, bytes('b'), 1);
      fs.failNext('datasync');
      await expect(handle.datasync()).rejects.toMatchObject({ code: 'EIO' });
      await handle.datasync(); // "succeeds": the page was dropped, nothing is left to write
      await writeFully(handle, bytes('c'), 2);
      await handle.datasync();
      await fs.crash(seed === undefined ? {} : { seed });
      expect(await text(join(dir, 'f')), `seed ${seed}`).toBe('a\0c');
    }
  });

  it('failNext fails matching calls with the code, the count and the offset asked; calls() counts every call', async () => {
    const dir = await tempDir();
    const fs = new FaultyFileSystem();
    fs.failNext('open', { code: 'ENOSPC', path: join(dir, 'b'), count: 2 });
    fs.failNext('readdir', { path: /other/ });
    fs.failNext('unlink', { code: 'EACCES', after: 1 });
    await createSynced(fs, join(dir, 'a'), 'a'); // another path: not failed
    await expect(fs.open(join(dir, 'b'), 'wx')).rejects.toMatchObject({ code: 'ENOSPC', syscall: 'open', path: join(dir, 'b') });
    await expect(fs.open(join(dir, 'b'), 'wx')).rejects.toThrow(/ENOSPC: injected by FaultyFileSystem/);
    await createSynced(fs, join(dir, 'b'), 'b'); // used up
    expect(await fs.readdir(dir)).toHaveLength(2);
    await fs.unlink(join(dir, 'a')); // let through
    await expect(fs.unlink(join(dir, 'b'))).rejects.toMatchObject({ code: 'EACCES' });
    expect(await exists(join(dir, 'b'))).toBe(true); // a failed call does nothing below
    expect(fs.calls('open')).toBe(2 + 2 + 2); // two files, their two directory syncs, two failures
    expect(fs.calls('unlink')).toBe(2);
    fs.failNext('write', { count: Infinity });
    fs.clearFaults();
    expect(() => fs.failNext('write', { count: 0 })).toThrow(RangeError);
    await createSynced(fs, join(dir, 'c'), 'c');
  });
});

describe('FileStorage through FaultyFileSystem: faults fail it closed, a crash leaves exactly what was durable', () => {
  it.each(['EIO', 'ENOSPC'])('%s on a write: that persist and every later write reject; a reopen after a crash holds the resolved batches', async (code) => {
    for (const seed of crashSeeds) {
      const dir = await tempDir();
      const fs = new FaultyFileSystem();
      const storage = await FileStorage.open(dir, { fs });
      const all = batches(8);
      for (const b of all.slice(0, 5)) await storage.persist(b);
      const datasyncs = fs.calls('datasync');
      fs.failNext('write', { code, path: /wal-\d+\.log$/ });
      const failed = await storage.persist(all[5]!).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(StorageFailedError);
      expect((failed as Error).cause).toMatchObject({ code });
      // Which disk is full: the file, though Node's error for a write on a handle names none.
      expect((failed as Error).message).toMatch(new RegExp(`${code} on ${dir}/wal-\\d+\\.log`));
      await expect(storage.persist(all[6]!)).rejects.toBe(failed);
      await expect(storage.saveSnapshot({ slot: 1, data: new Uint8Array(1) })).rejects.toBe(failed);
      await expect(storage.compact(1)).rejects.toBe(failed);
      expect(fs.calls('datasync')).toBe(datasyncs); // nothing synced after the failure
      const { storage: reopened } = await crashAndReopen(fs, dir, seed);
      expect(await reopened.load(), `seed ${seed}`).toEqual(merged(all, 5));
      await reopened.close();
    }
  });

  it('a failed fdatasync: that persist and every later write reject, no sync is retried, and a crash leaves exactly the resolved batches', async () => {
    for (const seed of crashSeeds) {
      const dir = await tempDir();
      const fs = new FaultyFileSystem();
      const storage = await FileStorage.open(dir, { fs });
      const all = batches(10);
      for (const b of all.slice(0, 4)) await storage.persist(b);
      fs.failNext('datasync');
      const results = await Promise.allSettled(all.slice(4).map((b) => storage.persist(b)));
      const datasyncs = fs.calls('datasync');
      expect(results.every((r) => r.status === 'rejected' && r.reason instanceof StorageFailedError)).toBe(true);
      await expect(storage.persist(write({ commitIndex: 20 }))).rejects.toBeInstanceOf(StorageFailedError);
      expect(fs.calls('datasync')).toBe(datasyncs);
      expect(storage.stats.persists).toBe(4);
      const { storage: reopened } = await crashAndReopen(fs, dir, seed);
      expect(await reopened.load(), `seed ${seed}`).toEqual(merged(all, 4));
      await reopened.close();
    }
  });

  it('a failed directory sync when a segment rolls fails the storage; a reopen after a crash holds the resolved batches', async () => {
    for (const seed of crashSeeds) {
      const dir = await tempDir();
      const fs = new FaultyFileSystem();
      const storage = await FileStorage.open(dir, { fs, segmentBytesMax: 200 });
      const segmentsBefore = storage.segmentCount;
      fs.failNext('sync', { path: dir }); // the next directory sync: the new segment's
      const all = batches(20, 40);
      let resolved = 0;
      let failure: unknown;
      for (const b of all) {
        failure = await storage.persist(b).catch((e: unknown) => e);
        if (failure !== undefined) break;
        resolved++;
      }
      expect(failure).toBeInstanceOf(StorageFailedError);
      expect(resolved).toBeGreaterThan(0);
      expect(storage.segmentCount).toBe(segmentsBefore); // the roll never finished
      expect((await readdir(dir)).filter((n) => n.startsWith('wal-'))).toHaveLength(2); // but its file is there
      const { storage: reopened } = await crashAndReopen(fs, dir, seed, { segmentBytesMax: 200 });
      expect(await reopened.load(), `seed ${seed}`).toEqual(merged(all, resolved));
      await reopened.persist(all[resolved]!); // and it goes on
      await reopened.close();
    }
  });

  it('a failed rename in saveSnapshot keeps the old snapshot, through a crash', async () => {
    for (const seed of crashSeeds) {
      const dir = await tempDir();
      const fs = new FaultyFileSystem();
      const storage = await FileStorage.open(dir, { fs });
      await storage.saveSnapshot({ slot: 3, data: bytes('old') });
      fs.failNext('rename');
      const failed = await storage.saveSnapshot({ slot: 7, data: bytes('new') }).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(StorageFailedError);
      expect(await storage.loadSnapshot()).toEqual({ slot: 3, data: bytes('old') });
      const { storage: reopened } = await crashAndReopen(fs, dir, seed);
      expect(await reopened.loadSnapshot(), `seed ${seed}`).toEqual({ slot: 3, data: bytes('old') });
      expect(await readdir(dir)).not.toContain('snapshot.tmp');
      await reopened.close();
    }
  });

  it('the data directory it creates, and each parent it creates, survive a crash right after open', async () => {
    const dir = join(await tempDir(), 'nested', 'data');
    const fs = new FaultyFileSystem();
    const storage = await FileStorage.open(dir, { fs });
    await storage.persist(write({ accepted: [accepted(1, 1)] }));
    const { storage: reopened } = await crashAndReopen(fs, dir, undefined);
    expect(slotsOf((await reopened.load()).accepted)).toEqual([1]);
    await reopened.close();
  });

  it('resolved persists in every rolled segment survive a crash; a crash amid the writes keeps a prefix', async () => {
    for (const seed of crashSeeds) {
      const dir = await tempDir();
      const fs = new FaultyFileSystem();
      const storage = await FileStorage.open(dir, { fs, segmentBytesMax: 300 });
      const all = batches(60, 30);
      for (const b of all.slice(0, 30)) await storage.persist(b);
      expect(storage.segmentCount).toBeGreaterThan(3);
      const pending = all.slice(30).map((b) => storage.persist(b));
      for (const p of pending) p.catch(() => undefined);
      await pending[9]; // 40 resolved, the rest under way
      const { storage: reopened } = await crashAndReopen(fs, dir, seed, { segmentBytesMax: 300 });
      const state = await reopened.load();
      const kept = state.accepted.length;
      expect(kept, `seed ${seed}`).toBeGreaterThanOrEqual(40);
      expect(state, `seed ${seed}`).toEqual(merged(all, kept));
      await reopened.close();
    }
  });

  it('a learner-only batch, resolved without a sync, is lost in a crash only with what follows it; a later synced batch makes it durable', async () => {
    for (const seed of crashSeeds) {
      const dir = await tempDir();
      const fs = new FaultyFileSystem();
      const storage = await FileStorage.open(dir, { fs });
      const synced = write({ accepted: [accepted(1, 1)] });
      const learned = write({ chosen: [chosen(2)], commitIndex: 1 });
      await storage.persist(synced);
      await storage.persist(learned);
      const first = await crashAndReopen(fs, dir, seed);
      const state = await first.storage.load();
      // Either the learner batch survived whole, or it is gone: never torn, never the synced one lost.
      expect([merged([synced], 1), merged([synced, learned], 2)], `seed ${seed}`).toContainEqual(state);
      const later = write({ accepted: [accepted(3, 1)] });
      await first.storage.persist(learned);
      await first.storage.persist(later);
      const second = await crashAndReopen(first.fs, dir, seed);
      expect(await second.storage.load(), `seed ${seed}`).toEqual(merged([synced, learned, later], 3));
      await second.storage.close();
    }
  });

  it('a crash at any point of a compaction leaves the state before it or after it', async () => {
    for (const seed of crashSeeds) {
      for (const turns of [0, 1, 2, 3, 5]) {
        const dir = await tempDir();
        const fs = new FaultyFileSystem();
        const storage = await FileStorage.open(dir, { fs, segmentBytesMax: 150 });
        // The last batch carries a promise: a batch needing a sync, so it is durable before the compaction.
        const all = [...batches(12, 20), write({ promised: { round: 1, node: 'a' }, chosen: [chosen(1), chosen(2)], commitIndex: 12 })];
        for (const b of all) await storage.persist(b);
        await storage.saveSnapshot({ slot: 6, data: bytes('six') });
        const compacting = storage.compact(7);
        compacting.catch(() => undefined);
        for (let t = 0; t < turns; t++) await new Promise((r) => setTimeout(r, 0));
        const { storage: reopened } = await crashAndReopen(fs, dir, seed, { segmentBytesMax: 150 });
        const before = merged(all, all.length);
        const after: DurableState = { ...before, accepted: before.accepted.filter((e) => e.slot >= 7), chosen: [] };
        const state = await reopened.load();
        expect([before, after], `seed ${seed}, ${turns} turns`).toContainEqual(state);
        expect(await reopened.loadSnapshot()).toEqual({ slot: 6, data: bytes('six') });
        await reopened.close();
      }
    }
  });
});

describe('FileStorage recovery: torn tails and flipped bits in copies of segments written under load', () => {
  const loadBatches: PersistBatch[] = [];
  let source = '';
  /** Segment files of the source directory, oldest first, with their record frames. */
  const segments: { name: string; firstSequence: number; size: number; frames: { start: number; end: number }[] }[] = [];
  const copies: string[] = [];

  beforeAll(async () => {
    source = await mkdtemp(join(tmpdir(), 'synod-load-'));
    const prng = new Prng(0x10ad);
    for (let i = 1; i <= 1500; i++) {
      const payload = Uint8Array.from({ length: prng.int(160) }, () => prng.int(256));
      loadBatches.push({
        ...(prng.chance(0.05) ? { promised: { round: 1 + Math.floor(i / 100), node: 'n1' } } : {}),
        accepted: [{ slot: i, ballot: { round: 1, node: 'n1' }, value: batch([payload]) }],
        chosen: prng.chance(0.5) && i > 1 ? [{ slot: i - 1, value: batch([payload.subarray(0, 4)]) }] : [],
        ...(prng.chance(0.5) ? { commitIndex: i - 1 } : {}),
      });
    }
    const storage = await FileStorage.open(source, { segmentBytesMax: 16 * 1024 });
    // Waves of concurrent persists, so records are written and synced in groups of many sizes.
    for (let i = 0; i < loadBatches.length; ) {
      const wave = loadBatches.slice(i, i + 1 + prng.int(48));
      await Promise.all(wave.map((b) => storage.persist(b)));
      i += wave.length;
    }
    expect(storage.stats.fsyncs).toBeLessThan(loadBatches.length / 4);
    await storage.close();
    for (const name of (await readdir(source)).sort()) {
      const firstSequence = parseSegmentName(name);
      if (firstSequence === undefined) continue;
      const file = await readFile(join(source, name));
      const frames: { start: number; end: number }[] = [];
      for (let start = segmentHeaderBytes; start < file.byteLength; ) {
        const end = start + 9 + file.readUInt32LE(start); // length u32, type u8, crc u32, payload
        frames.push({ start, end });
        start = end;
      }
      segments.push({ name, firstSequence, size: file.byteLength, frames });
    }
    expect(segments.length).toBeGreaterThan(5);
  });

  afterAll(async () => {
    for (const dir of [source, ...copies]) await rm(dir, { recursive: true, force: true });
  });

  async function copy(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'synod-load-copy-'));
    copies.push(dir);
    await cp(source, dir, { recursive: true });
    return dir;
  }

  it('a cut anywhere in the last segment: it opens with the records before the cut, truncates the rest and warns', async () => {
    const last = segments[segments.length - 1]!;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: last.size - 1 }), async (cut) => {
        const dir = await copy();
        const file = join(dir, last.name);
        await truncate(file, cut);
        const warnings: string[] = [];
        const storage = await FileStorage.open(dir, { onWarning: (w) => warnings.push(w) });
        try {
          const whole = last.frames.filter((f) => f.end <= cut);
          const records = last.firstSequence - 1 + whole.length;
          const state = await storage.load();
          const same = fingerprint(state) === fingerprint(merged(loadBatches, records));
          expect(same, `cut at ${cut}: ${state.accepted.length} accepted entries, expected the first ${records} batches`).toBe(true);
          const atBoundary = cut === segmentHeaderBytes || whole.at(-1)?.end === cut;
          expect(warnings, `cut at ${cut}`).toHaveLength(atBoundary ? 0 : 1);
          if (!atBoundary) expect(warnings[0]).toContain(`${file}: truncated a torn tail`);
          const validEnd = whole.at(-1)?.end ?? segmentHeaderBytes;
          expect((await readFile(file)).byteLength).toBe(validEnd);
        } finally {
          await storage.close();
          await rm(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 40 },
    );
  });

  /** Flips `bit` of byte `offset` of segment `name` in a copy; the error opening it, if any. */
  async function openFlipped(name: string, offset: number, bit: number): Promise<{ error: unknown; file: string }> {
    const dir = await copy();
    const file = join(dir, name);
    const content = await readFile(file);
    content[offset] = content[offset]! ^ (1 << bit);
    await writeFile(file, content);
    const error = await FileStorage.open(dir).then(
      async (storage) => {
        await storage.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    await rm(dir, { recursive: true, force: true });
    return { error, file };
  }

  it('a flipped bit in any record but the last: CorruptionError naming the file and the record offset', async () => {
    // Every byte of every record, but never the last record of the last segment (damage
    // there is indistinguishable from a torn tail, and nothing after it was lost).
    const records = segments.flatMap((segment, s) => {
      const last = s === segments.length - 1;
      return segment.frames.filter((_, r) => !last || r < segment.frames.length - 1).map((frame) => ({ segment, frame, from: 0 }));
    });
    await fc.assert(
      fc.asyncProperty(fc.nat(records.length - 1), fc.nat(), fc.nat(7), async (pick, at, bit) => {
        const { segment, frame, from } = records[pick]!;
        const offset = frame.start + from + (at % (frame.end - frame.start - from));
        const { error, file } = await openFlipped(segment.name, offset, bit);
        expect(error, `bit ${bit} of byte ${offset} (record at ${frame.start}) in ${segment.name}`).toBeInstanceOf(CorruptionError);
        expect(error).toMatchObject({ file, offset: frame.start });
      }),
      { numRuns: 60 },
    );
  });

  // A flipped high bit in the length field of a record of the last segment makes it
  // claim more bytes than the file holds: like a torn tail, except that whole records
  // follow. Truncating there would drop resolved records; the replay refuses instead.
  it('a flipped length bit in an early record of the last segment is refused, not truncated as a torn tail', async () => {
    const last = segments[segments.length - 1]!;
    const frame = last.frames[0]!;
    expect(last.frames.length).toBeGreaterThan(2);
    const { error, file } = await openFlipped(last.name, frame.start + 3, 6); // length += 2^30
    expect(error).toBeInstanceOf(CorruptionError);
    expect(error).toMatchObject({ file, offset: frame.start });
  });

  it("a flipped bit in an older segment's length field is refused (the pinned counterpart of the gap)", async () => {
    const segment = segments[segments.length - 2]!;
    const frame = segment.frames[0]!;
    const { error, file } = await openFlipped(segment.name, frame.start + 3, 6);
    expect(error).toBeInstanceOf(CorruptionError);
    expect(error).toMatchObject({ file, offset: frame.start });
  });
});
