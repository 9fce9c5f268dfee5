/**
 * The store's change log on its own, against a plain list of (revision, key) pairs:
 * appends, sorting a revision's keys, scans from a revision, drops from the front
 * (across the point where it frees its arrays), and building from unsorted changes,
 * at once or in steps of bounded work.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChangeLog, sortStepWork } from '../../src/kv/change-log.js';

type Pair = [revision: number, key: string];

const byRevisionThenKey = (a: Pair, b: Pair): number => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);

function scanned(log: ChangeLog, from: number, to: number, max = Number.POSITIVE_INFINITY): Pair[] {
  const out: Pair[] = [];
  log.scan(from, to, (revision, key) => {
    out.push([revision, key]);
    return out.length < max;
  });
  return out;
}

describe('ChangeLog', () => {
  it('sortLast orders the last revision by key, and says whether there was any change at it', () => {
    const log = new ChangeLog();
    log.push(1, 'b');
    log.push(2, 'z');
    log.push(2, 'a');
    log.push(2, 'm');
    expect(log.sortLast(3)).toBe(false);
    expect(log.sortLast(2)).toBe(true);
    expect(scanned(log, 0, 10)).toEqual([
      [1, 'b'],
      [2, 'a'],
      [2, 'm'],
      [2, 'z'],
    ]);
    expect(log.length).toBe(4);
  });

  it('scan starts at the first change at or above `from`, stops above `to`, and when the visitor says so', () => {
    const log = new ChangeLog();
    for (let r = 1; r <= 9; r++) log.push(r * 10, `k${r}`);
    expect(scanned(log, 25, 61)).toEqual([
      [30, 'k3'],
      [40, 'k4'],
      [50, 'k5'],
      [60, 'k6'],
    ]);
    expect(scanned(log, 30, 90, 2)).toEqual([
      [30, 'k3'],
      [40, 'k4'],
    ]);
    expect(scanned(log, 91, 200)).toEqual([]);
  });

  it('matches a list of pairs through pushes, sorts, drops and scans (fast-check)', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('write' as const), keys: fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e'), { minLength: 1, maxLength: 4 }) }),
      fc.record({ kind: fc.constant('drop' as const), back: fc.nat(40) }),
      fc.record({ kind: fc.constant('scan' as const), from: fc.nat(3000), span: fc.nat(200) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 1200 }), (steps) => {
        const log = new ChangeLog();
        let model: Pair[] = [];
        let revision = 0;
        for (const s of steps) {
          if (s.kind === 'write') {
            revision++;
            for (const k of s.keys) {
              log.push(revision, k);
              model.push([revision, k]);
            }
            expect(log.sortLast(revision)).toBe(true);
            model.sort(byRevisionThenKey);
          } else if (s.kind === 'drop') {
            const through = Math.max(0, revision - s.back);
            const dropped: string[] = [];
            log.dropThrough(through, (k) => dropped.push(k));
            expect(dropped).toEqual(model.filter(([r]) => r <= through).map(([, k]) => k));
            model = model.filter(([r]) => r > through);
          } else {
            expect(scanned(log, s.from, s.from + s.span)).toEqual(model.filter(([r]) => r >= s.from && r <= s.from + s.span));
          }
          expect(log.length).toBe(model.length);
        }
        expect(scanned(log, 0, Number.POSITIVE_INFINITY)).toEqual(model);
      }),
      { numRuns: 60 },
    );
  });

  it('drops thousands from the front and frees their slots, keeping the rest in order', () => {
    const log = new ChangeLog();
    for (let r = 1; r <= 3000; r++) log.push(r, `k${r}`);
    let dropped = 0;
    log.dropThrough(2000, () => dropped++);
    expect(dropped).toBe(2000);
    expect(log.length).toBe(1000);
    const rest = scanned(log, 0, Number.POSITIVE_INFINITY);
    expect(rest[0]).toEqual([2001, 'k2001']);
    expect(rest.at(-1)).toEqual([3000, 'k3000']);
    expect(rest.every(([r, k]) => k === `k${r}`)).toBe(true);
    log.push(3001, 'k3001');
    expect(log.sortLast(3001)).toBe(true);
    expect(scanned(log, 3001, 3001)).toEqual([[3001, 'k3001']]);
  });

  it('of sorts unsorted changes by revision, then key', () => {
    const log = ChangeLog.of([5, 2, 5, 1, 2], ['x', 'q', 'a', 'z', 'b']);
    expect(scanned(log, 0, 10)).toEqual([
      [1, 'z'],
      [2, 'b'],
      [2, 'q'],
      [5, 'a'],
      [5, 'x'],
    ]);
  });

  it('builds in steps of bounded work: a large unsorted set sorts right, with a yield per step of every merge pass; one already in order is checked, not sorted', () => {
    const n = 100_000;
    // Revisions shuffled by a fixed multiplier, with runs of equal revisions whose keys come in reverse.
    const pairs: Pair[] = Array.from({ length: n }, (_, i) => [((i * 7919) % n) >> 2, `k${String(n - i).padStart(6, '0')}`]);
    const run = (input: readonly Pair[]): { log: ChangeLog; yields: number } => {
      const steps = ChangeLog.ofInSteps(
        input.map((p) => p[0]),
        input.map((p) => p[1]),
      );
      let yields = 0;
      for (;;) {
        const step = steps.next();
        if (step.done === true) return { log: step.value, yields };
        yields++;
      }
    };
    const expected = pairs.slice().sort(byRevisionThenKey);
    // The first pair out of place (-1 for none): cheaper to report than a diff of 100,000.
    const misplaced = (log: ChangeLog): number => {
      const got = scanned(log, 0, n);
      return got.length !== n ? got.length : got.findIndex((p, i) => p[0] !== expected[i]![0] || p[1] !== expected[i]![1]);
    };
    const shuffled = run(pairs);
    expect(misplaced(shuffled.log)).toBe(-1);
    // The check, the 17 merge passes and the copy out, each n elements of work.
    const passes = Math.ceil(Math.log2(n));
    expect(shuffled.yields).toBeGreaterThanOrEqual(Math.floor(((passes + 2) * n) / sortStepWork) - 1);
    const ordered = run(expected);
    expect(misplaced(ordered.log)).toBe(-1);
    expect(ordered.yields).toBeLessThanOrEqual(Math.ceil((2 * n) / sortStepWork));
  });
});
