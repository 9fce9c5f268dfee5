import { ConfigError } from '../core/index.js';
import { assert } from '../core/assert.js';
import type { Clock, TimerHandle } from '../runtime/index.js';

/** A timer waiting in a {@link VirtualClock}'s queue. */
interface VirtualTimer {
  readonly due: number;
  /** Insertion order: timers due at the same time fire in the order they were set. */
  readonly order: number;
  readonly callback: () => void;
  readonly owner: VirtualClockView | undefined;
  cancelled: boolean;
}

/** How to build a {@link VirtualClock}. */
export interface VirtualClockOptions {
  /** What `wallTime()` reads at virtual time 0, in ms since the epoch. Default 1,700,000,000,000 (November 2023). */
  readonly epochMs?: number;
  /**
   * Most timers fired by one `advance()` or `runUntil()` before it gives up with an
   * error: a guard against a runaway timer loop (a timer that re-arms itself at 0 ms).
   * Default 10,000,000.
   */
  readonly firesMax?: number;
}

const defaultEpochMs = 1_700_000_000_000;

/**
 * Lets every promise chain that is ready run to its end: one macrotask turn, before
 * which Node (and browsers) drain the whole microtask queue, including the microtasks
 * those microtasks queue. The runtime's chains (a persist's `then`, a drain queued
 * with `queueMicrotask`) are microtasks, so one turn settles them all.
 *
 * @example
 * ```ts
 * let done = false;
 * void Promise.resolve().then(() => Promise.resolve()).then(() => (done = true));
 * await settlePromises(); // done === true
 * ```
 */
export function settlePromises(): Promise<void> {
  return new Promise<void>((resolve) => {
    if (typeof setImmediate === 'function') setImmediate(resolve);
    else setTimeout(resolve, 0);
  });
}

/**
 * Virtual time for the runtime: a {@link Clock} whose milliseconds pass only when the
 * test says so. Timers wait in a queue ordered by due time, then by the order they
 * were set; `advance(ms)` fires the due ones one at a time and, after each, lets
 * every promise chain it started settle, so a simulated node runs exactly as it would
 * on the real clock, only deterministically and as fast as the CPU allows.
 *
 * `child()` hands out views that tag their timers: a crashed node's view is disposed,
 * which drops every timer it set (its ticks, its proposals' timeouts) at once.
 *
 * @example
 * ```ts
 * const clock = new VirtualClock();
 * const node = createNode({ ...options, clock: clock.child() });
 * await node.start();
 * await clock.advance(1_000); // one virtual second: elections, heartbeats, timeouts
 * ```
 */
export class VirtualClock implements Clock {
  private time = 0;
  private sequence = 0;
  /** A binary min-heap on (due, order); cancelled timers are dropped lazily. */
  private heap: VirtualTimer[] = [];
  private live = 0;
  private readonly epochMs: number;
  private readonly firesMax: number;

  constructor(options: VirtualClockOptions = {}) {
    this.epochMs = options.epochMs ?? defaultEpochMs;
    this.firesMax = options.firesMax ?? 10_000_000;
    if (!Number.isFinite(this.epochMs)) throw new ConfigError('VirtualClock', 'epochMs', 'must be a finite number of milliseconds');
    if (!Number.isSafeInteger(this.firesMax) || this.firesMax < 1) throw new ConfigError('VirtualClock', 'firesMax', 'must be a positive integer');
  }

  /** Virtual milliseconds since the clock was made. */
  now(): number {
    return this.time;
  }

  /** The fixed epoch plus the virtual time: what a leader stamps commands with. */
  wallTime(): number {
    return this.epochMs + this.time;
  }

  /** Calls `callback` once, `ms` virtual milliseconds from now (a negative or NaN delay counts as 0, as with `setTimeout`). */
  setTimer(callback: () => void, ms: number): TimerHandle {
    return this.add(callback, ms, undefined);
  }

  /** Cancels a timer set by this clock or one of its views; harmless if it ran or was cancelled already. */
  clearTimer(handle: TimerHandle): void {
    if (!isTimer(handle) || handle.cancelled) return;
    handle.cancelled = true;
    this.live--;
    this.compact();
  }

  /** A view of this clock whose timers can all be dropped at once with `dispose()`. */
  child(): VirtualClockView {
    return new VirtualClockView(this);
  }

  /** Timers waiting to fire. */
  get pendingTimers(): number {
    return this.live;
  }

  /** When the next timer is due, or undefined when none waits. */
  get nextDue(): number | undefined {
    return this.peek()?.due;
  }

  /**
   * Moves time forward by `ms`, firing every timer due meanwhile in (due time, order
   * set) order, each followed by {@link settlePromises}. Timers set by a callback fire
   * too if they fall due within the window. Time ends exactly `ms` later.
   */
  async advance(ms: number): Promise<void> {
    if (!Number.isFinite(ms) || ms < 0) throw new ConfigError('VirtualClock.advance', 'ms', `must be a finite, non-negative number, got ${ms}`);
    const end = this.time + ms;
    await this.fireUntil(end, undefined);
    assert(this.time <= end, `virtual time ran past the window: ${this.time} > ${end}`);
    this.time = end;
  }

  /**
   * Fires timers in order until `done()` holds (checked before each timer and after the
   * last) or `msMax` milliseconds passed; returns whether `done()` holds. Time stops at
   * the timer that made `done()` true, or at `msMax`.
   */
  async runUntil(done: () => boolean, msMax: number): Promise<boolean> {
    if (!Number.isFinite(msMax) || msMax < 0) throw new ConfigError('VirtualClock.runUntil', 'msMax', `must be a finite, non-negative number, got ${msMax}`);
    const end = this.time + msMax;
    await settlePromises();
    if (done()) return true;
    if (await this.fireUntil(end, done)) return true;
    this.time = end;
    return done();
  }

  /** Drops every timer `owner` set. @internal */
  disposeOwner(owner: VirtualClockView): void {
    for (const t of this.heap) {
      if (t.owner === owner && !t.cancelled) {
        t.cancelled = true;
        this.live--;
      }
    }
    this.compact();
  }

  /** @internal */
  add(callback: () => void, ms: number, owner: VirtualClockView | undefined): TimerHandle {
    if (typeof callback !== 'function') throw new ConfigError('VirtualClock.setTimer', 'callback', 'must be a function');
    const delay = Number.isNaN(ms) ? 0 : Math.max(0, ms);
    if (!Number.isFinite(delay)) throw new ConfigError('VirtualClock.setTimer', 'ms', 'must be finite');
    const timer: VirtualTimer = { due: this.time + delay, order: this.sequence++, callback, owner, cancelled: false };
    this.push(timer);
    this.live++;
    return timer;
  }

  /** Fires due timers up to `end`; returns true as soon as `done` holds. */
  private async fireUntil(end: number, done: (() => boolean) | undefined): Promise<boolean> {
    await settlePromises();
    let fires = 0;
    for (;;) {
      if (done?.() === true) return true;
      const next = this.peek();
      if (next === undefined || next.due > end) return false;
      this.pop();
      next.cancelled = true;
      this.live--;
      assert(next.due >= this.time, `timer due at ${next.due} fires after time ${this.time}`);
      this.time = next.due;
      if (++fires > this.firesMax)
        throw new ConfigError('VirtualClock', 'firesMax', `was exceeded: ${this.firesMax} timers fired in one advance (a timer loop?)`);
      next.callback();
      await settlePromises();
    }
  }

  private peek(): VirtualTimer | undefined {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
    return this.heap[0];
  }

  /** Rebuilds the heap when cancelled timers outnumber live ones: timeouts are mostly cleared, not fired. */
  private compact(): void {
    if (this.heap.length < 64 || this.heap.length < 2 * this.live) return;
    const kept = this.heap.filter((t) => !t.cancelled);
    this.heap = [];
    for (const t of kept) this.push(t);
    assert(this.heap.length === this.live, `timer count ${this.live} disagrees with the queue's ${this.heap.length}`);
  }

  private push(timer: VirtualTimer): void {
    const h = this.heap;
    h.push(timer);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop();
    if (last === undefined || h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let least = i;
      if (left < h.length && before(h[left]!, h[least]!)) least = left;
      if (right < h.length && before(h[right]!, h[least]!)) least = right;
      if (least === i) return;
      [h[i], h[least]] = [h[least]!, h[i]!];
      i = least;
    }
  }
}

/**
 * One owner's window on a {@link VirtualClock}: the same queue, but the timers it sets
 * can all be dropped with {@link VirtualClockView.dispose}, as a process's timers die
 * with it. After `dispose()`, new timers are ignored (they never fire).
 *
 * A view can also run slow, like a drifting clock: with `slowdown` 3, its `now()`
 * advances a third as fast as the shared time and its timers wait three times as
 * long, so its node's ticks, timeouts and timestamps all lag. And its wall clock can
 * be stepped, as an NTP step or an operator's `date -s` steps a machine's:
 * {@link VirtualClockView.stepWallTime} moves `wallTime()` only.
 *
 * @example
 * ```ts
 * const view = clock.child();
 * view.setTimer(() => console.log('never'), 10);
 * view.dispose(); // the node crashed
 * await clock.advance(20); // nothing fires
 * ```
 */
export class VirtualClockView implements Clock {
  private disposed = false;
  private factor = 1;
  /** What {@link stepWallTime} added to the wall clock, in ms. */
  private wallStepMs = 0;
  /** Shared time and view time when `slowdown` last changed: the view's time continues from there. */
  private anchor: { shared: number; local: number };

  constructor(private readonly clock: VirtualClock) {
    this.anchor = { shared: clock.now(), local: clock.now() };
  }

  /** This view's time: the shared time, slowed down since `slowdown` was set. Never goes back. */
  now(): number {
    return this.anchor.local + (this.clock.now() - this.anchor.shared) / this.factor;
  }

  /** The clock's epoch plus this view's time, plus every {@link stepWallTime} so far. */
  wallTime(): number {
    return this.clock.wallTime() - this.clock.now() + this.now() + this.wallStepMs;
  }

  /**
   * Steps this view's wall clock by `ms` (negative: back), at once, as an NTP step or
   * `date -s` does: `wallTime()` jumps, while `now()` (the monotonic clock) and the
   * timers go on as before.
   */
  stepWallTime(ms: number): void {
    if (!Number.isFinite(ms)) throw new ConfigError('VirtualClockView.stepWallTime', 'ms', `must be a finite number of milliseconds, got ${ms}`);
    this.wallStepMs += ms;
  }

  /** The sum of the steps given to {@link stepWallTime}, in ms (0: in step with the shared clock). */
  get wallStep(): number {
    return this.wallStepMs;
  }

  /** How many times slower than the shared clock this view runs (1, the default, is in step). Applies to timers set from now on. */
  get slowdown(): number {
    return this.factor;
  }

  set slowdown(factor: number) {
    if (!Number.isFinite(factor) || factor < 1) throw new ConfigError('VirtualClockView', 'slowdown', `must be a number >= 1, got ${factor}`);
    this.anchor = { shared: this.clock.now(), local: this.now() };
    this.factor = factor;
  }

  /** Sets a timer owned by this view, `ms` of this view's milliseconds away; a no-op handle once disposed. */
  setTimer(callback: () => void, ms: number): TimerHandle {
    if (this.disposed) return deadHandle;
    return this.clock.add(callback, ms * this.factor, this);
  }

  /** Cancels a timer. */
  clearTimer(handle: TimerHandle): void {
    this.clock.clearTimer(handle);
  }

  /** Drops every timer this view set, and ignores later ones. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.clock.disposeOwner(this);
  }

  /** Whether {@link dispose} was called. */
  get isDisposed(): boolean {
    return this.disposed;
  }
}

const deadHandle = Object.freeze({ dead: true });

function isTimer(handle: TimerHandle): handle is VirtualTimer {
  return typeof handle === 'object' && handle !== null && 'due' in handle && 'callback' in handle;
}

function before(a: VirtualTimer, b: VirtualTimer): boolean {
  return a.due < b.due || (a.due === b.due && a.order < b.order);
}
