/**
 * A set of keys given as exact keys and prefixes, kept as sorted, merged intervals of
 * the store's key order (UTF-16 code units, as the store sorts), so a request's range
 * is allowed when it lies inside the union of the permissions, not only inside one.
 */
import { assert } from '../core/assert.js';
import type { KeyPattern } from './kv-auth.js';
import type { KeyRange } from './kv-types.js';

export type { KeyPattern };

/** `[start, end)`; `end` undefined: no upper bound. */
interface Interval {
  readonly start: string;
  readonly end: string | undefined;
}

/**
 * The first string after every string that starts with `prefix`, or undefined if none
 * is (the prefix is empty or all U+FFFF units).
 */
export function prefixEnd(prefix: string): string | undefined {
  let end = prefix;
  while (end.length > 0 && end.charCodeAt(end.length - 1) === 0xffff) end = end.slice(0, -1);
  if (end.length === 0) return undefined;
  return end.slice(0, -1) + String.fromCharCode(end.charCodeAt(end.length - 1) + 1);
}

function intervalOf(p: KeyPattern | KeyRange): Interval {
  // The one key `k` is [k, k + U+0000): no other string lies between.
  if ('key' in p) return { start: p.key, end: `${p.key}\u0000` };
  if ('prefix' in p) return { start: p.prefix, end: prefixEnd(p.prefix) };
  return { start: p.start, end: p.end };
}

/** Whether `a` comes before `b`, either an end or a key (undefined: past every key). */
function endBefore(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && (b === undefined || a < b);
}

/** @internal */
export class KeySet {
  private readonly intervals: readonly Interval[];

  constructor(patterns: readonly KeyPattern[]) {
    const sorted = patterns.map(intervalOf).sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    const merged: Interval[] = [];
    for (const next of sorted) {
      const last = merged[merged.length - 1];
      // Touching or overlapping: one interval.
      if (last !== undefined && !endBefore(last.end, next.start)) {
        merged[merged.length - 1] = { start: last.start, end: endBefore(last.end, next.end) ? next.end : last.end };
      } else {
        merged.push(next);
      }
    }
    for (let i = 1; i < merged.length; i++)
      assert(endBefore(merged[i - 1]!.end, merged[i]!.start), `key set intervals ${i - 1} and ${i} overlap after merging`);
    this.intervals = merged;
  }

  /** Whether the set holds no key. */
  get empty(): boolean {
    return this.intervals.length === 0;
  }

  /** Whether `key` is in the set. */
  has(key: string): boolean {
    return this.covers({ key });
  }

  /**
   * Whether every key `range` could hold is in the set. An empty range (`start >= end`)
   * holds no key and is covered.
   */
  covers(range: KeyRange): boolean {
    const wanted = intervalOf(range);
    if (wanted.end !== undefined && wanted.start >= wanted.end) return true;
    // The merged interval holding the range's start (the last one starting at or before
    // it, found by binary search) must also hold its end.
    let low = 0;
    let high = this.intervals.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.intervals[mid]!.start <= wanted.start) low = mid + 1;
      else high = mid;
    }
    const i = this.intervals[low - 1];
    if (i === undefined || !endBefore(wanted.start, i.end)) return false;
    return !endBefore(i.end, wanted.end);
  }
}
