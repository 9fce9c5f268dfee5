/** A timer a {@link Clock} set; only the clock that made it knows what it is. */
export type TimerHandle = unknown;

/**
 * Time as the runtime sees it: a reading in milliseconds, and one-shot timers. The
 * default reads `performance.now()` and uses `setTimeout`; the testing kit's
 * simulator passes a virtual clock, so a simulated node runs the same code.
 */
export interface Clock {
  /** Milliseconds since an arbitrary origin; never goes back, and is never stepped: what every timeout and deadline is measured on. */
  now(): number;
  /** Calls `callback` once, after `ms` milliseconds. */
  setTimer(callback: () => void, ms: number): TimerHandle;
  /** Cancels a timer; harmless if it already ran. */
  clearTimer(handle: TimerHandle): void;
  /**
   * Wall-clock time in milliseconds since the epoch: a request's `createdAt`, and a
   * leader's command timestamps (held within 5% of elapsed time by `now()`). It may
   * jump either way: nothing decides a deadline by it.
   */
  wallTime(): number;
  /**
   * Calls `callback` soon, after pending I/O, without the 1 ms floor of a zero-delay
   * timer (`setImmediate` on Node, a MessageChannel task in a browser). Optional:
   * where missing, a zero-delay timer is used.
   */
  defer?(callback: () => void): void;
}

/**
 * Resolves on a later turn of the event loop, after pending I/O (see {@link Clock.defer}):
 * long work awaits it between steps. @internal
 */
export function nextTurn(clock: Clock): Promise<void> {
  return new Promise<void>((resolve) => {
    if (clock.defer !== undefined) clock.defer(resolve);
    else clock.setTimer(resolve, 0);
  });
}

/**
 * Runs callbacks soon, after pending I/O: `setImmediate` on Node; in a browser (which
 * has none) a MessageChannel task, since browsers clamp nested zero-delay timers to
 * 4 ms; a zero-delay timer where neither exists.
 */
function immediateScheduler(): (callback: () => void) => void {
  if (typeof setImmediate === 'function') return (callback) => void setImmediate(callback);
  if (typeof MessageChannel !== 'function') return (callback) => void setTimeout(callback, 0);
  const queue: Array<() => void> = [];
  const channel = new MessageChannel();
  // One message per callback, so callbacks run one per task, in order.
  channel.port1.addEventListener('message', () => queue.shift()?.());
  channel.port1.start();
  return (callback) => {
    queue.push(callback);
    channel.port2.postMessage(undefined);
  };
}

/**
 * The real clock: `performance.now()`, `setTimeout`, `Date.now()`, and `setImmediate`
 * where there is one (see {@link Clock.defer}), so it runs in a browser as on Node.
 */
export const systemClock: Clock = Object.freeze({
  defer: immediateScheduler(),
  now: () => performance.now(),
  setTimer: (callback: () => void, ms: number): TimerHandle => setTimeout(callback, ms),
  clearTimer: (handle: TimerHandle): void => clearTimeout(handle as ReturnType<typeof setTimeout>),
  wallTime: () => Date.now(),
});
