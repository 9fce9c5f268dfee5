import { describe, expect, it } from 'vitest';
import { estimateBytes } from '../../src/runtime/result-bytes.js';

const unbounded = Number.MAX_SAFE_INTEGER;

describe('the estimate of a result’s bytes', () => {
  it('follows the documented charges', () => {
    expect(estimateBytes(7, unbounded)).toBe(8);
    expect(estimateBytes(undefined, unbounded)).toBe(8);
    expect(estimateBytes(null, unbounded)).toBe(8);
    expect(estimateBytes('abc', unbounded)).toBe(16 + 6);
    expect(estimateBytes(new Uint8Array(100), unbounded)).toBe(64 + 100);
    expect(estimateBytes([1, 2], unbounded)).toBe(16 + 2 * 8 + 2 * 8);
    // An object: its header, then per property a slot, the key's characters and the value.
    expect(estimateBytes({ ab: 1 }, unbounded)).toBe(16 + 8 + 4 + 8);
    expect(estimateBytes(new Map([['k', 1]]), unbounded)).toBe(32 + 16 + (16 + 2) + 8);
    expect(estimateBytes(new Error('boom'), unbounded)).toBe(64 + 16 + 8);
    expect(estimateBytes(255n, unbounded)).toBe(16 + 1);
  });

  it('charges a view its own bytes, not its shared backing store (which differs between replicas)', () => {
    const frame = new Uint8Array(65_536);
    expect(estimateBytes(frame.subarray(10, 20), unbounded)).toBe(estimateBytes(new Uint8Array(10), unbounded));
  });

  it('is the same for a copy of the value: it depends on its shape alone', () => {
    const value = { type: 'txn', results: [{ kvs: [{ key: 'a', value: new Uint8Array(3), version: 1 }], more: false }], revision: 9 };
    expect(estimateBytes(structuredClone(value), unbounded)).toBe(estimateBytes(value, unbounded));
  });

  it('stops soon past bytesMax, on a huge or a cyclic value, and answers above it', () => {
    const huge = Array.from({ length: 1_000_000 }, (_, i) => ({ i }));
    const atHuge = estimateBytes(huge, 4096);
    expect(atHuge).toBeGreaterThan(4096);
    const cyclic: { self?: unknown; pad: string } = { pad: 'x' };
    cyclic.self = cyclic;
    const atCyclic = estimateBytes(cyclic, 4096);
    expect(atCyclic).toBeGreaterThan(4096);
    // Within one step of the bound: the walk did not go on.
    expect(atCyclic).toBeLessThan(4096 + 100);
  });
});
