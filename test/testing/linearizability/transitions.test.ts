/**
 * The search's cache of model transitions against a Map: what it answers, how it grows,
 * and what it reserves from the check's memory budget and gives back.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Budget } from '../../../src/testing/linearizability/budget.js';
import { Transitions, misfit, unknownTransition } from '../../../src/testing/linearizability/transitions.js';

const budget = (bytesMax = 64 * 1024 * 1024) => new Budget(10_000, 1e9, () => performance.now(), bytesMax);
/** Bytes of a table of `slots` slots: three 32-bit fields each. */
const tableBytes = (slots: number) => slots * 3 * 4;

describe('the transitions cache', () => {
  it('answers every transition recorded, and unknown for the rest, through its growth (property)', () => {
    const transition = fc.record({ state: fc.integer({ min: 0, max: 60 }), op: fc.integer({ min: 0, max: 60 }), result: fc.integer({ min: misfit, max: 60 }) });
    fc.assert(
      fc.property(fc.array(transition, { maxLength: 300 }), fc.constantFrom(2, 4, 16), (ts, slotsInitial) => {
        const b = budget();
        const cache = new Transitions(b, slotsInitial);
        const known = new Map<string, number>();
        for (const t of ts) {
          const key = `${t.state}/${t.op}`;
          // Only transitions not known yet are recorded, as the search does.
          if (known.has(key)) continue;
          expect(cache.set(t.state, t.op, t.result)).toBe(true);
          known.set(key, t.result);
          expect(cache.get(t.state, t.op)).toBe(t.result);
        }
        for (let state = 0; state <= 60; state += 3)
          for (let op = 0; op <= 60; op++) expect(cache.get(state, op)).toBe(known.get(`${state}/${op}`) ?? unknownTransition);
        // Never more than half full: the table's slots are the smallest power of two from slotsInitial that keeps it so.
        let slots = slotsInitial;
        while (known.size * 2 > slots) slots *= 2;
        expect(cache.bytesHeld).toBe(known.size === 0 ? 0 : tableBytes(slots));
        expect(b.bytesHeld).toBe(cache.bytesHeld);
        cache.release();
        expect(b.bytesHeld).toBe(0);
        expect(cache.bytesHeld).toBe(0);
        expect(cache.get(ts[0]?.state ?? 0, ts[0]?.op ?? 0)).toBe(unknownTransition);
      }),
      { numRuns: 200 },
    );
  });

  it('tells apart transitions of the same state by operation and of the same operation by state', () => {
    const cache = new Transitions(budget(), 4);
    expect(cache.set(1, 2, 7)).toBe(true);
    expect(cache.set(2, 1, misfit)).toBe(true);
    expect(cache.set(0, 0, 0)).toBe(true);
    expect(cache.get(1, 2)).toBe(7);
    expect(cache.get(2, 1)).toBe(misfit);
    expect(cache.get(0, 0)).toBe(0);
    expect(cache.get(1, 1)).toBe(unknownTransition);
    expect(cache.get(2, 2)).toBe(unknownTransition);
    expect(cache.get(0, 1)).toBe(unknownTransition);
    cache.release();
  });

  it('refuses a transition the memory bound has no room for, and keeps what it holds', () => {
    // Room for a table of 4 slots (48 bytes), not for the 8 the third transition needs.
    const b = budget(tableBytes(4) + tableBytes(8) - 1);
    const cache = new Transitions(b, 4);
    expect(cache.set(0, 0, 1)).toBe(true);
    expect(cache.set(1, 0, 2)).toBe(true);
    expect(cache.bytesHeld).toBe(tableBytes(4));
    expect(cache.set(2, 0, 3)).toBe(false);
    expect(cache.get(2, 0)).toBe(unknownTransition);
    expect(cache.get(0, 0)).toBe(1);
    expect(cache.get(1, 0)).toBe(2);
    expect(cache.bytesHeld).toBe(tableBytes(4));
    expect(b.bytesHeld).toBe(tableBytes(4));
    cache.release();
    expect(b.bytesHeld).toBe(0);
  });

  it("grows in place of its old table: the old table's bytes go back to the budget", () => {
    const b = budget(tableBytes(4) + tableBytes(8));
    const cache = new Transitions(b, 4);
    for (let state = 0; state < 4; state++) expect(cache.set(state, 1, state)).toBe(true);
    // 4 transitions in 8 slots; the 4-slot table was given back as the 8-slot one came.
    expect(cache.bytesHeld).toBe(tableBytes(8));
    expect(b.bytesHeld).toBe(tableBytes(8));
    for (let state = 0; state < 4; state++) expect(cache.get(state, 1)).toBe(state);
    cache.release();
  });

  it('refuses a first table of one slot, or of a size not a power of two', () => {
    expect(() => new Transitions(budget(), 1)).toThrow(/first table of 1 slots/);
    expect(() => new Transitions(budget(), 12)).toThrow(/first table of 12 slots/);
    expect(() => new Transitions(budget(), 0)).toThrow(/first table of 0 slots/);
  });
});
