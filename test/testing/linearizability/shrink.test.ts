/**
 * Shrinking a failing key: to a 1-minimal failing sub-history when the budget allows,
 * and, when it runs out, to what it had, said to be incomplete.
 */
import { describe, expect, it } from 'vitest';
import { versionedKvModel } from '../../../src/testing/index.js';
import { Budget } from '../../../src/testing/linearizability/budget.js';
import { searchPartition } from '../../../src/testing/linearizability/search.js';
import { shrinkPartition } from '../../../src/testing/linearizability/shrink.js';
import { absent, get, info, type KvOperation, ok, put, written } from './fixtures.js';

/** A lost write (a read after it finds nothing) among unknown writes that make the search work. */
const history: KvOperation[] = [
  ...Array.from({ length: 8 }, (_, i) => info(`w${i}`, put(`v${i}`), 10 + i)),
  ok('a', put('1'), 0, 1, written(1)),
  ok('b', get, 2, 3, absent),
];

describe('shrinking a failing key', () => {
  it('ends 1-minimal with room: the write and the read that missed it', () => {
    const shrunk = shrinkPartition(history, versionedKvModel, new Budget(10_000, 1e9, () => 0, 64 * 1024 * 1024));
    expect(shrunk.complete).toBe(true);
    expect(shrunk.operations.map((o) => o.client)).toEqual(['a', 'b']);
  });

  it('stops where the budget ran out, with what still fails, and says it is not complete', () => {
    const b = new Budget(10_000, 1e9, () => 0, 64 * 1024 * 1024);
    const needed = b.taken;
    shrinkPartition(history, versionedKvModel, b);
    // Half the steps the whole shrink took.
    const half = Math.floor((b.taken - needed) / 2);
    const shrunk = shrinkPartition(history, versionedKvModel, new Budget(10_000, half, () => 0, 64 * 1024 * 1024));
    expect(shrunk.complete).toBe(false);
    expect(shrunk.operations.length).toBeGreaterThan(2);
    expect(searchPartition(shrunk.operations, versionedKvModel, new Budget(10_000, 1e9, () => 0, 64 * 1024 * 1024))).toBe('not-linearizable');
  });
});
