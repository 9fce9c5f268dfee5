/**
 * What a watch through a KV server does whatever it watches: it buffers the events its
 * subscription brings until the consumer takes them, pauses the subscription (drops it,
 * to subscribe again from where delivery stands) when a slow consumer leaves too many
 * unread, subscribes again after a reconnect, and ends with its subscription's error.
 */
import type { WatchEvent } from '../kv-types.js';

/** Events buffered for a slow consumer before the subscription pauses. */
const bufferedMax = 10_000;

/** How a watch drops its subscription and says it ended. @internal */
export interface SubscriptionLink {
  unsubscribe(id: number): void;
}

/** @internal */
export abstract class BufferedWatch<E extends WatchEvent> implements AsyncIterableIterator<E> {
  /** Events taken from the subscription, from `at` on not yet handed out. */
  protected buffer: E[] = [];
  protected at = 0;
  protected subscription: number | undefined;
  private paused = false;
  private done = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  protected constructor(private readonly unsubscribeLink: SubscriptionLink) {}

  /** Subscribes again from where delivery stands; returns the subscription's id. */
  protected abstract subscribe(): number;

  /** The watch ended for good: its client forgets it. */
  protected abstract ended(): void;

  /** The id of the live subscription, if any. @internal */
  get subscriptionId(): number | undefined {
    return this.subscription;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async next(): Promise<IteratorResult<E>> {
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

  return(): Promise<IteratorResult<E>> {
    this.close();
    return Promise.resolve({ done: true, value: undefined });
  }

  close(): void {
    if (this.done) return;
    this.done = true;
    if (this.subscription !== undefined) this.unsubscribeLink.unsubscribe(this.subscription);
    this.subscription = undefined;
    this.ended();
    this.poke();
  }

  /** Subscription `id` ended with `error` (compaction, a refusal): the watch fails. @internal */
  failed(id: number, error: Error): void {
    if (id !== this.subscription) return;
    this.subscription = undefined;
    this.failure = error;
    this.done = true;
    this.ended();
    this.poke();
  }

  /** The connection was lost: subscribe again on the next one, from where delivery stands. @internal */
  reconnected(): void {
    if (this.done || this.paused) return;
    this.subscription = this.subscribe();
  }

  /** Whether events of subscription `id` are to be taken now. */
  protected live(id: number): boolean {
    return id === this.subscription && !this.done;
  }

  /** Events were added to the buffer: wake the consumer, and pause the subscription if too many wait. */
  protected added(id: number): void {
    if (this.buffer.length - this.at > bufferedMax && !this.paused) {
      this.paused = true;
      this.unsubscribeLink.unsubscribe(id);
      this.subscription = undefined;
    }
    this.poke();
  }

  private unpause(): void {
    if (!this.paused || this.done) return;
    this.paused = false;
    this.subscription = this.subscribe();
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
