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
import { BufferedWatch } from './buffered-watch.js';
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
export class RemoteRangesWatch extends BufferedWatch<ShardedWatchEvent> {
  /** Where each range stands, by group. */
  private readonly cursors = new Map<number, RevisionCursor>();

  /** @internal */
  constructor(
    readonly range: KeyRange,
    fromRevisions: Readonly<Record<number, number>>,
    private readonly link: RangesWatchLink,
  ) {
    super(link);
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
    if (!this.live(id)) return;
    let cursor = this.cursors.get(group);
    // A range a split made: the server's watch followed the keys there.
    if (cursor === undefined) this.cursors.set(group, (cursor = new RevisionCursor(0)));
    for (const e of cursor.take(events, through)) this.buffer.push({ ...e, group });
    this.added(id);
  }

  protected subscribe(): number {
    const from: RangeRevision[] = [];
    for (const [group, cursor] of this.cursors) {
      cursor.resubscribed();
      if (cursor.resume > 0) from.push({ group, revision: cursor.resume });
    }
    return this.link.subscribeRanges(this, from);
  }

  protected ended(): void {
    this.link.closed(this);
  }
}
