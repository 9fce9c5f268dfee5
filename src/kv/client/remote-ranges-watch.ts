/**
 * A watch through a sharded cluster's server, across the ranges its keys span. Each
 * range counts its own revisions, so the client keeps, per range, the revision it must
 * resume from; after a lost connection, a server failover or a pause for a slow
 * consumer it asks again from there in every range: no event missed, none repeated.
 */
import type { KeyRange } from '../kv-types.js';
import type { RangeRevision } from '../protocol/client-frames.js';
import type { ShardedWatchEvent } from '../shard/sharded-watch.js';
import type { WatchEvent } from '../kv-types.js';
import { RevisionCursor } from './revision-cursor.js';

/** What a remote range watch asks of its client. @internal */
export interface RangesWatchLink {
  /** Subscribes (again), each range in `from` from its revision, the others from the server's now; returns the subscription's id. */
  subscribeRanges(watch: RemoteRangesWatch, from: readonly RangeRevision[]): number;
  /** Drops the subscription `id`. */
  unsubscribe(id: number): void;
  /** The watch ended for good. */
  closed(watch: RemoteRangesWatch): void;
}

/** Events buffered for a slow consumer before the subscription pauses. */
const bufferedMax = 10_000;

/**
 * The changes to a range of keys across the ranges of a sharded cluster, from
 * `KvClient.watchRanges`. Each event names its range's `group`, and its `revision` is
 * that range's; within a range, events come in revision order, none missed or repeated.
 * A split of a range watched is followed (the server's watch follows it): the new
 * range's events come with its group.
 *
 * @example
 * ```ts
 * const watch = client.watchRanges({ prefix: 'orders/' }, { fromRevisions: saved });
 * for await (const event of watch) saved[event.group] = event.revision + 1;
 * ```
 */
export class RemoteRangesWatch implements AsyncIterableIterator<ShardedWatchEvent> {
  private buffer: ShardedWatchEvent[] = [];
  private at = 0;
  /** Where each range stands, by group. */
  private readonly cursors = new Map<number, RevisionCursor>();
  private subscription: number | undefined;
  private paused = false;
  private done = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  /** @internal */
  constructor(
    readonly range: KeyRange,
    fromRevisions: Readonly<Record<number, number>>,
    private readonly link: RangesWatchLink,
  ) {
    for (const [group, revision] of Object.entries(fromRevisions)) this.cursors.set(Number(group), new RevisionCursor(revision));
    this.subscription = this.subscribe();
  }

  /**
   * Where to resume each range the watch has heard of: pass it as `fromRevisions` to a
   * new watch that misses and repeats nothing of what `next()` handed out (a revision
   * cut across frames is resumed whole).
   */
  resumeRevisions(): Record<number, number> {
    const from: Record<number, number> = {};
    for (const [group, cursor] of this.cursors) if (cursor.resume > 0) from[group] = cursor.resume;
    for (let i = this.buffer.length - 1; i >= this.at; i--) {
      const e = this.buffer[i]!;
      if (from[e.group] === undefined || e.revision < from[e.group]!) from[e.group] = e.revision;
    }
    return from;
  }

  /** The id of the live subscription, if any. @internal */
  get subscriptionId(): number | undefined {
    return this.subscription;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<ShardedWatchEvent>> {
    for (;;) {
      if (this.at < this.buffer.length) {
        const event = this.buffer[this.at++]!;
        if (this.at === this.buffer.length) {
          this.buffer = [];
          this.at = 0;
        }
        if (this.paused && this.buffer.length - this.at < bufferedMax / 2) this.unpause();
        return { done: false, value: event };
      }
      if (this.failure !== undefined) {
        const error = this.failure;
        this.failure = undefined;
        throw error;
      }
      if (this.done) return { done: true, value: undefined };
      if (this.paused) this.unpause();
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  return(): Promise<IteratorResult<ShardedWatchEvent>> {
    this.close();
    return Promise.resolve({ done: true, value: undefined });
  }

  close(): void {
    if (this.done) return;
    this.done = true;
    if (this.subscription !== undefined) this.link.unsubscribe(this.subscription);
    this.subscription = undefined;
    this.link.closed(this);
    this.poke();
  }

  /** The server said subscription `id` starts each range at these revisions. @internal */
  started(id: number, from: readonly RangeRevision[]): void {
    if (id !== this.subscription) return;
    for (const { group, revision } of from) {
      const cursor = this.cursors.get(group);
      if (cursor === undefined) this.cursors.set(group, new RevisionCursor(revision));
      else if (cursor.resume === 0) cursor.resume = revision;
    }
  }

  /** Events of range `group` on subscription `id`, complete through `through`. @internal */
  events(id: number, group: number, events: readonly WatchEvent[], through: number): void {
    if (id !== this.subscription || this.done) return;
    let cursor = this.cursors.get(group);
    // A range a split made: the server's watch followed the keys there.
    if (cursor === undefined) this.cursors.set(group, (cursor = new RevisionCursor(0)));
    for (const e of cursor.take(events, through)) this.buffer.push({ ...e, group });
    if (this.buffer.length - this.at > bufferedMax && !this.paused) {
      this.paused = true;
      this.link.unsubscribe(id);
      this.subscription = undefined;
    }
    this.poke();
  }

  /** Subscription `id` ended with `error` (a range's history compacted, a refusal): the watch fails. @internal */
  failed(id: number, error: Error): void {
    if (id !== this.subscription) return;
    this.subscription = undefined;
    this.failure = error;
    this.done = true;
    this.link.closed(this);
    this.poke();
  }

  /** The connection was lost: subscribe again on the next one, from where each range stands. @internal */
  reconnected(): void {
    if (this.done || this.paused) return;
    this.subscription = this.subscribe();
  }

  private unpause(): void {
    if (!this.paused || this.done) return;
    this.paused = false;
    this.subscription = this.subscribe();
  }

  private subscribe(): number {
    const from: RangeRevision[] = [];
    for (const [group, cursor] of this.cursors) {
      cursor.resubscribed();
      if (cursor.resume > 0) from.push({ group, revision: cursor.resume });
    }
    return this.link.subscribeRanges(this, from);
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
