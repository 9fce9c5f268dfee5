/**
 * A watch through a KV server. The client remembers the revision it must resume from
 * (everything through it was delivered), so after a lost connection, a server
 * failover or a pause for a slow consumer, it asks again from there: no event missed,
 * none repeated.
 */
import type { Watch } from '../kv-api.js';
import type { KeyRange, WatchEvent } from '../kv-types.js';
import { RevisionCursor } from './revision-cursor.js';

/** What a remote watch asks of its client. @internal */
export interface WatchLink {
  /** Subscribes (again) from `fromRevision` (0: after the server's revision as it receives the watch); returns the subscription's id. */
  subscribe(watch: RemoteWatch, fromRevision: number): number;
  /** Drops the subscription `id`. */
  unsubscribe(id: number): void;
  /** The watch ended for good. */
  closed(watch: RemoteWatch): void;
}

/** Events buffered for a slow consumer before the subscription pauses. */
const bufferedMax = 10_000;

/** @internal */
export class RemoteWatch implements Watch {
  private buffer: WatchEvent[] = [];
  private at = 0;
  /** Where delivery stands: the next revision, 0 until the server says where the watch starts. */
  private readonly cursor: RevisionCursor;
  private subscription: number | undefined;
  private paused = false;
  private done = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(
    readonly range: KeyRange,
    fromRevision: number | undefined,
    private readonly link: WatchLink,
  ) {
    this.cursor = new RevisionCursor(fromRevision ?? 0);
    this.subscription = this.subscribe();
  }

  /**
   * {@inheritDoc Watch.deliveredThrough} The server's frames say through which revision
   * they are complete; a revision cut across frames counts only once its last frame came.
   */
  get deliveredThrough(): number {
    const complete = Math.max(0, this.cursor.resume - 1);
    return this.at < this.buffer.length ? Math.min(complete, this.buffer[this.at]!.revision - 1) : complete;
  }

  /** The id of the live subscription, if any. */
  get subscriptionId(): number | undefined {
    return this.subscription;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<WatchEvent>> {
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

  return(): Promise<IteratorResult<WatchEvent>> {
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

  /** The server said subscription `id` starts at `fromRevision`. */
  started(id: number, fromRevision: number): void {
    if (id !== this.subscription) return;
    if (this.cursor.resume === 0) this.cursor.resume = fromRevision;
  }

  /** Events of subscription `id`, complete through `through`. */
  events(id: number, events: readonly WatchEvent[], through: number): void {
    if (id !== this.subscription || this.done) return;
    for (const e of this.cursor.take(events, through)) this.buffer.push(e);
    if (this.buffer.length - this.at > bufferedMax && !this.paused) {
      this.paused = true;
      this.link.unsubscribe(id);
      this.subscription = undefined;
    }
    this.poke();
  }

  /** Subscription `id` ended with `error` (compaction, a refusal): the watch fails. */
  failed(id: number, error: Error): void {
    if (id !== this.subscription) return;
    this.subscription = undefined;
    this.failure = error;
    this.done = true;
    this.link.closed(this);
    this.poke();
  }

  /** The connection was lost: subscribe again on the next one, from where delivery stands. */
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
    this.cursor.resubscribed();
    return this.link.subscribe(this, this.cursor.resume);
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
