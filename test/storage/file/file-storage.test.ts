import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { appendFile, cp, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { InvariantError, SynodError, emptyDurableState } from '../../../src/core/index.js';
import { ClosedError } from '../../../src/runtime/errors.js';
import {
  ClusterMismatchError,
  CorruptionError,
  FileStorage,
  type FileSystem,
  LockedError,
  StorageFailedError,
  nodeFileSystem,
} from '../../../src/storage/file/index.js';
import { RecordType, encodeBatch, encodeRecord } from '../../../src/storage/file/record.js';
import { segmentHeaderBytes, segmentName } from '../../../src/storage/file/wal.js';
import { unwrittenBytesMax } from '../../../src/storage/file/index.js';
import { accepted, ballot, chosen, openStorage, slotsOf, tempDir, write } from './helpers.js';

const firstSegment = segmentName(1);

async function until(condition: () => boolean, ms = 2_000): Promise<void> {
  for (let i = 0; i < ms / 2 && !condition(); i++) await new Promise((r) => setTimeout(r, 2));
  expect(condition()).toBe(true);
}
const recordBytes = (b: Parameters<typeof encodeBatch>[0]): number => encodeRecord(RecordType.batch, encodeBatch(b)).byteLength;

describe('FileStorage: persist and load', () => {
  it('a new directory loads the empty state and no snapshot', async () => {
    const dir = join(await tempDir(), 'nested', 'data');
    const storage = await openStorage(dir);
    expect(await storage.load()).toEqual(emptyDurableState);
    expect(await storage.loadSnapshot()).toBeUndefined();
    expect((await readdir(dir)).sort()).toEqual(['LOCK', firstSegment]);
  });

  it('loads after a reopen what was persisted: promise, accepted, chosen, commit index', async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir);
    const entry = accepted(1, 2);
    await storage.persist(write({ promised: ballot(2, 'b'), accepted: [entry], chosen: [chosen(3)], commitIndex: 1 }));
    await storage.close();
    const again = await openStorage(dir);
    const state = await again.load();
    expect(state.promised).toEqual(ballot(2, 'b'));
    expect(state.accepted).toEqual([entry]);
    expect(state.chosen).toEqual([chosen(3)]);
    expect(state.commitIndex).toBe(1);
  });

  it('merges batches: a later entry of the same slot replaces the earlier, absent fields stay', async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir);
    await storage.persist(write({ promised: ballot(1), accepted: [accepted(1, 1, 'old'), accepted(2, 1)], commitIndex: 1 }));
    await storage.persist(write({ accepted: [accepted(1, 3, 'new'), accepted(4, 3)], chosen: [chosen(2)] }));
    const check = async (s: FileStorage): Promise<void> => {
      const state = await s.load();
      expect(state.promised).toEqual(ballot(1));
      expect(state.commitIndex).toBe(1);
      expect(slotsOf(state.accepted)).toEqual([1, 2, 4]);
      expect(state.accepted[0]).toEqual(accepted(1, 3, 'new'));
      expect(slotsOf(state.chosen)).toEqual([2]);
    };
    await check(storage);
    await storage.close();
    await check(await openStorage(dir));
  });

  it('group commit: 64 concurrent persists share fsyncs and resolve in call order', async () => {
    const storage = await openStorage(await tempDir());
    const resolved: number[] = [];
    await Promise.all(
      Array.from({ length: 64 }, (_, i) => storage.persist(write({ accepted: [accepted(i + 1, 1)], commitIndex: i })).then(() => resolved.push(i))),
    );
    expect(resolved).toEqual(Array.from({ length: 64 }, (_, i) => i));
    expect(storage.stats.persists).toBe(64);
    expect(storage.stats.fsyncs).toBeGreaterThanOrEqual(1);
    expect(storage.stats.fsyncs).toBeLessThan(64);
    expect(slotsOf((await storage.load()).accepted)).toHaveLength(64);
  });

  it('persists issued while an fsync is in flight share the next one', async () => {
    const gate = gatedDatasync();
    const storage = await openStorage(await tempDir(), { fs: gate.fs });
    const first = storage.persist(write({ promised: ballot(1) }));
    await gate.reached(); // the first group's fdatasync is in flight
    const later = [2, 3, 4].map((c) => storage.persist(write({ promised: ballot(c) })));
    gate.release();
    await Promise.all([first, ...later]);
    expect(storage.stats).toEqual({ persists: 4, fsyncs: 2 });
  });

  it('a batch of the commit index only resolves without an fsync; learned chosen values are synced; the next synced batch, or close, makes it durable', async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir);
    await storage.persist(write({ chosen: [chosen(1)], commitIndex: 1 }));
    expect(storage.stats).toEqual({ persists: 1, fsyncs: 1 });
    await storage.persist(write({ accepted: [accepted(2, 1)] }));
    expect(storage.stats).toEqual({ persists: 2, fsyncs: 2 });
    await storage.persist(write({ commitIndex: 2 }));
    expect(storage.stats).toEqual({ persists: 3, fsyncs: 2 });
    expect((await storage.load()).commitIndex).toBe(2);
    await storage.close();
    const state = await (await openStorage(dir)).load();
    expect(state.commitIndex).toBe(2);
    expect(slotsOf(state.chosen)).toEqual([1]);
    expect(slotsOf(state.accepted)).toEqual([2]);
  });

  it('commit-index-only batches wait in memory up to unwrittenBytesMax, then are written unsynced; the last is there after close', async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir);
    // Each record takes at least 8 bytes: this many pass the bound twice.
    const count = Math.ceil((2 * unwrittenBytesMax) / 8);
    for (let slot = 1; slot <= count; slot++) await storage.persist(write({ commitIndex: slot }));
    expect(storage.stats.fsyncs).toBe(0);
    await storage.close();
    const state = await (await openStorage(dir)).load();
    expect(state.commitIndex).toBe(count);
  });

  it('a compaction does not bring back entries from learner-only batches still waiting to be written', async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir);
    await storage.persist(write({ accepted: [accepted(1, 1), accepted(2, 1)] }));
    await storage.persist(write({ chosen: [chosen(1), chosen(2)], commitIndex: 2 }));
    await storage.saveSnapshot({ slot: 2, data: new Uint8Array([2]) });
    await storage.compact(3);
    await storage.persist(write({ accepted: [accepted(3, 1)] }));
    await storage.close();
    const state = await (await openStorage(dir)).load();
    expect(state).toMatchObject({ commitIndex: 2, chosen: [] });
    expect(slotsOf(state.accepted)).toEqual([3]);
  });

  it('a snapshot saved after learner-only batches is on disk only with them: a crash right after the save keeps both', async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir);
    await storage.persist(write({ accepted: [accepted(1, 1)], chosen: [chosen(1)] }));
    // Resolves with the record still in memory (a commit index alone needs no sync)...
    await storage.persist(write({ commitIndex: 1 }));
    // ...and this save comes after it in call order, so it must not be durable without it.
    await storage.saveSnapshot({ slot: 1, data: new Uint8Array([1]) });
    // The crash: the directory as it is now, copied before close() could write anything.
    const crashed = join(await tempDir(), 'crashed');
    await cp(dir, crashed, { recursive: true });
    await unlink(join(crashed, 'LOCK')).catch(() => {});
    await storage.close();
    const after = await openStorage(crashed);
    expect((await after.loadSnapshot())?.slot).toBe(1);
    expect((await after.load()).commitIndex).toBe(1);
    await after.close();
  });

  it('rolls to a new segment past segmentBytesMax and replays across segments', async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir, { segmentBytesMax: 200 });
    for (let slot = 1; slot <= 20; slot++) await storage.persist(write({ accepted: [accepted(slot, 1)], commitIndex: slot }));
    const segments = (await readdir(dir)).filter((n) => n.startsWith('wal-'));
    expect(segments.length).toBeGreaterThan(2);
    expect(segments.length).toBe(storage.segmentCount);
    await storage.close();
    const state = await (await openStorage(dir, { segmentBytesMax: 200 })).load();
    expect(slotsOf(state.accepted)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(state.commitIndex).toBe(20);
  });

  it('rejects a malformed batch with InvariantError and then fails closed', async () => {
    const storage = await openStorage(await tempDir());
    await storage.persist(write({ commitIndex: 5 }));
    await expect(storage.persist(write({ accepted: [accepted(2, 1), accepted(1, 1)] }))).rejects.toThrow(InvariantError);
    await expect(storage.persist(write({}))).rejects.toThrow(InvariantError);
  });

  it('rejects a commit index that moves back', async () => {
    const storage = await openStorage(await tempDir());
    await storage.persist(write({ commitIndex: 5 }));
    await expect(storage.persist(write({ commitIndex: 4 }))).rejects.toThrow(/commitIndex 4 is below the stored 5/);
  });
});

describe('FileStorage: recovery', () => {
  async function threeRecords(dir: string): Promise<{ batches: ReturnType<typeof write>[]; file: string }> {
    const storage = await openStorage(dir);
    const batches = [1, 2, 3].map((slot) => write({ accepted: [accepted(slot, 1)], commitIndex: slot - 1 }));
    for (const b of batches) await storage.persist(b);
    await storage.close();
    return { batches, file: join(dir, firstSegment) };
  }

  it('truncates a partial last record, keeps what came before, and warns', async () => {
    const dir = await tempDir();
    const { file } = await threeRecords(dir);
    const sizeBefore = (await readFile(file)).byteLength;
    const partial = encodeRecord(RecordType.batch, encodeBatch(write({ accepted: [accepted(4, 1)] })));
    await appendFile(file, partial.subarray(0, partial.byteLength - 3));
    const warnings: string[] = [];
    const storage = await openStorage(dir, { onWarning: (m) => warnings.push(m) });
    expect(slotsOf((await storage.load()).accepted)).toEqual([1, 2, 3]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/torn tail at byte \d+/);
    expect((await readFile(file)).byteLength).toBe(sizeBefore);
    // The log goes on after the cut.
    await storage.persist(write({ accepted: [accepted(5, 1)] }));
    await storage.close();
    expect(slotsOf((await (await openStorage(dir)).load()).accepted)).toEqual([1, 2, 3, 5]);
  });

  it('truncates a last record whose CRC fails, and a zero-filled tail', async () => {
    const dir = await tempDir();
    const { file } = await threeRecords(dir);
    const bytes = await readFile(file);
    bytes[bytes.byteLength - 1] = bytes[bytes.byteLength - 1]! ^ 0x01; // the last record's last payload byte
    await writeFile(file, Buffer.concat([bytes, Buffer.alloc(0)]));
    const warnings: string[] = [];
    const storage = await openStorage(dir, { onWarning: (m) => warnings.push(m) });
    expect(slotsOf((await storage.load()).accepted)).toEqual([1, 2]);
    expect(warnings[0]).toMatch(/CRC mismatch/);
    await storage.close();
    await appendFile(file, Buffer.alloc(4096));
    const zeroWarnings: string[] = [];
    const again = await openStorage(dir, { onWarning: (m) => zeroWarnings.push(m) });
    expect(slotsOf((await again.load()).accepted)).toEqual([1, 2]);
    expect(zeroWarnings[0]).toMatch(/zeros to the end/);
  });

  it('rewrites the header of a last segment torn while it was created', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, firstSegment), 'SYNO');
    const warnings: string[] = [];
    const storage = await openStorage(dir, { onWarning: (m) => warnings.push(m) });
    expect(warnings[0]).toMatch(/a segment header of 4 bytes/);
    await storage.persist(write({ commitIndex: 2 }));
    await storage.close();
    expect((await (await openStorage(dir)).load()).commitIndex).toBe(2);
  });

  it('refuses a flipped bit in a record before the tail: CorruptionError with file and offset', async () => {
    const dir = await tempDir();
    const { batches, file } = await threeRecords(dir);
    const bytes = await readFile(file);
    const second = segmentHeaderBytes + recordBytes(batches[0]!);
    bytes[second + 12] = bytes[second + 12]! ^ 0x10;
    await writeFile(file, bytes);
    const error = await FileStorage.open(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptionError);
    expect(error).toBeInstanceOf(SynodError);
    expect(error).toMatchObject({ code: 'CORRUPTION', file, offset: second });
    expect(String(error)).toMatch(/CRC mismatch/);
    // Refusing to open leaves the lock free.
    expect(await readdir(dir)).not.toContain('LOCK');
  });

  it('refuses a bad length in a record before the tail of a non-last segment', async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir, { segmentBytesMax: 100 });
    for (let slot = 1; slot <= 6; slot++) await storage.persist(write({ accepted: [accepted(slot, 1)] }));
    await storage.close();
    const file = join(dir, firstSegment);
    const bytes = await readFile(file);
    bytes.writeUInt32LE(1_000_000, segmentHeaderBytes);
    await writeFile(file, bytes);
    await expect(FileStorage.open(dir)).rejects.toMatchObject({ name: 'CorruptionError', file, offset: segmentHeaderBytes });
  });

  it('refuses an unknown format version and a bad magic', async () => {
    const dir = await tempDir();
    const { file } = await threeRecords(dir);
    const bytes = await readFile(file);
    bytes.writeUInt16LE(99, 8);
    await writeFile(file, bytes);
    const error = await FileStorage.open(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptionError);
    expect(error).toMatchObject({ file, offset: 8 });
    expect(String(error)).toMatch(/unknown WAL format version 99; this build reads version 1/);
    bytes.write('NOTAWAL!', 0, 'latin1');
    await writeFile(file, bytes);
    await expect(FileStorage.open(dir)).rejects.toThrow(/bad magic/);
  });

  it('refuses a log with a missing segment', async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir, { segmentBytesMax: 100 });
    for (let slot = 1; slot <= 8; slot++) await storage.persist(write({ accepted: [accepted(slot, 1)] }));
    await storage.close();
    const segments = (await readdir(dir)).filter((n) => n.startsWith('wal-')).sort();
    expect(segments.length).toBeGreaterThanOrEqual(3);
    await unlink(join(dir, segments[1]!));
    await expect(FileStorage.open(dir)).rejects.toThrow(/a segment is missing/);
  });
});

describe('FileStorage: lock', () => {
  it('refuses a second open while this live process holds the lock, naming the pid', async () => {
    const dir = await tempDir();
    await openStorage(dir);
    const error = await FileStorage.open(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockedError);
    expect(error).toMatchObject({ code: 'LOCKED', pid: process.pid, lockFile: join(dir, 'LOCK') });
    expect(String(error)).toContain(String(process.pid));
  });

  it('close releases the lock', async () => {
    const dir = await tempDir();
    await (await openStorage(dir)).close();
    expect(await readdir(dir)).not.toContain('LOCK');
    await openStorage(dir);
  });

  it('takes over a stale lock of a dead process', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'LOCK'), '2147483646\n');
    await openStorage(dir);
    expect((await readFile(join(dir, 'LOCK'), 'utf8')).trim()).toBe(String(process.pid));
  });

  // A SIGKILLed owner that its parent has not reaped yet still answers signal 0.
  it.runIf(existsSync('/proc/self/stat'))('takes over the lock of a killed process its parent has not reaped (a zombie)', async () => {
    const dir = await tempDir();
    // The shell starts a short sleep in the background, then becomes `sleep 30`, which
    // never waits for it. (A child that ended before the exec was reaped by the shell.)
    const parent = spawn('sh', ['-c', 'sleep 0.3 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const [line] = (await once(parent.stdout!, 'data')) as [Buffer];
      const zombie = Number(line.toString().trim());
      await until(() => readFileSync(`/proc/${zombie}/stat`, 'latin1').includes(') Z '), 3_000);
      process.kill(zombie, 0); // it still answers signal 0
      await writeFile(join(dir, 'LOCK'), `${zombie}\n`);
      await openStorage(dir);
      expect((await readFile(join(dir, 'LOCK'), 'utf8')).trim()).toBe(String(process.pid));
    } finally {
      parent.kill('SIGKILL');
    }
  });
});

describe('FileStorage: the cluster a directory belongs to', () => {
  it('records the first cluster id it is opened for, and refuses another before reading anything, leaving the directory as it was', async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir, { clusterId: 'orders' });
    await storage.persist(write({ promised: ballot(2) }));
    await storage.close();
    expect(await readdir(dir)).toContain('cluster-id');
    const before = await Promise.all((await readdir(dir)).sort().map(async (name) => [name, await readFile(join(dir, name))]));
    const error = await FileStorage.open(dir, { clusterId: 'orders-restored' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClusterMismatchError);
    expect(error).toMatchObject({ code: 'CLUSTER_MISMATCH', dir, recorded: 'orders', expected: 'orders-restored' });
    expect(await Promise.all((await readdir(dir)).sort().map(async (name) => [name, await readFile(join(dir, name))]))).toEqual(before);
    // The same id opens it; no id skips the check.
    const same = await openStorage(dir, { clusterId: 'orders' });
    expect((await same.load()).promised).toEqual(ballot(2));
    await same.close();
    await (await openStorage(dir)).close();
  });

  it('a directory that records no cluster yet takes the first id it is opened for', async () => {
    const dir = await tempDir();
    await (await openStorage(dir)).close();
    await (await openStorage(dir, { clusterId: 'é-cluster' })).close();
    await expect(FileStorage.open(dir, { clusterId: 'other' })).rejects.toBeInstanceOf(ClusterMismatchError);
  });

  it('refuses a damaged cluster-id file with CorruptionError, and a bad clusterId option with ConfigError', async () => {
    const dir = await tempDir();
    await (await openStorage(dir, { clusterId: 'orders' })).close();
    const file = join(dir, 'cluster-id');
    const bytes = await readFile(file);
    bytes[bytes.byteLength - 1]! ^= 1;
    await writeFile(file, bytes);
    await expect(FileStorage.open(dir, { clusterId: 'orders' })).rejects.toBeInstanceOf(CorruptionError);
    await expect(FileStorage.open(dir, { clusterId: '' })).rejects.toThrow(/clusterId/);
    await expect(FileStorage.open(dir, { clusterId: 'x'.repeat(256) })).rejects.toThrow(/at most 255 UTF-8 bytes/);
  });
});

describe('FileStorage: snapshots and compaction', () => {
  it('saves a snapshot that survives a reopen, and replaces it', async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir);
    await storage.saveSnapshot({ slot: 3, data: new Uint8Array([1, 2, 3]) });
    await storage.saveSnapshot({ slot: 5, data: new Uint8Array([4, 5]) });
    await storage.close();
    await writeFile(join(dir, 'snapshot.tmp'), 'left over by a crash');
    const again = await openStorage(dir);
    expect(await again.loadSnapshot()).toEqual({ slot: 5, data: new Uint8Array([4, 5]) });
    expect(await readdir(dir)).not.toContain('snapshot.tmp');
  });

  it('reads the snapshot once at a start: the first load after open gets what open read and checked; a later load, or one after a save, reads the file', async () => {
    const dir = await tempDir();
    const first = await openStorage(dir);
    await first.saveSnapshot({ slot: 3, data: new Uint8Array([1, 2, 3]) });
    await first.close();
    let snapshotReads = 0;
    const counting: FileSystem = {
      ...nodeFileSystem,
      readFile: (path) => {
        if (path === join(dir, 'snapshot')) snapshotReads++;
        return nodeFileSystem.readFile(path);
      },
    };
    const storage = await FileStorage.open(dir, { fs: counting });
    expect(snapshotReads).toBe(1);
    expect(await storage.loadSnapshot()).toEqual({ slot: 3, data: new Uint8Array([1, 2, 3]) });
    expect(snapshotReads).toBe(1);
    expect(await storage.loadSnapshot()).toEqual({ slot: 3, data: new Uint8Array([1, 2, 3]) });
    expect(snapshotReads).toBe(2);
    await storage.close();
    // A save between the open and the first load: the load reads the new one.
    const again = await FileStorage.open(dir, { fs: counting });
    await again.saveSnapshot({ slot: 5, data: new Uint8Array([4, 5]) });
    expect(await again.loadSnapshot()).toEqual({ slot: 5, data: new Uint8Array([4, 5]) });
    await again.close();
  });

  it('refuses a damaged snapshot', async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir);
    await storage.saveSnapshot({ slot: 3, data: new Uint8Array([1, 2, 3]) });
    await storage.close();
    const file = join(dir, 'snapshot');
    const bytes = await readFile(file);
    bytes[bytes.byteLength - 1] = 9;
    await writeFile(file, bytes);
    await expect(FileStorage.open(dir)).rejects.toMatchObject({ name: 'CorruptionError', file });
  });

  it('writes a large snapshot in pieces in the documented layout: magic, version, slot, length, CRC-32 over slot, length and data', async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir);
    // Over many write pieces of 2 MiB, and not a multiple of them.
    const data = Uint8Array.from({ length: 20 * 1024 * 1024 + 13 }, (_, i) => (i * 31) ^ (i >>> 9));
    await storage.saveSnapshot({ slot: 77, data });
    const bytes = await readFile(join(dir, 'snapshot'));
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect(bytes.subarray(0, 8).toString()).toBe('SYNODSNP');
    expect(view.getUint16(8, true)).toBe(1);
    expect(view.getFloat64(10, true)).toBe(77);
    expect(view.getUint32(18, true)).toBe(data.byteLength);
    expect(view.getUint32(22, true)).toBe(crc32(data, crc32(bytes.subarray(10, 22))));
    expect(Buffer.compare(bytes.subarray(26), data)).toBe(0);
    const loaded = await storage.loadSnapshot();
    expect(loaded?.slot).toBe(77);
    expect(Buffer.compare(loaded!.data, data)).toBe(0);
    await storage.close();
    // A byte damaged in the last piece checked is found.
    bytes[bytes.byteLength - 5] = bytes[bytes.byteLength - 5]! ^ 0x20;
    await writeFile(join(dir, 'snapshot'), bytes);
    await expect(FileStorage.open(dir)).rejects.toMatchObject({ name: 'CorruptionError', message: expect.stringMatching(/CRC mismatch/) });
  });

  it('loadSnapshot does not wait for the log writes queued before it, nor disturb a save under way', async () => {
    const dir = await tempDir();
    // Writes to the log wait at a gate (handles without the blocking calls, so they go through it).
    let open = true;
    const waiting: (() => void)[] = [];
    const gated: FileSystem = {
      ...nodeFileSystem,
      open: async (path, flags) => {
        const h = await nodeFileSystem.open(path, flags);
        if (!path.includes('wal-')) return h;
        return {
          write: async (...args) => {
            if (!open) await new Promise<void>((r) => waiting.push(r));
            return h.write(...args);
          },
          datasync: () => h.datasync(),
          sync: () => h.sync(),
          truncate: (length) => h.truncate(length),
          close: () => h.close(),
        };
      },
    };
    const storage = await openStorage(dir, { fs: gated, preallocateBytes: 0 });
    await storage.saveSnapshot({ slot: 3, data: new Uint8Array([1, 2, 3]) });
    open = false;
    let persisted = false;
    const persist = storage.persist(write({ promised: ballot(2) })).then(() => (persisted = true));
    await until(() => waiting.length > 0);
    try {
      const loaded = await Promise.race([storage.loadSnapshot(), new Promise((r) => setTimeout(() => r('still waiting'), 2_000))]);
      expect(loaded).toEqual({ slot: 3, data: new Uint8Array([1, 2, 3]) });
      expect(persisted).toBe(false);
    } finally {
      open = true;
      for (const release of waiting.splice(0)) release();
    }
    await persist;
    // Loads while a save is under way give the old snapshot or the new one, and leave its temporary file alone.
    const big = new Uint8Array(20 * 1024 * 1024).fill(5);
    const save = storage.saveSnapshot({ slot: 9, data: big });
    const loads = await Promise.all(Array.from({ length: 5 }, () => storage.loadSnapshot()));
    await save;
    for (const loaded of loads) expect([3, 9]).toContain(loaded?.slot);
    expect((await storage.loadSnapshot())?.slot).toBe(9);
    await storage.close();
    await expect(storage.loadSnapshot()).rejects.toBeInstanceOf(ClosedError);
  });

  it('compact forgets entries below the slot, keeps the rest across a reopen, and deletes old segments', async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir, { segmentBytesMax: 150 });
    await storage.persist(write({ promised: ballot(4, 'c') }));
    for (let slot = 1; slot <= 10; slot++) await storage.persist(write({ accepted: [accepted(slot, 2)], chosen: [chosen(slot)], commitIndex: slot }));
    expect(storage.segmentCount).toBeGreaterThan(2);
    await expect(storage.compact(7)).rejects.toThrow(/snapshot covers slots up to 0 only/);
    await storage.saveSnapshot({ slot: 6, data: new Uint8Array([6]) });
    await storage.compact(7);
    expect(storage.segmentCount).toBe(1);
    await storage.persist(write({ accepted: [accepted(11, 2)] }));
    await storage.close();
    const segments = (await readdir(dir)).filter((n) => n.startsWith('wal-'));
    expect(segments).not.toContain(firstSegment);
    expect(segments.length).toBeLessThanOrEqual(2); // the base record's segment, and maybe one rolled after it
    const state = await (await openStorage(dir)).load();
    expect(slotsOf(state.accepted)).toEqual([7, 8, 9, 10, 11]);
    expect(slotsOf(state.chosen)).toEqual([7, 8, 9, 10]);
    expect(state.promised).toEqual(ballot(4, 'c'));
    expect(state.commitIndex).toBe(10);
  });

  it('compact twice in a row, and after a fresh open', async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir);
    for (let slot = 1; slot <= 4; slot++) await storage.persist(write({ accepted: [accepted(slot, 1)] }));
    await storage.saveSnapshot({ slot: 3, data: new Uint8Array() });
    await storage.compact(2);
    await storage.compact(4);
    await storage.close();
    const again = await openStorage(dir);
    await again.compact(4);
    expect(slotsOf((await again.load()).accepted)).toEqual([4]);
  });
});

describe('FileStorage: fail closed', () => {
  it('a failed fdatasync rejects that persist and every later write; a reopen recovers what was durable', async () => {
    const dir = await tempDir();
    const fs = failingDatasync(2);
    const storage = await openStorage(dir, { fs });
    await storage.persist(write({ accepted: [accepted(1, 1)] }));
    const failed = await storage.persist(write({ accepted: [accepted(2, 1)] })).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(StorageFailedError);
    expect(failed).toMatchObject({ code: 'STORAGE_FAILED' });
    expect((failed as Error).cause).toMatchObject({ code: 'EIO' });
    // Later writes reject too, even though the disk "works" again.
    await expect(storage.persist(write({ accepted: [accepted(3, 1)] }))).rejects.toBe(failed);
    await expect(storage.saveSnapshot({ slot: 1, data: new Uint8Array() })).rejects.toBe(failed);
    await expect(storage.compact(1)).rejects.toBe(failed);
    expect(storage.stats).toEqual({ persists: 1, fsyncs: 1 });
    await storage.close();
    const state = await (await openStorage(dir)).load();
    expect(slotsOf(state.accepted)).toContain(1);
    expect(slotsOf(state.accepted)).not.toContain(3);
  });

  it('rejects every persist of the group and every queued one', async () => {
    const dir = await tempDir();
    const storage = await openStorage(dir, { fs: failingDatasync(1) });
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => storage.persist(write({ accepted: [accepted(i + 1, 1)] }))));
    expect(results.every((r) => r.status === 'rejected' && r.reason instanceof StorageFailedError)).toBe(true);
  });

  it('after close every call rejects with ClosedError', async () => {
    const storage = await openStorage(await tempDir());
    const pending = storage.persist(write({ commitIndex: 1 }));
    await storage.close();
    await expect(pending).resolves.toBeUndefined();
    await expect(storage.persist(write({}))).rejects.toThrow(ClosedError);
    await expect(storage.load()).rejects.toThrow(ClosedError);
    await expect(storage.close()).rejects.toThrow(ClosedError);
  });
});

/** The real file system, with the `n`-th fdatasync (from 1) and every later one failing with EIO. */
function failingDatasync(n: number): FileSystem {
  let calls = 0;
  return {
    ...nodeFileSystem,
    async open(path, flags) {
      const handle = await nodeFileSystem.open(path, flags);
      return {
        ...handle,
        async datasync() {
          calls++;
          if (calls >= n) throw Object.assign(new Error('injected I/O error'), { code: 'EIO' });
          await handle.datasync();
        },
        datasyncSync() {
          calls++;
          if (calls >= n) throw Object.assign(new Error('injected I/O error'), { code: 'EIO' });
          handle.datasyncSync!();
        },
      };
    },
  };
}

/** The real file system, with the first fdatasync held until `release()`. */
function gatedDatasync(): { fs: FileSystem; reached: () => Promise<void>; release: () => void } {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let reached!: () => void;
  const reachedPromise = new Promise<void>((resolve) => (reached = resolve));
  let first = true;
  const fs: FileSystem = {
    ...nodeFileSystem,
    async open(path, flags) {
      const handle = await nodeFileSystem.open(path, flags);
      // Held asynchronously: the synchronous calls are withheld, so every sync is async.
      const { writeSync: _write, datasyncSync: _sync, ...asyncOnly } = handle;
      return {
        ...asyncOnly,
        async datasync() {
          if (first) {
            first = false;
            reached();
            await released;
          }
          await handle.datasync();
        },
      };
    },
  };
  return { fs, reached: () => reachedPromise, release };
}
