/**
 * The keys a role's permissions grant, as merged intervals of the store's key order: a
 * range is allowed only if every key it could hold is granted, by one permission or by
 * several that touch. The property checks soundness against a naive oracle (every key
 * of a small alphabet that the range holds is granted by some permission): a range
 * `covers` lets through never holds a key no permission grants.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { KeyRange } from '../../src/kv/kv-types.js';
import { rangeMatcher } from '../../src/kv/kv-watch.js';
import { type KeyPattern, KeySet, prefixEnd } from '../../src/kv/key-set.js';

describe('KeySet', () => {
  it('prefixEnd: the first string past a prefix; none for the empty prefix or one of U+FFFF only', () => {
    expect(prefixEnd('app/')).toBe('app0');
    expect(prefixEnd('a\uffff')).toBe('b');
    expect(prefixEnd('\uffff\uffff')).toBeUndefined();
    expect(prefixEnd('')).toBeUndefined();
  });

  it('covers a key, a prefix or a range only inside the union of its grants', () => {
    const set = new KeySet([{ prefix: 'app/' }, { prefix: 'app0' }, { key: 'notice' }]);
    expect(set.covers({ key: 'app/x' })).toBe(true);
    expect(set.covers({ prefix: 'app/' })).toBe(true);
    expect(set.covers({ prefix: 'app' })).toBe(false); // 'app' itself, 'appx'
    expect(set.covers({ start: 'app/', end: 'app1' })).toBe(true); // across the two touching prefixes
    expect(set.covers({ start: 'app/', end: 'app1\u0000' })).toBe(false); // 'app1' is not granted
    expect(set.covers({ key: 'notice' })).toBe(true);
    expect(set.covers({ prefix: 'notice' })).toBe(false); // 'notices'
    expect(set.covers({ key: 'notice\u0000' })).toBe(false);
    expect(set.covers({ prefix: '' })).toBe(false);
    expect(set.covers({ start: 'z', end: 'a' })).toBe(true); // holds no key
    expect(new KeySet([]).covers({ key: 'a' })).toBe(false);
    expect(new KeySet([{ prefix: '' }]).covers({ prefix: '' })).toBe(true);
    expect(new KeySet([{ prefix: '\uffff' }]).covers({ start: '\uffff', end: '\uffff\uffff\uffff' })).toBe(true);
  });

  it('never lets through a range that holds a key no permission grants (against a naive oracle)', () => {
    const alphabet = ['a', 'b', '\u0000', '\uffff'];
    const key = fc.array(fc.constantFrom(...alphabet), { maxLength: 3 }).map((cs) => cs.join(''));
    const pattern: fc.Arbitrary<KeyPattern> = fc.oneof(
      key.filter((k) => k.length > 0).map((k) => ({ key: k })),
      key.map((p) => ({ prefix: p })),
    );
    const range: fc.Arbitrary<KeyRange> = fc.oneof(
      key.filter((k) => k.length > 0).map((k) => ({ key: k })),
      key.map((p) => ({ prefix: p })),
      fc.tuple(key, key).map(([start, end]) => ({ start, end })),
    );
    // Every key of up to 4 units over the alphabet.
    const universe = [''];
    for (let n = 0; n < 4; n++) for (const k of [...universe]) for (const c of alphabet) if (k.length === n) universe.push(k + c);
    fc.assert(
      fc.property(fc.array(pattern, { maxLength: 4 }), range, (patterns, r) => {
        const set = new KeySet(patterns);
        if (!set.covers(r)) return;
        const granted = (k: string) => patterns.some((p) => ('key' in p ? p.key === k : k.startsWith(p.prefix)));
        const inRange = rangeMatcher(r);
        for (const k of universe) if (k.length > 0 && inRange(k)) expect(granted(k), `key ${JSON.stringify(k)} of ${JSON.stringify(r)}`).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });
});
