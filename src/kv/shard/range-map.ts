/**
 * The range map of a sharded KV: the keyspace cut into contiguous ranges, each served
 * by one consensus group. Pure and immutable; kept in the meta group, cached by every
 * router, and encoded with a format version so a later build can read it.
 */
import { CodecError } from '../../encoding/codec-error.js';
import { Reader } from '../../encoding/reader.js';
import { Writer } from '../../encoding/writer.js';
import { isGroupId } from '../../runtime/index.js';
import { KvRequestError } from '../errors.js';
import { type KeyBounds, sameBounds } from '../key-bounds.js';
import { prefixEnd } from '../key-set.js';
import { readString, writeString } from '../kv-codec.js';
import { kvLimits } from '../kv-limits.js';
import { invalidKey } from '../kv-state-machine.js';
import type { KeyRange } from '../kv-types.js';

/** One range: the keys `[start, end)` (no `end`: unbounded) and the group serving them. */
export interface ShardRange extends KeyBounds {
  readonly group: number;
  /**
   * How the group was made, when a split made it or narrowed it since: the bounds its
   * state machine was created with (which a replay of its log from the start needs),
   * and whether it started empty, awaiting the keys a split copied to it. Absent: made
   * with these very bounds, when the cluster was created.
   */
  readonly creation?: RangeCreation;
}

/** The bounds a range's group was created with, and whether a split seeded it. */
export interface RangeCreation extends KeyBounds {
  readonly seeded: boolean;
  /**
   * A seeded range's revision when its keys were copied (the old range's at its freeze):
   * its own changes are the revisions after it (0 when the split named none). Absent in
   * maps of format 2.
   */
  readonly seedRevision?: number;
}

/** The group that keeps the range map; no range is served by it. */
export const metaGroup = 0;

/** Format 1: no range has a `creation`; a map that has none is still written so, for builds before splits. */
const formatVersionUnsplit = 1;
/** Format 2: creations, without a seeded range's `seedRevision`; read, no longer written. */
const formatVersionNoSeedRevision = 2;
const formatVersion = 3;

/**
 * Ranges in key order, with no gap and no overlap: the first starts at `''`, each
 * next one where the one before ends, the last has no end. `generation` grows by one
 * at every change of the map, so a router knows which of two maps is newer.
 *
 * @example
 * ```ts
 * const map = RangeMap.fromSplitKeys(['g', 'p']); // ['', 'g') → 1, ['g', 'p') → 2, ['p', ∞) → 3
 * map.rangeOf('orders/7').group; // 3
 * ```
 */
export class RangeMap {
  readonly generation: number;
  readonly ranges: readonly ShardRange[];

  /** @throws {@link KvRequestError} unless `ranges` cover every key once, each with its own group (not the meta group). */
  constructor(ranges: readonly ShardRange[], generation: number) {
    const bad =
      invalidRanges(ranges) ?? (Number.isSafeInteger(generation) && generation >= 0 ? undefined : `generation ${generation} is not a non-negative integer`);
    if (bad !== undefined) throw new KvRequestError('RangeMap', bad);
    this.ranges = ranges.map((r) => Object.freeze({ ...r }));
    this.generation = generation;
  }

  /**
   * The map of generation 0 that cuts the keyspace before each of `splitKeys` (valid
   * keys in increasing order): `splitKeys.length + 1` ranges served by groups
   * `firstGroup`, `firstGroup + 1`, and so on, in key order.
   */
  static fromSplitKeys(splitKeys: readonly string[], firstGroup = metaGroup + 1): RangeMap {
    for (let i = 0; i < splitKeys.length; i++) {
      const key = splitKeys[i]!;
      const bad = invalidKey(key);
      if (bad !== undefined) throw new KvRequestError('RangeMap', `split key ${i}: ${bad}`);
      if (i > 0 && !(splitKeys[i - 1]! < key))
        throw new KvRequestError('RangeMap', `split keys must increase: ${JSON.stringify(splitKeys[i - 1])} before ${JSON.stringify(key)}`);
    }
    const starts = ['', ...splitKeys];
    return new RangeMap(
      starts.map((start, i) => {
        const end = starts[i + 1];
        return end === undefined ? { group: firstGroup + i, start } : { group: firstGroup + i, start, end };
      }),
      0,
    );
  }

  /** The range that serves `key`. */
  rangeOf(key: string): ShardRange {
    // The last range starting at or before the key; the first starts at '' so there is one.
    let low = 0;
    let high = this.ranges.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.ranges[mid]!.start <= key) low = mid + 1;
      else high = mid;
    }
    return this.ranges[low - 1]!;
  }

  /** The ranges holding any key `range` could hold, in key order; none for an empty `{ start, end }`. */
  spans(range: KeyRange): ShardRange[] {
    if ('key' in range) return [this.rangeOf(range.key)];
    const start = 'prefix' in range ? range.prefix : range.start;
    const end = 'prefix' in range ? prefixEnd(range.prefix) : range.end;
    if (end !== undefined && start >= end) return [];
    const first = this.ranges.indexOf(this.rangeOf(start));
    const found: ShardRange[] = [];
    for (let i = first; i < this.ranges.length; i++) {
      const r = this.ranges[i]!;
      if (end !== undefined && r.start >= end) break;
      found.push(r);
    }
    return found;
  }

  /**
   * The map of the next generation, where the range holding `at` ends at `at` and
   * `newGroup` serves the keys from `at` to where that range ended, created for them and
   * seeded by the split.
   *
   * @throws {@link KvRequestError} if `at` is not a valid key strictly inside a range, or
   *   `newGroup` is the meta group or serves a range already.
   */
  split(at: string, newGroup: number, seedRevision = 0): RangeMap {
    const bad = invalidKey(at);
    if (bad !== undefined) throw new KvRequestError('RangeMap.split', bad);
    const old = this.rangeOf(at);
    if (old.start === at) throw new KvRequestError('RangeMap.split', `${JSON.stringify(at)} is where range ${old.group} starts already`);
    const tail = old.end === undefined ? { start: at } : { start: at, end: old.end };
    const ranges = this.ranges.flatMap((r): ShardRange[] =>
      r !== old
        ? [r]
        : [
            { group: old.group, start: old.start, end: at, creation: creationOf(old) },
            { group: newGroup, ...tail, creation: { ...tail, seeded: true, seedRevision } },
          ],
    );
    return new RangeMap(ranges, this.generation + 1);
  }

  /**
   * Where the keys `moved` are, which a split took from a range: `'unmoved'` while this
   * map still routes them to the range they left; the range the split made of them (its
   * `seedRevision` the old range's revision when they left), if it still holds exactly
   * them; `'split-again'` otherwise: it has been split since (the only range ever created
   * with exactly these bounds is that one, and a split only cuts a range's tail), or no
   * split made them (or this map, of format 2, does not say where its seeding ended).
   */
  madeOf(moved: KeyBounds): ShardRange | 'unmoved' | 'split-again' {
    const holder = this.rangeOf(moved.start);
    if (holder.start < moved.start) return 'unmoved';
    const creation = creationOf(holder);
    if (!creation.seeded || creation.seedRevision === undefined || !sameBounds(creation, moved)) return 'split-again';
    return sameBounds(holder, moved) ? holder : 'split-again';
  }

  /** The range served by `group`, if any. */
  rangeOfGroup(group: number): ShardRange | undefined {
    return this.ranges.find((r) => r.group === group);
  }

  /** Whether `other` has the same ranges, served by the same groups (generations aside). */
  sameRanges(other: RangeMap): boolean {
    return (
      this.ranges.length === other.ranges.length &&
      this.ranges.every((r, i) => {
        const o = other.ranges[i]!;
        return r.group === o.group && r.start === o.start && r.end === o.end;
      })
    );
  }

  /** The map as bytes, for the meta group: format 1 while no split changed it (what builds before splits read), else 3. */
  encode(): Uint8Array {
    const split = this.ranges.some((r) => r.creation !== undefined);
    const w = new Writer(64);
    w.u8(split ? formatVersion : formatVersionUnsplit);
    w.uint(this.generation);
    w.uint(this.ranges.length);
    for (const r of this.ranges) {
      w.uint(r.group);
      writeBounds(w, 'range', r);
      if (!split) continue;
      w.bool(r.creation !== undefined);
      if (r.creation === undefined) continue;
      writeBounds(w, 'range creation', r.creation);
      w.bool(r.creation.seeded);
      if (r.creation.seeded) w.uint(r.creation.seedRevision ?? 0);
    }
    return w.copy();
  }

  /** @throws {@link CodecError} for bytes that are not a valid map of a format this build reads. */
  static decode(bytes: Uint8Array): RangeMap {
    const r = new Reader(bytes);
    const version = r.u8('range map format version');
    if (version !== formatVersion && version !== formatVersionNoSeedRevision && version !== formatVersionUnsplit)
      throw new CodecError(`range map format version ${version}; this build reads ${formatVersionUnsplit} to ${formatVersion}`);
    const generation = r.uint('range map generation');
    const ranges: ShardRange[] = [];
    // Each range takes at least 3 bytes: its group, an empty start, the end flag.
    for (let n = r.count('range map ranges', 3); n > 0; n--) {
      const group = r.uint('range group');
      const bounds = readBounds(r, 'range');
      if (version === formatVersionUnsplit || !r.bool('range has creation')) {
        ranges.push({ group, ...bounds });
        continue;
      }
      const creation = readBounds(r, 'range creation');
      const seeded = r.bool('range creation seeded');
      const seedRevision = seeded && version === formatVersion ? { seedRevision: r.uint('range seed revision') } : {};
      ranges.push({ group, ...bounds, creation: { ...creation, seeded, ...seedRevision } });
    }
    r.end();
    const bad = invalidRanges(ranges);
    if (bad !== undefined) throw new CodecError(`range map: ${bad}`);
    return new RangeMap(ranges, generation);
  }
}

/** The bounds `range`'s group was created with, and whether it was seeded. */
export function creationOf(range: ShardRange): RangeCreation {
  return range.creation ?? (range.end === undefined ? { start: range.start, seeded: false } : { start: range.start, end: range.end, seeded: false });
}

function writeBounds(w: Writer, what: string, bounds: KeyBounds): void {
  writeString(w, `${what} start`, bounds.start, kvLimits.keyBytesMax);
  w.bool(bounds.end !== undefined);
  if (bounds.end !== undefined) writeString(w, `${what} end`, bounds.end, kvLimits.keyBytesMax);
}

function readBounds(r: Reader, what: string): KeyBounds {
  const start = readString(r, `${what} start`, kvLimits.keyBytesMax);
  return r.bool(`${what} has end`) ? { start, end: readString(r, `${what} end`, kvLimits.keyBytesMax) } : { start };
}

/** Why `ranges` do not cover every key exactly once with distinct range groups, or undefined. */
function invalidRanges(ranges: readonly ShardRange[]): string | undefined {
  if (ranges.length === 0) return 'a range map has at least one range';
  const groups = new Set<number>();
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i]!;
    if (!isGroupId(r.group) || r.group === metaGroup) return `range ${i}: group ${r.group} is not a group id above ${metaGroup}`;
    if (groups.has(r.group)) return `range ${i}: group ${r.group} serves two ranges`;
    groups.add(r.group);
    if (typeof r.start !== 'string' || (r.end !== undefined && typeof r.end !== 'string')) return `range ${i}: start and end must be strings`;
    if (i === 0 ? r.start !== '' : r.start !== ranges[i - 1]!.end) return `range ${i} starts at ${JSON.stringify(r.start)}, not where the one before ends`;
    if (r.end !== undefined && !(r.start < r.end)) return `range ${i} ends at ${JSON.stringify(r.end)}, not after its start ${JSON.stringify(r.start)}`;
    if (i === ranges.length - 1 && r.end !== undefined) return `the last range ends at ${JSON.stringify(r.end)}: it must be unbounded`;
    // A range only narrows: it starts where it was created to start, within the keys it was created for.
    const c = r.creation;
    if (c !== undefined && (c.start !== r.start || (c.end !== undefined && (r.end === undefined || r.end > c.end))))
      return `range ${i} [${JSON.stringify(r.start)}, ${JSON.stringify(r.end)}) is not within the bounds its group was created with`;
  }
  return undefined;
}
