/**
 * The range map: every key in exactly one range, a read's spans exactly the ranges it
 * can touch, in key order, and the encoding round-trips and refuses bad bytes with
 * CodecError.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CodecError } from '../../../src/encoding/codec-error.js';
import { type KeyRange, KvRequestError, RangeMap } from '../../../src/kv/index.js';
import { boundsHold } from '../../../src/kv/key-bounds.js';
import { prefixEnd } from '../../../src/kv/key-set.js';

// Keys from a small alphabet, so ranges, prefixes and split keys meet often; U+FFFF for prefixes with no end.
const key = fc.string({ unit: fc.constantFrom('a', 'b', 'c', '\uffff'), minLength: 1, maxLength: 4 });
const splitKeys = fc.uniqueArray(key, { maxLength: 6 }).map((keys) => keys.sort());
const range: fc.Arbitrary<KeyRange> = fc.oneof(
  key.map((k) => ({ key: k })),
  fc.oneof(key, fc.constant('')).map((p) => ({ prefix: p })),
  fc.tuple(key, key).map(([start, end]) => ({ start, end })),
);

/** Whether `k` is a key of `r`, as the store reads it. */
function inRange(r: KeyRange, k: string): boolean {
  if ('key' in r) return k === r.key;
  if ('prefix' in r) return k.startsWith(r.prefix);
  return k >= r.start && k < r.end;
}

describe('RangeMap', () => {
  it('puts every key in exactly one range, the one rangeOf finds', () => {
    fc.assert(
      fc.property(splitKeys, fc.array(key, { maxLength: 20 }), (splits, probes) => {
        const map = RangeMap.fromSplitKeys(splits);
        expect(map.ranges).toHaveLength(splits.length + 1);
        for (const k of [...probes, ...splits]) {
          const holding = map.ranges.filter((r) => boundsHold(r, k));
          expect(holding).toHaveLength(1);
          expect(map.rangeOf(k)).toBe(holding[0]);
        }
      }),
    );
  });

  it('spans exactly the ranges a read can touch, in key order', () => {
    fc.assert(
      fc.property(splitKeys, range, fc.array(key, { maxLength: 30 }), (splits, r, probes) => {
        const map = RangeMap.fromSplitKeys(splits);
        const spans = map.spans(r);
        // In key order, and contiguous: a read touches no range it skips.
        for (let i = 1; i < spans.length; i++) expect(spans[i]!.start).toBe(spans[i - 1]!.end);
        // Every key the read can find is in one of its spans.
        for (const k of [...probes, ...splits]) if (inRange(r, k)) expect(spans).toContain(map.rangeOf(k));
        // And every span holds a key of the read: its start or the read's own start.
        const first = 'key' in r ? r.key : 'prefix' in r ? r.prefix : r.start;
        const end = 'prefix' in r ? prefixEnd(r.prefix) : 'key' in r ? `${r.key}\u0000` : r.end;
        for (const span of spans) {
          // The later of the two (strings: Math.max would not compare them).
          const lowest = [first, span.start].sort()[1]!;
          expect(boundsHold(span, lowest) && (end === undefined || lowest < end)).toBe(true);
        }
      }),
    );
  });

  it('round-trips through its encoding, and refuses every truncation and bad bytes with CodecError', () => {
    fc.assert(
      fc.property(splitKeys, fc.nat(1_000), (splits, generation) => {
        const map = new RangeMap(RangeMap.fromSplitKeys(splits, 5).ranges, generation);
        const bytes = map.encode();
        const back = RangeMap.decode(bytes);
        expect(back.generation).toBe(generation);
        expect(back.ranges).toEqual(map.ranges);
        expect(back.sameRanges(map)).toBe(true);
        for (let n = 0; n < bytes.byteLength; n++) expect(() => RangeMap.decode(bytes.subarray(0, n))).toThrow(CodecError);
        expect(() => RangeMap.decode(new Uint8Array([...bytes, 0]))).toThrow(CodecError);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        try {
          RangeMap.decode(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(CodecError);
        }
      }),
      { numRuns: 2_000 },
    );
    // A well-formed map with a range served by the meta group is refused.
    const meta = new RangeMap([{ group: 1, start: '' }], 0).encode();
    meta[3] = 0; // the group id
    expect(() => RangeMap.decode(meta)).toThrow(/group 0/);
    expect(() => RangeMap.decode(new Uint8Array([2, 0, 0]))).toThrow(/format version 2/);
  });

  it('refuses ranges that leave a gap, overlap, share a group or are not increasing', () => {
    const bad = [
      [],
      [{ group: 1, start: 'a' }],
      [
        { group: 1, start: '', end: 'm' },
        { group: 2, start: 'n' },
      ],
      [
        { group: 1, start: '', end: 'm' },
        { group: 1, start: 'm' },
      ],
      [{ group: 0, start: '' }],
      [
        { group: 1, start: '', end: 'm' },
        { group: 2, start: 'm', end: 'z' },
      ],
      [
        { group: 1, start: '', end: '' },
        { group: 2, start: '' },
      ],
    ];
    for (const ranges of bad) expect(() => new RangeMap(ranges, 0), JSON.stringify(ranges)).toThrow(KvRequestError);
    expect(() => new RangeMap([{ group: 1, start: '' }], -1)).toThrow(KvRequestError);
    expect(() => RangeMap.fromSplitKeys(['b', 'a'])).toThrow(/must increase/);
    expect(() => RangeMap.fromSplitKeys(['a', 'a'])).toThrow(/must increase/);
    expect(() => RangeMap.fromSplitKeys([''])).toThrow(KvRequestError);
    expect(RangeMap.fromSplitKeys(['g', 'p']).rangeOfGroup(2)).toEqual({ group: 2, start: 'g', end: 'p' });
  });
});
