import { ConfigError } from '../core/index.js';
import type { Clock, TimerHandle } from './clock.js';
import { AbortedError, TimeoutError } from './errors.js';

/** How a wait ends if nothing settles it first. */
export interface WaitLimits {
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
  /** The error for a timeout; default {@link TimeoutError}. */
  readonly onTimeout?: () => Error;
  /**
   * Whether the waiter sets its own timer (default). Without one, its owner must call
   * {@link Waiter.expire} once `deadline` passed: the node does it on its ticks, which
   * saves a timer per proposal.
   */
  readonly timer?: boolean;
}

/**
 * One caller waiting on a promise the runtime settles later, with a timeout and an
 * abort signal; `done` runs once, however it settles (`resolved` says whether it
 * resolved), so the owner can forget it. A class with plain fields: one is made per
 * proposal, on the hot path.
 * @internal
 */
export class Waiter<T> {
  readonly promise: Promise<T>;
  /** When the wait times out, on the clock's `now()`. */
  readonly deadline: number;
  settled = false;
  private resolvePromise!: (value: T) => void;
  private rejectPromise!: (error: unknown) => void;
  private timer: TimerHandle | undefined;
  private readonly onAbort: (() => void) | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly what: string,
    private readonly limits: WaitLimits,
    private readonly done: (waiter: Waiter<T>, resolved: boolean) => void,
  ) {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolvePromise = resolve;
      this.rejectPromise = reject;
    });
    this.deadline = clock.now() + limits.timeoutMs;
    if (limits.timer !== false) this.timer = clock.setTimer(() => this.expire(), limits.timeoutMs);
    const { signal } = limits;
    if (signal !== undefined) {
      this.onAbort = () => this.reject(new AbortedError(what, { cause: signal.reason }));
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  resolve(value: T): void {
    if (this.finish(true)) this.resolvePromise(value);
  }

  reject(error: unknown): void {
    if (this.finish(false)) this.rejectPromise(error);
  }

  /** The deadline passed: reject with a timeout. */
  expire(): void {
    this.reject(this.limits.onTimeout?.() ?? new TimeoutError(this.what, this.limits.timeoutMs));
  }

  private finish(resolved: boolean): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    if (this.onAbort !== undefined) this.limits.signal?.removeEventListener('abort', this.onAbort);
    this.done(this, resolved);
    return true;
  }
}

/** A waiter and its promise. @internal */
export function createWaiter<T>(
  clock: Clock,
  what: string,
  limits: WaitLimits,
  done: (waiter: Waiter<T>, resolved: boolean) => void,
): { promise: Promise<T>; waiter: Waiter<T> } {
  const waiter = new Waiter<T>(clock, what, limits, done);
  return { promise: waiter.promise, waiter };
}

/**
 * The timeout of one wait: `given` if the caller set one (a positive number of
 * milliseconds, or a {@link ConfigError} naming `api`), else `fallback`.
 * @internal
 */
export function waitTimeoutMs(api: string, given: number | undefined, fallback: number): number {
  if (given === undefined) return fallback;
  if (typeof given !== 'number' || !Number.isFinite(given) || given <= 0) throw new ConfigError(api, 'timeoutMs', 'must be a positive number of milliseconds');
  return given;
}
