import { describe, expect, it } from 'vitest';
import type { SnapshotReader } from '../../../src/runtime/storage.js';
import { SnapshotReads } from '../../../src/storage/file/snapshot-reads.js';

function fakeReader(closed: string[], name: string): SnapshotReader {
  return { slot: 3, byteLength: 2, read: async () => new Uint8Array(2), close: async () => void closed.push(name) };
}

describe('SnapshotReads', () => {
  it('settled waits for every read under way, resolved or rejected', async () => {
    const reads = new SnapshotReads();
    let release!: () => void;
    const slow = reads.track(new Promise<void>((r) => (release = r)));
    void reads.track(Promise.reject(new Error('damaged'))).catch(() => {});
    let settled = false;
    const done = reads.settled().then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 5));
    expect(settled).toBe(false);
    release();
    await slow;
    await done;
    expect(settled).toBe(true);
  });

  it('closeReaders closes the readers still open, and only those', async () => {
    const reads = new SnapshotReads();
    const closed: string[] = [];
    const a = await reads.open(Promise.resolve(fakeReader(closed, 'a')));
    const b = await reads.open(Promise.resolve(fakeReader(closed, 'b')));
    expect(await reads.open(Promise.resolve(undefined))).toBeUndefined();
    expect(a?.slot).toBe(3);
    expect(b?.dataCrc32).toBeUndefined();
    await a?.close();
    await reads.closeReaders();
    expect(closed).toEqual(['a', 'b']);
    await reads.closeReaders();
    expect(closed).toEqual(['a', 'b']);
  });
});
