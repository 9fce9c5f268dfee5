/**
 * A watch over the ranges of a sharded KV: one watch per range, merged as their events
 * come. Each range counts its own revisions, so each event says its range's group, and
 * where to resume is kept per range. A split of a range watched is followed: the range's
 * part goes on over the keys it kept, and the keys that moved are watched in the ranges
 * that took them, from their first own change.
 */
import { WrongRangeError } from '../errors.js';
import type { KeyBounds } from '../key-bounds.js';
import type { KvWatch } from '../kv-watch.js';
import type { WatchEvent } from '../kv-types.js';

/** A change in one range: the event, and the group of the range (whose revision it is). */
export interface ShardedWatchEvent extends WatchEvent {
  readonly group: number;
}

/** One range's part of a sharded watch: the range's group and bounds when it was opened. @internal */
export interface WatchPart {
  readonly group: number;
  readonly bounds: KeyBounds;
  readonly watch: KvWatch;
}

/** How a sharded watch follows a split of a range it watches. @internal */
export interface SplitFollower {
  /** The part of group `group` on its `bounds`, narrowed by a split, from `fromRevision`; undefined if the watch's keys miss them. */
  narrowed(group: number, bounds: KeyBounds, fromRevision: number): WatchPart | undefined;
  /**
   * Once the member's map routes the keys `moved` (which a split took from a range
   * watched) to the ranges the split made: their parts, each from its first own change.
   * Rejects with `split` if they cannot be followed (split again meanwhile); resolves
   * with none if `closed()` turns true first.
   */
  moved(moved: KeyBounds, split: WrongRangeError, closed: () => boolean): Promise<WatchPart[]>;
}

/**
 * The changes to a range of keys across the ranges it spans. Within a range, events
 * come in that range's revision order, none missed or repeated (as a `KvWatch`'s);
 * across ranges, in the order they are seen. At most one event per range is taken
 * ahead of the consumer, so a slow consumer costs no memory. A split of a range watched
 * is followed: the events of the keys that moved, up to the split, come from the range
 * they left, and from then on from the range that took them (a new group in
 * {@link groups}). A range's watch failing (`CompactedError`; or `WrongRangeError` when
 * the keys that moved were split again before this member saw the first split end)
 * fails this one and ends the others; a range's node closing ends it.
 *
 * @example
 * ```ts
 * const watch = kv.watch({ prefix: '' }, { fromRevisions: saved });
 * for await (const event of watch) saved[event.group] = event.revision + 1;
 * ```
 */
export class ShardedWatch implements AsyncIterableIterator<ShardedWatchEvent> {
  /** The parts, in key order. */
  private parts: WatchPart[];
  /** Keys a split moved, while their new ranges' parts are being opened. */
  private readonly following = new Set<Promise<void>>();
  /** Each range's next event being fetched, and what the range had delivered when the fetch began. */
  private readonly fetching = new Map<WatchPart, { readonly settled: Promise<void>; readonly deliveredBefore: number }>();
  /** Events taken from their ranges and not yet handed out, at most one per range, in the order they came. */
  private readonly ahead = new Map<WatchPart, ShardedWatchEvent>();
  private failure: { readonly error: unknown } | undefined;
  /** A range's watch ended (its node closed). */
  private partEnded = false;
  private done = false;
  private queue: Promise<unknown> = Promise.resolve();

  /** @internal */
  constructor(
    parts: readonly WatchPart[],
    private readonly follower?: SplitFollower,
  ) {
    this.parts = [...parts];
  }

  /** The groups of the ranges watched, in key order. */
  get groups(): number[] {
    return this.parts.map((p) => p.group);
  }

  /**
   * Every change to range `group` at or below this revision (of that range) has been
   * handed out by `next()`: resume that range from the revision after it. 0 for a
   * group this watch does not span.
   */
  deliveredThrough(group: number): number {
    const part = this.parts.find((p) => p.group === group);
    if (part === undefined) return 0;
    // The range's own watch counts what it gave this one, which may not be handed out yet.
    const waiting = this.ahead.get(part);
    if (waiting !== undefined) return Math.min(part.watch.deliveredThrough, waiting.revision - 1);
    return this.fetching.get(part)?.deliveredBefore ?? part.watch.deliveredThrough;
  }

  /** Where to resume each range: `fromRevisions` for a new watch that misses and repeats nothing. */
  resumeRevisions(): Record<number, number> {
    return Object.fromEntries(this.parts.map((p) => [p.group, this.deliveredThrough(p.group) + 1]));
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<ShardedWatchEvent>> {
    const step = this.queue.then(() => this.step());
    this.queue = step.catch(() => undefined);
    return step;
  }

  return(): Promise<IteratorResult<ShardedWatchEvent>> {
    this.close();
    return Promise.resolve({ done: true, value: undefined });
  }

  /** Ends the watch and every range's part. */
  close(): void {
    if (this.done) return;
    this.done = true;
    for (const part of this.parts) part.watch.close();
  }

  private fetch(part: WatchPart): void {
    const deliveredBefore = part.watch.deliveredThrough;
    const settled = part.watch.next().then(
      (result) => {
        this.fetching.delete(part);
        if (result.done === true) this.partEnded = true;
        else this.ahead.set(part, { ...result.value, group: part.group });
      },
      (error: unknown) => {
        this.fetching.delete(part);
        if (error instanceof WrongRangeError && this.follower !== undefined && !this.done) this.followSplit(part, error, this.follower);
        else this.failure ??= { error };
      },
    );
    this.fetching.set(part, { settled, deliveredBefore });
  }

  /**
   * A split narrowed `part`'s range (it ended with `split`, every event before the split
   * handed over): goes on over the keys it kept, from where it was, and over the keys
   * that moved in the ranges that took them.
   */
  private followSplit(part: WatchPart, split: WrongRangeError, follower: SplitFollower): void {
    const kept: KeyBounds = split.end === undefined ? { start: split.start } : { start: split.start, end: split.end };
    // A split gives away the range's tail: the keys from the new end to the old one.
    if (kept.start !== part.bounds.start || kept.end === undefined || (part.bounds.end !== undefined && kept.end >= part.bounds.end)) {
      this.failure ??= { error: split };
      return;
    }
    const moved: KeyBounds = part.bounds.end === undefined ? { start: kept.end } : { start: kept.end, end: part.bounds.end };
    try {
      const rest = follower.narrowed(part.group, kept, part.watch.deliveredThrough + 1);
      this.replace(part, rest === undefined ? [] : [rest]);
    } catch (error) {
      this.failure ??= { error };
      return;
    }
    const following: Promise<void> = follower
      .moved(moved, split, () => this.done)
      .then(
        (parts) => {
          this.following.delete(following);
          if (this.done) for (const p of parts) p.watch.close();
          else this.replace(undefined, parts);
        },
        (error: unknown) => {
          this.following.delete(following);
          this.failure ??= { error };
        },
      );
    this.following.add(following);
  }

  /** Takes `part` out (if given) and `added` in, keeping the parts in key order. */
  private replace(part: WatchPart | undefined, added: readonly WatchPart[]): void {
    const parts = part === undefined ? this.parts : this.parts.filter((p) => p !== part);
    this.parts = [...parts, ...added].sort((x, y) => (x.bounds.start < y.bounds.start ? -1 : x.bounds.start > y.bounds.start ? 1 : 0));
  }

  private async step(): Promise<IteratorResult<ShardedWatchEvent>> {
    for (;;) {
      if (this.done) return { done: true, value: undefined };
      const first = this.ahead.entries().next();
      if (first.done !== true) {
        const [part, event] = first.value;
        this.ahead.delete(part);
        return { done: false, value: event };
      }
      if (this.failure !== undefined) {
        this.close();
        throw this.failure.error;
      }
      // A range no longer watched: this watch can no longer see every change.
      if (this.partEnded || (this.parts.length === 0 && this.following.size === 0)) {
        this.close();
        return { done: true, value: undefined };
      }
      for (const part of this.parts) if (!this.fetching.has(part) && !this.ahead.has(part)) this.fetch(part);
      await Promise.race([...[...this.fetching.values()].map((f) => f.settled), ...this.following]);
    }
  }
}
