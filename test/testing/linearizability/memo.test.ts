/**
 * The memo of the search: its first table's size, bitsets compared in full, and where
 * the bitsets sit (in the slots up to `memoInlineWordsMax` words, else in chunks).
 */
import { describe, expect, it } from 'vitest';
import { Budget } from '../../../src/testing/linearizability/budget.js';
import { linearizabilityLimits } from '../../../src/testing/linearizability/limits.js';
import { Memo, slotsFor } from '../../../src/testing/linearizability/memo.js';

const budget = () => new Budget(10_000, 1e9, () => performance.now(), 64 * 1024 * 1024);

describe('the memo', () => {
  it('starts with about twice as many slots as operations, a power of two from 16 to memoSlotsInitialMax', () => {
    expect(slotsFor(0)).toBe(16);
    expect(slotsFor(16)).toBe(64);
    expect(slotsFor(1_000_000)).toBe(linearizabilityLimits.memoSlotsInitialMax);
  });

  it('compares every word of the bitset: configurations that differ only past the first 32 operations are two', () => {
    const memo = new Memo(64, budget());
    const first = new Uint32Array([1, 0]);
    const second = new Uint32Array([1, 1]);
    expect(memo.insert(7, 0, first)).toBe('new');
    expect(memo.insert(7, 0, second)).toBe('new');
    expect(memo.insert(7, 0, second)).toBe('seen');
    // The first is found in its own slot, with the second right after it (same code and state).
    expect(memo.insert(7, 0, first)).toBe('seen');
    expect(memo.count).toBe(2);
    memo.release();
  });

  it('compares chunked bitsets in full too: a key of more than memoInlineWordsMax words', () => {
    const words = linearizabilityLimits.memoInlineWordsMax + 1;
    const memo = new Memo(32 * words, budget());
    const first = new Uint32Array(words).fill(1);
    const second = first.slice();
    second[words - 1] = 3;
    expect(memo.insert(9, 2, first)).toBe('new');
    expect(memo.insert(9, 2, first.slice())).toBe('seen');
    expect(memo.insert(9, 2, second)).toBe('new');
    expect(memo.insert(9, 2, second.slice())).toBe('seen');
    expect(memo.count).toBe(2);
    memo.release();
  });

  it('finds chunked bitsets in every chunk, once the first chunk is full', () => {
    const words = linearizabilityLimits.memoInlineWordsMax + 1;
    const operations = 32 * words;
    const memo = new Memo(operations, budget());
    // A first chunk holds one bitset per slot of the first table: past that, a second chunk.
    const count = slotsFor(operations) + 100;
    const bitsOf = (i: number): Uint32Array => new Uint32Array(words).fill(i + 1);
    for (let i = 0; i < count; i++) expect(memo.insert(i * 2654435761, 0, bitsOf(i))).toBe('new');
    for (let i = 0; i < count; i++) expect(memo.insert(i * 2654435761, 0, bitsOf(i))).toBe('seen');
    expect(memo.count).toBe(count);
    memo.release();
  });

  it('holds bitsets of up to memoInlineWordsMax words in its slots, longer ones in chunks', () => {
    const words = linearizabilityLimits.memoInlineWordsMax;
    const insertOne = (operations: number): number => {
      const memo = new Memo(operations, budget());
      expect(memo.insert(1, 0, new Uint32Array(Math.ceil(operations / 32)))).toBe('new');
      const bytes = memo.bytesHeld;
      memo.release();
      return bytes;
    };
    // Inline: a slot of code, state id and the bitset, rounded up to a power of two 32-bit fields.
    const inlineStride = 1 << Math.ceil(Math.log2(2 + words));
    expect(insertOne(32 * words)).toBe(slotsFor(32 * words) * inlineStride * 4);
    // One word more: a slot of 4 fields (code, state id, chunk, offset), and a first chunk of a bitset per slot.
    const n = 32 * (words + 1);
    expect(insertOne(n)).toBe(slotsFor(n) * 4 * 4 + Math.min(linearizabilityLimits.memoChunkWords, (words + 1) * slotsFor(n)) * 4);
  });

  it('tells configurations apart by their state too, whatever the state id', () => {
    // Enough of them that some probe past the slots of others with the same code and bitset.
    const memo = new Memo(16, budget());
    const bits = new Uint32Array([5]);
    const states = Array.from({ length: 40 }, (_, i) => i);
    for (const stateId of states) expect(memo.insert(3, stateId, bits)).toBe('new');
    for (const stateId of states) expect(memo.insert(3, stateId, bits)).toBe('seen');
    expect(memo.count).toBe(states.length);
    memo.release();
  });

  it("finds every configuration of a full table, each slot's bitset written within it", () => {
    // Two words: a slot is exactly code, state id and the bitset, with its neighbour's code right after.
    const memo = new Memo(64, budget());
    const count = slotsFor(64) / 2;
    const bitsOf = (i: number): Uint32Array => new Uint32Array([i + 1, ~i]);
    for (let i = 0; i < count; i++) expect(memo.insert(i * 40503, 0, bitsOf(i))).toBe('new');
    for (let i = 0; i < count; i++) expect(memo.insert(i * 40503, 0, bitsOf(i))).toBe('seen');
    memo.release();
  });

  it('doubles its table once more than half full', () => {
    const operations = 16;
    const shared = budget();
    const memo = new Memo(operations, shared);
    const slots = slotsFor(operations);
    // One word of bitset: slots of 3 fields, rounded up to 4.
    const slotBytes = 4 * 4;
    for (let i = 0; i < slots / 2; i++) memo.insert(i * 2654435761, 0, new Uint32Array([i]));
    expect(memo.bytesHeld).toBe(slots * slotBytes);
    const keptBefore = shared.scratch.bytesKept;
    memo.insert(-1, 0, new Uint32Array([-1]));
    expect(memo.bytesHeld).toBe(2 * slots * slotBytes);
    // The old table's buffer goes back to the scratch pool, for the next search.
    expect(shared.scratch.bytesKept).toBe(keptBefore + Math.max(4_096, slots * slotBytes));
    memo.release();
  });

  it('makes a chunk of bitsets only when the last is full, each twice the one before', () => {
    const words = linearizabilityLimits.memoInlineWordsMax + 1;
    const operations = 32 * words;
    const memo = new Memo(operations, budget());
    const slots = slotsFor(operations);
    const tableBytes = (s: number): number => s * 4 * 4;
    const firstChunk = words * slots;
    expect(firstChunk * 4).toBeLessThan(linearizabilityLimits.memoChunkWords);
    const insert = (i: number): void => {
      expect(memo.insert(i * 2654435761, 0, new Uint32Array(words).fill(i + 1))).toBe('new');
    };
    // The first chunk holds one bitset per slot of the first table; the table doubled twice meanwhile.
    for (let i = 0; i < slots; i++) insert(i);
    expect(memo.bytesHeld).toBe(tableBytes(2 * slots) + firstChunk * 4);
    insert(slots);
    expect(memo.bytesHeld).toBe(tableBytes(4 * slots) + (firstChunk + 2 * firstChunk) * 4);
    // Past the second chunk, a third twice its size, and every bitset still found.
    for (let i = slots + 1; i <= 3 * slots; i++) insert(i);
    expect(memo.bytesHeld).toBe(tableBytes(8 * slots) + (firstChunk + 2 * firstChunk + 4 * firstChunk) * 4);
    for (let i = 0; i <= 3 * slots; i++) expect(memo.insert(i * 2654435761, 0, new Uint32Array(words).fill(i + 1))).toBe('seen');
    memo.release();
  });

  it('answers memory bound, adding nothing, when the bound leaves no room for a chunk of bitsets', () => {
    const operations = 32 * (linearizabilityLimits.memoInlineWordsMax + 1);
    // Room for the first table and not a byte more.
    const memo = new Memo(operations, new Budget(10_000, 1e9, () => performance.now(), slotsFor(operations) * 4 * 4));
    expect(memo.insert(1, 0, new Uint32Array(operations / 32))).toBe('memory bound');
    expect(memo.count).toBe(0);
    memo.release();
  });
});
