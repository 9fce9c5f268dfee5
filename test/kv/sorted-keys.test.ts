/**
 * The store's key index on its own, against a sorted array: inserts across block splits,
 * bulk deletes, scans from any key, an index built from sorted keys, and frozen views
 * (a snapshot's) that later changes leave as they were.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blockKeysMax, SortedKeys } from '../../src/kv/sorted-keys.js';

const codeUnitOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function scanned(index: SortedKeys, start: string, max: number): string[] {
  const out: string[] = [];
  index.scanFrom(start, (key) => {
    out.push(key);
    return out.length < max;
  });
  return out;
}

/** Keys of up to 3 units from a small alphabet: many share prefixes, so splits and scans meet equal neighbours. */
const keyArb = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'x', '\u00e9', '\uffff'), minLength: 0, maxLength: 6 });

describe('SortedKeys', () => {
  it('keeps keys in order through thousands of inserts in random order (many block splits)', () => {
    const index = new SortedKeys();
    const keys = Array.from({ length: 5 * blockKeysMax }, (_, i) => `k${String((i * 7919) % 100_003).padStart(6, '0')}`);
    for (const k of keys) index.insert(k);
    const sorted = keys.slice().sort(codeUnitOrder);
    expect(index.size).toBe(keys.length);
    expect([...index]).toEqual(sorted);
    expect([...index.frozen()]).toEqual(sorted);
    expect(scanned(index, sorted[2500]!, 3)).toEqual(sorted.slice(2500, 2503));
    expect(scanned(index, 'k', 1)).toEqual([sorted[0]]);
    expect(scanned(index, 'l', 10)).toEqual([]);
  });

  it('matches a sorted array through inserts, deletes, scans and frozen views (fast-check)', () => {
    const step = fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('insert' as const), keys: fc.array(keyArb, { maxLength: 300 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), every: fc.integer({ min: 1, max: 5 }), offset: fc.nat(4) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('scan' as const), start: keyArb, max: fc.integer({ min: 1, max: 3000 }) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('freeze' as const) }) },
    );
    let insertsAfterFreeze = 0;
    fc.assert(
      fc.property(fc.array(keyArb, { maxLength: 2000 }), fc.array(step, { maxLength: 40 }), (initial, steps) => {
        let model = [...new Set(initial)].sort(codeUnitOrder);
        const index = SortedKeys.fromSorted(model);
        // Each frozen view, and the keys it must list whatever came after it.
        const views: { readonly view: Iterable<string>; readonly keys: readonly string[] }[] = [];
        for (const s of steps) {
          if (s.kind === 'insert') {
            for (const k of s.keys) {
              if (model.includes(k)) continue;
              if (views.length > 0) insertsAfterFreeze++;
              index.insert(k);
              model.push(k);
            }
            model.sort(codeUnitOrder);
          } else if (s.kind === 'delete') {
            const gone = new Set(model.filter((_, i) => i % s.every === s.offset % s.every));
            index.deleteAll(gone);
            model = model.filter((k) => !gone.has(k));
          } else if (s.kind === 'freeze') {
            views.push({ view: index.frozen(), keys: model.slice() });
          } else {
            const from = model.findIndex((k) => k >= s.start);
            expect(scanned(index, s.start, s.max)).toEqual(from < 0 ? [] : model.slice(from, from + s.max));
          }
          expect(index.size).toBe(model.length);
          for (const v of views) expect([...v.view]).toEqual(v.keys);
        }
        expect([...index]).toEqual(model);
      }),
      { numRuns: 80 },
    );
    // The views met later inserts (the one change made in place) in many runs.
    expect(insertsAfterFreeze).toBeGreaterThan(20);
  });

  it('an index built from sorted keys takes inserts before, between and after them', () => {
    const keys = Array.from({ length: 3 * blockKeysMax }, (_, i) => `m${String(i).padStart(5, '0')}`);
    const index = SortedKeys.fromSorted(keys);
    for (const k of ['a', 'm01000x', 'z', 'm00000', 'm']) if (!keys.includes(k)) index.insert(k);
    const expected = [...keys, 'a', 'm01000x', 'z', 'm'].sort(codeUnitOrder);
    expect([...index]).toEqual(expected);
    expect(index.size).toBe(expected.length);
  });

  it('an index appended key by key in order equals one built from the sorted keys, refuses a key not above the last, and takes inserts after', () => {
    const keys = Array.from({ length: 3 * blockKeysMax + 7 }, (_, i) => `m${String(i).padStart(5, '0')}`);
    const building = SortedKeys.appending();
    for (const k of keys) expect(building.append(k)).toBe(true);
    expect(building.append(keys[keys.length - 1]!)).toBe(false);
    expect(building.append('a')).toBe(false);
    const index = building.finish();
    expect(index.size).toBe(keys.length);
    expect([...index]).toEqual(keys);
    for (const k of ['a', 'm01000x', 'z']) index.insert(k);
    expect([...index]).toEqual([...keys, 'a', 'm01000x', 'z'].sort(codeUnitOrder));
    expect(scanned(index, 'm01000', 2)).toEqual(['m01000', 'm01000x']);
  });
});
