/**
 * A watch: the changes to a key, a prefix or a range, in revision order, as an async
 * iterator. It reads from the store's history rather than buffering per watcher, so a
 * slow consumer costs no memory and misses nothing, unless compaction passes it (or a
 * split releases keys whose changes it has not read yet: see `releasedUnseen`).
 */
import type { KvStateMachine } from './kv-state-machine.js';
import type { FrozenRange } from './kv-snapshot.js';
import { CompactedError, WrongRangeError } from './errors.js';
import { type KeyBounds, keysWithin, sameBounds } from './key-bounds.js';
import type { KeyRange, WatchEvent } from './kv-types.js';
import type { Watch } from './kv-api.js';

/** Events fetched from history at once. */
const eventsPerFetch = 256;

/** Whether `key` is in `range`. @internal */
export function rangeMatcher(range: KeyRange): (key: string) => boolean {
  if ('key' in range) return (key) => key === range.key;
  if ('prefix' in range) return (key) => key.startsWith(range.prefix);
  return (key) => key >= range.start && key < range.end;
}

/**
 * The changes to a range, from a revision on. Iterate it with `for await`; `close()`
 * (or `break`) ends it. It ends by itself when its node closes. No change is missed or
 * repeated: events come in revision order straight from the replicated history, the
 * same on every replica, across leader changes.
 *
 * @example
 * ```ts
 * const watch = kv.watch({ prefix: 'config/' });
 * for await (const event of watch) console.log(event.type, event.kv.key, event.revision);
 * ```
 */
export class KvWatch implements Watch {
  private buffer: WatchEvent[] = [];
  private at = 0;
  private nextRevision: number;
  private done = false;
  private wake: (() => void) | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly unsubscribe: () => void;
  private readonly matches: (key: string) => boolean;
  /** The machine's releases this watch has checked it missed nothing of. */
  private releasesSeen = 0;

  /** @internal */
  constructor(
    private readonly machine: KvStateMachine,
    private readonly range: KeyRange,
    /** The first revision to report. */
    fromRevision: number,
    private readonly onEnd: (watch: KvWatch) => void,
    /**
     * A sharded watch's part: the range's bounds it was opened on. Once they narrow (a
     * split froze the keys past a point), the part ends with `WrongRangeError` after the
     * last event of the range as it was, so no change to the keys that moved is missed.
     */
    private readonly bounds?: KeyBounds,
  ) {
    this.matches = rangeMatcher(range);
    this.nextRevision = fromRevision;
    this.unsubscribe = machine.onRevision(() => this.poke());
  }

  /** The revision to resume from after the events delivered so far. */
  get resumeRevision(): number {
    return this.at < this.buffer.length ? this.buffer[this.at]!.revision : this.nextRevision;
  }

  /** {@inheritDoc Watch.deliveredThrough} A fetch never splits a revision, so this is exact. */
  get deliveredThrough(): number {
    return this.resumeRevision - 1;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<WatchEvent>> {
    // Calls run one after another, so concurrent next()s get events in order.
    const step = this.queue.then(() => this.step());
    this.queue = step.catch(() => undefined);
    return step;
  }

  return(): Promise<IteratorResult<WatchEvent>> {
    this.close();
    return Promise.resolve({ done: true, value: undefined });
  }

  /** Ends the watch: pending and later `next()` calls report done. */
  close(): void {
    if (this.done) return;
    this.done = true;
    this.unsubscribe();
    this.poke();
    this.onEnd(this);
  }

  /** A release since last checked that took keys this watch had changes of still to read, if any. */
  private releasedUnseen(): FrozenRange | undefined {
    const releases = this.machine.releases;
    for (; this.releasesSeen < releases.length; this.releasesSeen++) {
      const released = releases[this.releasesSeen]!;
      if (released.revision >= this.nextRevision && keysWithin(this.range, released) !== undefined) return released;
    }
    return undefined;
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private async step(): Promise<IteratorResult<WatchEvent>> {
    for (;;) {
      if (this.done) return { done: true, value: undefined };
      if (this.at < this.buffer.length) return { done: false, value: this.buffer[this.at++]! };
      if (this.nextRevision <= this.machine.compactRevision) {
        const error = new CompactedError(this.nextRevision, this.machine.compactRevision);
        this.close();
        throw error;
      }
      const lost = this.releasedUnseen();
      if (lost !== undefined) {
        // A split released keys of this watch before it read their changes: gone, as compacted.
        const error = new CompactedError(
          this.nextRevision,
          lost.revision,
          `watch: revision ${this.nextRevision} is gone for the keys from ${JSON.stringify(lost.start)}, which a split moved to another range at revision ${lost.revision}: read them there, and watch from after that read`,
        );
        this.close();
        throw error;
      }
      if (this.nextRevision <= this.machine.revision) {
        const { events, through } = this.machine.view.events(this.nextRevision, this.machine.revision, this.matches, eventsPerFetch);
        this.buffer = events;
        this.at = 0;
        this.nextRevision = through + 1;
        continue;
      }
      const own = this.machine.keyBounds;
      if (this.bounds !== undefined && !sameBounds(own, this.bounds)) {
        const error = new WrongRangeError('watch', this.bounds.start, own?.start ?? '', own?.end);
        this.close();
        throw error;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}
