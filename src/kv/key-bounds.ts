/**
 * The keys one range of a sharded KV serves, and the check every replica of the
 * range's group makes as it applies a command: a command that names a key outside its
 * range answers `wrong-range` and changes nothing, so a client routing by a stale map
 * can never write a key into the wrong group.
 */
import type { KvCommand } from './kv-command.js';
import type { KeyRange } from './kv-types.js';
import { prefixEnd } from './key-set.js';

/**
 * The keys `[start, end)` in the store's key order (UTF-16 code units); no `end`: every
 * key from `start` on. `start: ''` with no `end` is every key.
 */
export interface KeyBounds {
  readonly start: string;
  readonly end?: string;
}

/** Whether `bounds` (undefined: every key) are exactly `other`. */
export function sameBounds(bounds: KeyBounds | undefined, other: KeyBounds): boolean {
  return bounds !== undefined && bounds.start === other.start && bounds.end === other.end;
}

/** Whether `key` lies in `bounds`. */
export function boundsHold(bounds: KeyBounds, key: string): boolean {
  return key >= bounds.start && (bounds.end === undefined || key < bounds.end);
}

/**
 * Whether every key `range` could hold lies in `bounds`. An empty `{ start, end }`
 * (`start >= end`) holds no key and lies anywhere.
 */
export function boundsCover(bounds: KeyBounds, range: KeyRange): boolean {
  if ('key' in range) return boundsHold(bounds, range.key);
  const start = 'prefix' in range ? range.prefix : range.start;
  const end = 'prefix' in range ? prefixEnd(range.prefix) : range.end;
  if (end !== undefined && start >= end) return true;
  if (start < bounds.start) return false;
  return bounds.end === undefined || (end !== undefined && end <= bounds.end);
}

/** The keys `range` could hold that lie in `bounds`, as bounds; undefined if none. */
export function keysWithin(range: KeyRange, bounds: KeyBounds): KeyBounds | undefined {
  const from = 'key' in range ? range.key : 'prefix' in range ? range.prefix : range.start;
  const to = 'key' in range ? `${range.key}\u0000` : 'prefix' in range ? prefixEnd(range.prefix) : range.end;
  // Keys are strings: Math.max would not compare them.
  let start = bounds.start;
  if (from > start) start = from;
  const end = to === undefined ? bounds.end : bounds.end === undefined || to < bounds.end ? to : bounds.end;
  if (end !== undefined && start >= end) return undefined;
  return end === undefined ? { start } : { start, end };
}

/** The key a request names first: for a range, where it starts. */
export function firstKeyOf(range: KeyRange): string {
  return 'key' in range ? range.key : 'prefix' in range ? range.prefix : range.start;
}

/**
 * The first key or range `command` names outside `bounds` (as the key the range
 * starts at), or undefined if it names none. A sequential put's key is checked as it
 * is made (its prefix and counter), not here. Commands that name no key (sessions,
 * compaction, users and roles) are never outside.
 */
export function keyOutside(bounds: KeyBounds, command: KvCommand): string | undefined {
  switch (command.type) {
    case 'put':
      return command.sequential === true || boundsHold(bounds, command.key) ? undefined : command.key;
    case 'delete':
      return boundsHold(bounds, command.key) ? undefined : command.key;
    case 'txn': {
      for (const compare of command.compare) if (!boundsHold(bounds, compare.key)) return compare.key;
      for (const op of [...command.success, ...command.failure]) {
        if (op.op === 'range') {
          if (!boundsCover(bounds, op.range)) return firstKeyOf(op.range);
        } else if (!boundsHold(bounds, op.key)) return op.key;
      }
      return undefined;
    }
    default:
      return undefined;
  }
}
