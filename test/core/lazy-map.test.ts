/**
 * LazyMap and LazySet against Map and Set over random operations: the same answers,
 * sizes and iteration order; and no table until the first entry.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LazyMap, LazySet } from '../../src/core/lazy-map.js';

const op = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), key: fc.integer({ min: 0, max: 9 }), value: fc.integer() }),
  fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 9 }) }),
  fc.record({ kind: fc.constant('clear' as const) }),
);

describe('LazyMap and LazySet', () => {
  it('answer as Map and Set do, in the same order, whatever the operations', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const lazy = new LazyMap<number, number>();
        const map = new Map<number, number>();
        const lazySet = new LazySet<number>();
        const set = new Set<number>();
        for (const o of ops) {
          if (o.kind === 'set') {
            expect(lazy.set(o.key, o.value)).toBe(lazy);
            map.set(o.key, o.value);
            lazySet.add(o.key);
            set.add(o.key);
          } else if (o.kind === 'delete') {
            expect(lazy.delete(o.key)).toBe(map.delete(o.key));
            expect(lazySet.delete(o.key)).toBe(set.delete(o.key));
          } else {
            lazy.clear();
            map.clear();
            lazySet.clear();
            set.clear();
          }
          expect(lazy.size).toBe(map.size);
          expect([...lazy]).toEqual([...map]);
          expect([...lazy.keys()]).toEqual([...map.keys()]);
          expect([...lazy.values()]).toEqual([...map.values()]);
          expect([...lazySet]).toEqual([...set]);
          expect(lazySet.size).toBe(set.size);
          for (let k = 0; k < 10; k++) {
            expect(lazy.get(k)).toBe(map.get(k));
            expect(lazy.has(k)).toBe(map.has(k));
            expect(lazySet.has(k)).toBe(set.has(k));
          }
        }
      }),
    );
  });

  it('hold no table while empty from the start, and give it back on clear', () => {
    const lazy = new LazyMap<string, number>();
    const table = () => (lazy as unknown as { table: Map<string, number> | undefined }).table;
    expect(table()).toBeUndefined();
    expect(lazy.get('a')).toBeUndefined();
    expect([...lazy.entries()]).toEqual([]);
    expect(table()).toBeUndefined();
    lazy.set('a', 1);
    expect(table()).toBeInstanceOf(Map);
    lazy.clear();
    expect(table()).toBeUndefined();
  });
});
