/**
 * The range map: every key in exactly one range, a read's spans exactly the ranges it
 * can touch, in key order, and the encoding round-trips and refuses bad bytes with
 * CodecError.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CodecError } from '../../../src/encoding/codec-error.js';
import { type KeyRange, KvRequestError, RangeMap } from '../../../src/kv/index.js';
import { creationOf } from '../../../src/kv/shard/range-map.js';
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
    expect(() => RangeMap.decode(new Uint8Array([4, 0, 0]))).toThrow(/format version 4/);
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

describe('RangeMap.split', () => {
  it('cuts the range holding the point: the next generation, the old group narrowed, a new group created for the tail and seeded', () => {
    fc.assert(
      fc.property(splitKeys, fc.array(key, { maxLength: 6 }), (splits, points) => {
        let map = RangeMap.fromSplitKeys(splits);
        const created = new Map(map.ranges.map((r) => [r.group, { start: r.start, end: r.end, seeded: false }]));
        let nextGroup = map.ranges.length + 1;
        for (const at of points) {
          const old = map.rangeOf(at);
          if (old.start === at) {
            expect(() => map.split(at, nextGroup)).toThrow(/where range \d+ starts already/);
            continue;
          }
          const next = map.split(at, nextGroup, nextGroup * 10);
          expect(next.generation).toBe(map.generation + 1);
          expect(next.rangeOf(at).creation?.seedRevision).toBe(nextGroup * 10);
          expect(next.ranges).toHaveLength(map.ranges.length + 1);
          expect(next.rangeOfGroup(old.group)).toMatchObject({ start: old.start, end: at });
          const tail = next.rangeOf(at);
          expect({ group: tail.group, start: tail.start, end: tail.end }).toEqual({ group: nextGroup, start: at, end: old.end });
          created.set(nextGroup, { start: at, end: old.end, seeded: true });
          // Every other range as it was; every group keeps the bounds it was created with, and each range lies within them.
          for (const r of map.ranges) if (r !== old) expect(next.rangeOfGroup(r.group)).toEqual(r);
          for (const r of next.ranges) {
            const c = creationOf(r);
            expect({ start: c.start, end: c.end, seeded: c.seeded }).toEqual(created.get(r.group));
            expect(r.start).toBe(c.start);
            if (c.end !== undefined) expect(r.end !== undefined && r.end <= c.end).toBe(true);
          }
          map = next;
          nextGroup++;
        }
        // Format 1 until a split; format 3, holding each range's creation, after.
        const bytes = map.encode();
        expect(bytes[0]).toBe(map.ranges.some((r) => r.creation !== undefined) ? 3 : 1);
        const back = RangeMap.decode(bytes);
        expect(back.ranges).toEqual(map.ranges);
        expect(back.generation).toBe(map.generation);
        for (let n = 0; n < bytes.byteLength; n++) expect(() => RangeMap.decode(bytes.subarray(0, n))).toThrow(CodecError);
      }),
    );
  });

  it('reads a map of format 2, whose seeded ranges name no seed revision', () => {
    const map = RangeMap.fromSplitKeys(['m']).split('t', 3, 17);
    const bytes = map.encode();
    expect(bytes[0]).toBe(3);
    // Format 2 is format 3 without each seeded range's revision: the last range's, here one byte (17), at the end.
    const format2 = Uint8Array.of(2, ...bytes.subarray(1, bytes.length - 1));
    const back = RangeMap.decode(format2);
    expect(back.rangeOfGroup(3)).toEqual({ group: 3, start: 't', creation: { start: 't', seeded: true } });
    expect(back.ranges.slice(0, 2)).toEqual(map.ranges.slice(0, 2));
    expect(() => RangeMap.decode(Uint8Array.of(4, ...bytes.subarray(1)))).toThrow(/range map format version 4; this build reads 1 to 3/);
  });

  it('finds the range a split made of the keys it moved: not before the map routes them there, and not once that range was split again', () => {
    const before = RangeMap.fromSplitKeys(['g', 'p']);
    const tail = { start: 't' };
    const middle = { start: 'p', end: 't' };
    expect(before.madeOf(tail)).toBe('unmoved');
    const split = before.split('t', 4, 17);
    expect(split.madeOf(tail)).toEqual({ group: 4, start: 't', creation: { start: 't', seeded: true, seedRevision: 17 } });
    // Split again (its tail from w): its changes between the two splits are in no range's history.
    expect(split.split('w', 5, 20).madeOf(tail)).toBe('split-again');
    // Split at the same point's range from the left: the range that took the keys is unchanged.
    expect(split.split('q', 5, 20).madeOf(tail)).toMatchObject({ group: 4 });
    // The old range split again: what it gave away the second time is made of by the second split.
    const twice = split.split('r', 5, 21);
    expect(twice.madeOf({ start: 'r', end: 't' })).toMatchObject({ group: 5, creation: { seedRevision: 21 } });
    expect(twice.madeOf(middle)).toBe('split-again');
    // A range the cluster was created with was made by no split; nor one of format 2, whose seed revision is unknown.
    expect(before.madeOf(middle)).toBe('split-again');
    expect(RangeMap.decode(Uint8Array.of(2, ...split.encode().subarray(1, split.encode().length - 1))).madeOf(tail)).toBe('split-again');
  });

  it('refuses a point that is no key, a new group that is the meta group or serves a range, and a range wider than its group was created for', () => {
    const map = RangeMap.fromSplitKeys(['m']);
    expect(() => map.split('', 3)).toThrow(KvRequestError);
    expect(() => map.split('p', 0)).toThrow(/group 0/);
    expect(() => map.split('p', 1)).toThrow(/group 1 serves two ranges/);
    expect(() => new RangeMap([{ group: 1, start: '', creation: { start: '', end: 'm', seeded: false } }], 1)).toThrow(
      /not within the bounds its group was created with/,
    );
    expect(
      () =>
        new RangeMap(
          [
            { group: 1, start: '', end: 'z', creation: { start: '', end: 'm', seeded: false } },
            { group: 2, start: 'z' },
          ],
          1,
        ),
    ).toThrow(/range 0/);
    expect(
      () =>
        new RangeMap(
          [
            { group: 1, start: '', end: 'm' },
            { group: 2, start: 'm', creation: { start: 'a', seeded: true } },
          ],
          1,
        ),
    ).toThrow(/range 1/);
  });
});
