/**
 * The dedup table's tombstone list against a Map kept in the same order (a set moves
 * its hash to the newest end, the oldest leaves first), and its captures against what
 * the list held when each was taken, whatever happened after.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Tombstones } from '../../src/runtime/tombstones.js';

type Op = { kind: 'set'; hash: number; time: number } | { kind: 'shift' } | { kind: 'capture' };

/** Operations over hashes 0 to `hashes`, weighed against 300 sets; few hashes make sets of one already there (a move) common. */
const ops = (hashes: number, shiftWeight: number, captureWeight: number, maxLength: number): fc.Arbitrary<Op[]> =>
  fc.array(
    fc.oneof(
      {
        weight: 300,
        arbitrary: fc.record({ kind: fc.constant('set' as const), hash: fc.integer({ min: 0, max: hashes }), time: fc.integer({ min: 0, max: 1e6 }) }),
      },
      { weight: shiftWeight, arbitrary: fc.constant({ kind: 'shift' as const }) },
      { weight: captureWeight, arbitrary: fc.constant({ kind: 'capture' as const }) },
    ),
    { minLength: 1, maxLength, size: 'max' },
  );

describe('the tombstone list (property)', () => {
  // The second draws lists of many chunks (256 slots each), whose captures share them.
  it.each([
    { hashes: 40, shiftWeight: 150, captureWeight: 50, maxLength: 400, numRuns: 300 },
    { hashes: 1500, shiftWeight: 50, captureWeight: 1, maxLength: 4000, numRuns: 20 },
  ])(
    'keeps the order and times a Map with move-to-end keeps, and its captures never change (hashes 0 to $hashes)',
    ({ hashes, shiftWeight, captureWeight, maxLength, numRuns }) => {
      const seen = { moves: 0, shiftsOfMoved: 0, reusedSlots: 0, sizeMax: 0 };
      fc.assert(
        fc.property(ops(hashes, shiftWeight, captureWeight, maxLength), (ops) => {
          const list = new Tombstones();
          const model = new Map<number, number>();
          const captures: { capture: ReturnType<Tombstones['capture']>; expected: [number, number][] }[] = [];
          const moved = new Set<number>();
          let shifted = 0;
          for (const o of ops) {
            if (o.kind === 'set') {
              if (model.has(o.hash)) {
                seen.moves++;
                moved.add(o.hash);
              }
              if (shifted > 0 && !model.has(o.hash)) seen.reusedSlots++;
              model.delete(o.hash);
              model.set(o.hash, o.time);
              list.set(o.hash, o.time);
            } else if (o.kind === 'shift') {
              const oldest = model.entries().next();
              const expected = oldest.done === true ? undefined : oldest.value[1];
              if (oldest.done !== true) {
                if (moved.has(oldest.value[0])) seen.shiftsOfMoved++;
                model.delete(oldest.value[0]);
                shifted++;
              }
              expect(list.shift()).toBe(expected);
            } else {
              captures.push({ capture: list.capture(), expected: [...model] });
            }
            if (list.size !== model.size) expect(list.size).toBe(model.size);
            seen.sizeMax = Math.max(seen.sizeMax, model.size);
          }
          for (const [hash, time] of model) expect(list.get(hash)).toBe(time);
          for (let hash = 0; hash <= hashes; hash++) if (!model.has(hash)) expect(list.get(hash)).toBeUndefined();
          expect([...list.capture()]).toEqual([...model]);
          for (const { capture, expected } of captures) {
            expect(capture.size).toBe(expected.length);
            // Read twice: a capture can be.
            expect([...capture]).toEqual(expected);
            expect([...capture]).toEqual(expected);
          }
        }),
        { numRuns },
      );
      // The cases that differ from a plain append-only list must have come up.
      expect(seen.moves).toBeGreaterThan(100);
      expect(seen.shiftsOfMoved).toBeGreaterThan(10);
      expect(seen.reusedSlots).toBeGreaterThan(10);
      expect(seen.sizeMax).toBeGreaterThan(Math.min(hashes / 2, 600));
    },
  );

  it('grows past its first arrays and keeps 200,000 tombstones in order, hashes over the whole 32-bit range', () => {
    const hash = (i: number) => Math.imul(i, 2654435761) >>> 0;
    const list = new Tombstones();
    for (let i = 0; i < 200_000; i++) list.set(hash(i), i);
    list.set(hash(0), 200_000);
    const capture = list.capture();
    expect(list.shift()).toBe(1);
    expect(list.get(hash(1))).toBeUndefined();
    expect(list.get(hash(199_999))).toBe(199_999);
    expect(capture.size).toBe(200_000);
    const all = [...capture];
    expect(all.slice(0, 2)).toEqual([
      [hash(1), 1],
      [hash(2), 2],
    ]);
    expect(all.at(-1)).toEqual([hash(0), 200_000]);
    expect(all.some(([h]) => h >= 2 ** 31)).toBe(true);
    expect(list.size).toBe(199_999);
  });
});
