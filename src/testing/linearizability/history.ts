/**
 * The history a linearizability check reads: client operations with their real-time
 * bounds and how each one ended.
 */
import { HistoryError } from './history-error.js';

/**
 * How an operation ended.
 *
 * - `ok`: it completed and returned `output`; it took effect exactly once, at some
 *   instant between `invokedAt` and `completedAt`.
 * - `fail`: it definitely did not take effect (the server refused it before doing
 *   anything). The checker drops it.
 * - `info`: the outcome is unknown (a timeout, a lost connection): it may have taken
 *   effect at any instant after `invokedAt`, arbitrarily late, or never. Its response
 *   is treated as arriving at +infinity, so `completedAt` is ignored.
 */
export type Outcome = 'ok' | 'fail' | 'info';

/**
 * One client operation. Times are numbers in any unit (milliseconds, ticks), from
 * one clock the whole history shares. An operation precedes another in real time
 * only when its `completedAt` is strictly less than the other's `invokedAt`; equal
 * times count as concurrent.
 *
 * @example
 * ```ts
 * const write: Operation<KvInput, KvOutput> = {
 *   client: 'c1', key: 'x', input: { op: 'put', value: 'a' },
 *   invokedAt: 0, completedAt: 3, outcome: 'ok', output: { type: 'written', version: 1 },
 * };
 * ```
 */
export interface Operation<I, O> {
  /** Who issued it; only used to describe the history. */
  readonly client: string;
  /** The partition it belongs to: operations on different keys are checked independently. */
  readonly key: string;
  /** What the client asked for, as the model reads it. */
  readonly input: I;
  /** When the client invoked it (inclusive lower bound of its effect). */
  readonly invokedAt: number;
  /** When the client saw it complete; required for `ok` and `fail`, ignored for `info`. */
  readonly completedAt?: number;
  /** How it ended. */
  readonly outcome: Outcome;
  /** What it returned; required for `ok`, ignored otherwise. */
  readonly output?: O;
}

/** A whole history: operations in any order. */
export type History<I, O> = readonly Operation<I, O>[];

/**
 * Throws {@link HistoryError} unless every operation is well formed: finite
 * `invokedAt`; `ok` and `fail` have a `completedAt` no earlier than `invokedAt`; `ok`
 * has an `output`.
 *
 * @example
 * ```ts
 * validateHistory(history); // throws HistoryError naming the operation's index
 * ```
 */
export function validateHistory<I, O>(history: History<I, O>): void {
  history.forEach((operation, index) => {
    if (!Number.isFinite(operation.invokedAt)) throw new HistoryError(index, `invokedAt must be a finite number, got ${operation.invokedAt}`);
    if (operation.outcome === 'info') return;
    const completedAt = operation.completedAt;
    if (completedAt === undefined || !Number.isFinite(completedAt)) {
      throw new HistoryError(index, `an '${operation.outcome}' operation needs a finite completedAt, got ${String(completedAt)}`);
    }
    if (completedAt < operation.invokedAt) throw new HistoryError(index, `completedAt ${completedAt} is before invokedAt ${operation.invokedAt}`);
    if (operation.outcome === 'ok' && operation.output === undefined) throw new HistoryError(index, `an 'ok' operation needs an output`);
  });
}

/**
 * One event as a client sees it: an invocation, or the completion of an invocation
 * named by `id`. An invocation that never completes ends `info`.
 */
export type HistoryEvent<I, O> =
  | { readonly type: 'invoke'; readonly id: string | number; readonly client: string; readonly key: string; readonly input: I; readonly at: number }
  | { readonly type: 'ok'; readonly id: string | number; readonly output: O; readonly at: number }
  | { readonly type: 'fail'; readonly id: string | number; readonly at: number }
  | { readonly type: 'info'; readonly id: string | number };

/**
 * Builds a {@link History} from invoke/complete events, in invocation order. An
 * invocation without a completion becomes `info`. Throws {@link HistoryError} on a
 * duplicate invocation id, a completion of an unknown or already completed id, or a
 * completion earlier than its invocation.
 *
 * @example
 * ```ts
 * const history = historyFromEvents<KvInput, KvOutput>([
 *   { type: 'invoke', id: 1, client: 'c1', key: 'x', input: { op: 'put', value: 'a' }, at: 0 },
 *   { type: 'invoke', id: 2, client: 'c2', key: 'x', input: { op: 'get' }, at: 1 },
 *   { type: 'ok', id: 1, output: { type: 'written', version: 1 }, at: 2 },
 *   // id 2 never completes: it becomes an 'info' operation
 * ]);
 * ```
 */
export function historyFromEvents<I, O>(events: readonly HistoryEvent<I, O>[]): Operation<I, O>[] {
  const open = new Map<string | number, { index: number; operation: Operation<I, O> }>();
  const closed = new Set<string | number>();
  const operations: Operation<I, O>[] = [];
  events.forEach((event, eventIndex) => {
    if (event.type === 'invoke') {
      if (open.has(event.id) || closed.has(event.id)) throw new HistoryError(eventIndex, `invocation id ${String(event.id)} is used twice`);
      const operation: Operation<I, O> = { client: event.client, key: event.key, input: event.input, invokedAt: event.at, outcome: 'info' };
      open.set(event.id, { index: operations.length, operation });
      operations.push(operation);
      return;
    }
    const pending = open.get(event.id);
    if (pending === undefined) throw new HistoryError(eventIndex, `completion of id ${String(event.id)}, which is not an open invocation`);
    open.delete(event.id);
    closed.add(event.id);
    if (event.type === 'info') return;
    if (event.at < pending.operation.invokedAt) {
      throw new HistoryError(eventIndex, `completion of id ${String(event.id)} at ${event.at} is before its invocation at ${pending.operation.invokedAt}`);
    }
    operations[pending.index] =
      event.type === 'ok'
        ? { ...pending.operation, completedAt: event.at, outcome: 'ok', output: event.output }
        : { ...pending.operation, completedAt: event.at, outcome: 'fail' };
  });
  validateHistory(operations);
  return operations;
}
