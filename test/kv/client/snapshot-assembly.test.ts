/**
 * A client puts a snapshot back together from its pieces: in order, started over by a
 * piece at offset 0, and refused when the pieces do not follow or the whole does not
 * match the server's SHA-256.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SnapshotAssembly } from '../../../src/kv/client/snapshot-assembly.js';
import { KvRequestError } from '../../../src/kv/index.js';

const whole = new Uint8Array(10).map((_, i) => i + 1);
const sha256 = new Uint8Array(createHash('sha256').update(whole).digest());
const piece = (offset: number, length: number, over: Partial<{ slot: number; sha256: Uint8Array; data: Uint8Array }> = {}) => ({
  kind: 'snapshotChunk' as const,
  id: 1,
  slot: 7,
  totalBytes: whole.byteLength,
  offset,
  sha256,
  data: whole.slice(offset, offset + length),
  ...over,
});

describe('SnapshotAssembly', () => {
  it('returns the snapshot with the last piece, and starts over at a piece of offset 0', () => {
    const a = new SnapshotAssembly();
    expect(a.add(piece(0, 4))).toBeUndefined();
    expect(a.add(piece(0, 4))).toBeUndefined(); // sent again after a reconnect
    expect(a.add(piece(4, 4))).toBeUndefined();
    expect(a.add(piece(8, 2))).toEqual({ slot: 7, data: whole });
    expect(a.complete).toEqual({ slot: 7, data: whole });
  });

  it('refuses a gap, a piece of another slot or digest, a piece before the first, and bytes that do not match the digest', () => {
    const refuse = (run: (a: SnapshotAssembly) => unknown, why: RegExp) => {
      const a = new SnapshotAssembly();
      let thrown: unknown;
      try {
        run(a);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(KvRequestError);
      expect((thrown as Error).message).toMatch(why);
    };
    refuse((a) => a.add(piece(4, 4)), /came before the first/);
    refuse((a) => [a.add(piece(0, 4)), a.add(piece(5, 4))], /does not follow 4 bytes/);
    refuse((a) => [a.add(piece(0, 4)), a.add(piece(4, 4, { slot: 8 }))], /does not follow/);
    refuse((a) => [a.add(piece(0, 4)), a.add(piece(4, 4, { sha256: new Uint8Array(32) }))], /does not follow/);
    refuse((a) => [a.add(piece(0, 4)), a.add(piece(4, 6, { data: new Uint8Array(6) }))], /do not match the server's SHA-256/);
  });
});
