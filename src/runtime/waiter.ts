import type { Clock, TimerHandle } from './clock.js';
import { AbortedError, TimeoutError } from './errors.js';

/** One caller waiting on a promise the runtime settles later. @internal */
export interface Waiter<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
  /** Whether it was settled already (by a result, a timeout or an abort). */
  readonly settled: boolean;
}

/** How a wait ends if nothing settles it first. */
export interface WaitLimits {
  readonly timeoutMs: number;
  readonly signal: AbortSignal | undefined;
  /** The error for a timeout; default {@link TimeoutError}. */
  readonly onTimeout?: () => Error;
}

/**
 * A promise with its settle functions, a timeout and an abort signal; `done` runs
 * once, however it settles (`resolved` says whether it resolved), so the owner can
 * forget it.
 * @internal
 */
export function createWaiter<T>(
  clock: Clock,
  what: string,
  limits: WaitLimits,
  done: (waiter: Waiter<T>, resolved: boolean) => void,
): { promise: Promise<T>; waiter: Waiter<T> } {
  let resolvePromise!: (value: T) => void;
  let rejectPromise!: (error: unknown) => void;
  const promise = new Promise<T>((resolve, reject) => {
    resolvePromise = resolve;
    rejectPromise = reject;
  });
  let settled = false;
  let timer: TimerHandle | undefined;
  const { signal } = limits;
  const onAbort = (): void => settle(false, () => rejectPromise(new AbortedError(what, { cause: signal?.reason })));
  const settle = (resolved: boolean, action: () => void): void => {
    if (settled) return;
    settled = true;
    if (timer !== undefined) clock.clearTimer(timer);
    signal?.removeEventListener('abort', onAbort);
    action();
    done(waiter, resolved);
  };
  const waiter: Waiter<T> = {
    resolve: (value) => settle(true, () => resolvePromise(value)),
    reject: (error) => settle(false, () => rejectPromise(error)),
    get settled() {
      return settled;
    },
  };
  timer = clock.setTimer(() => settle(false, () => rejectPromise(limits.onTimeout?.() ?? new TimeoutError(what, limits.timeoutMs))), limits.timeoutMs);
  signal?.addEventListener('abort', onAbort, { once: true });
  return { promise, waiter };
}
