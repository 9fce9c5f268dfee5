/**
 * A watch a sharded server runs for one client across the ranges its keys span: a
 * `ShardedWatch` (which follows splits, and takes at most one event per range ahead of
 * what it hands out), sent as fast as the client's socket takes it. Each frame holds
 * one range's events, complete through what that range has handed out, so the client
 * can resume each range where it stands; when the socket is full it waits for `drain`.
 */
import { ClosedError } from '../../runtime/index.js';
import type { KeyRange, WatchEvent } from '../kv-types.js';
import type { RangeRevision } from '../protocol/client-frames.js';
import type { ShardedKv } from '../shard/sharded-kv.js';
import type { ShardedWatch } from '../shard/sharded-watch.js';

/** Where a sharded server watch sends. @internal */
export interface RangeWatchSink {
  /** The watch reports each range from these revisions on. */
  started(watch: ShardedServerWatch, from: readonly RangeRevision[]): void;
  /**
   * Sends events of range `group`, complete through its revision `through`; returns
   * false when the socket is full (wait for `whenWritable`). It may stop the watch
   * instead (its client may no longer read the range).
   */
  events(watch: ShardedServerWatch, group: number, events: readonly WatchEvent[], through: number): boolean;
  whenWritable(): Promise<void>;
  /** The watch ended with an error. */
  failed(id: number, error: Error): void;
}

/** @internal */
export class ShardedServerWatch {
  private stopped = false;
  private watch: ShardedWatch | undefined;

  constructor(
    readonly id: number,
    /** What it watches. */
    readonly range: KeyRange,
    private readonly sink: RangeWatchSink,
  ) {}

  /** Opens the watch on `sharded`, each range in `from` from its revision, the others from now, and sends its changes. */
  start(sharded: ShardedKv, from: readonly RangeRevision[]): void {
    if (this.stopped) return;
    let watch: ShardedWatch;
    try {
      watch = sharded.watch(this.range, { fromRevisions: Object.fromEntries(from.map((f) => [f.group, f.revision])) });
    } catch (error) {
      this.fail(error);
      return;
    }
    this.watch = watch;
    const starts = Object.entries(watch.resumeRevisions()).map(([group, revision]) => ({ group: Number(group), revision }));
    this.sink.started(this, starts);
    void this.pump(watch);
  }

  stop(): void {
    this.stopped = true;
    this.watch?.close();
  }

  private async pump(watch: ShardedWatch): Promise<void> {
    try {
      for (;;) {
        const next = await watch.next();
        if (this.stopped) return;
        // A range's node closed here (the server is stopping): the client goes on elsewhere.
        if (next.done === true) return this.fail(new ClosedError('watch: a range stopped on this server'));
        const { group, revision } = next.value;
        // The range's events come in its revision order: all before this one were handed out.
        const through = Math.max(watch.deliveredThrough(group), revision - 1);
        const writable = this.sink.events(this, group, [next.value], through);
        if (this.stopped) return;
        if (!writable) await this.sink.whenWritable();
      }
    } catch (error) {
      this.fail(error);
    }
  }

  private fail(error: unknown): void {
    if (this.stopped) return;
    this.stop();
    this.sink.failed(this.id, error instanceof Error ? error : new Error(String(error)));
  }
}
