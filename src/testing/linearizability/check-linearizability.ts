/**
 * The linearizability checker: partitions a history by key and searches each key.
 */
import { Budget, type BudgetReason } from './budget.js';
import { type History, type Operation, validateHistory } from './history.js';
import { linearizabilityLimits } from './limits.js';
import type { Model } from './model.js';
import { searchPartition } from './search.js';
import { shrinkPartition } from './shrink.js';

/**
 * The checker's answer. `unknown` means the budget ran out: a check never answers
 * `linearizable` without finishing.
 */
export type LinearizabilityVerdict<I, O> =
  | { readonly result: 'linearizable' }
  | {
      readonly result: 'not-linearizable';
      /** The first key (in order of first appearance) whose operations cannot be linearized. */
      readonly key: string;
      /**
       * A failing sub-history of that key's `ok` and `info` operations, in their
       * original order: non-linearizable, and (when `shrinkComplete`) 1-minimal:
       * removing any one operation makes it linearizable.
       */
      readonly minimal: History<I, O>;
      /** False when the budget (or `shrink: false`) stopped shrinking early. */
      readonly shrinkComplete: boolean;
    }
  | { readonly result: 'unknown'; readonly reason: BudgetReason };

/** Options of {@link checkLinearizability}. */
export interface LinearizabilityOptions {
  /** Wall-clock budget for the whole check, search and shrinking, in milliseconds. Default 10,000. */
  readonly timeBudgetMs?: number;
  /** Budget of search steps for the whole check, search and shrinking. Default 10^9. */
  readonly stepsMax?: number;
  /** Whether to shrink a failing key to a minimal sub-history. Default true. */
  readonly shrink?: boolean;
  /** The clock the time budget reads, in milliseconds. Default `performance.now`. */
  readonly now?: () => number;
}

/**
 * Checks that `history` is linearizable with respect to `model`: that every `ok`
 * operation, and any subset of the `info` ones, can be ordered so that each takes
 * effect at one instant inside its real-time interval and the model returns what the
 * client saw. `fail` operations are dropped. Each key is checked on its own; the
 * budget is shared. Throws {@link HistoryError} on a malformed history.
 *
 * @example
 * ```ts
 * const verdict = checkLinearizability(history, versionedKvModel, { timeBudgetMs: 1_000 });
 * if (verdict.result === 'not-linearizable') console.log(verdict.key, verdict.minimal);
 * else if (verdict.result === 'unknown') console.log('gave up:', verdict.reason);
 * ```
 */
export function checkLinearizability<S, I, O>(
  history: History<I, O>,
  model: Model<S, I, O>,
  options: LinearizabilityOptions = {},
): LinearizabilityVerdict<I, O> {
  validateHistory(history);
  const budget = new Budget(
    options.timeBudgetMs ?? linearizabilityLimits.timeBudgetMsDefault,
    options.stepsMax ?? linearizabilityLimits.stepsMaxDefault,
    options.now ?? (() => performance.now()),
  );
  const partitions = new Map<string, Operation<I, O>[]>();
  for (const operation of history) {
    if (operation.outcome === 'fail') continue;
    const partition = partitions.get(operation.key);
    if (partition === undefined) partitions.set(operation.key, [operation]);
    else partition.push(operation);
  }
  for (const [key, operations] of partitions) {
    const result = searchPartition(operations, model, budget);
    if (result === 'unknown') return { result: 'unknown', reason: budget.spentOn ?? 'step budget' };
    if (result === 'linearizable') continue;
    if (options.shrink === false) return { result: 'not-linearizable', key, minimal: operations, shrinkComplete: false };
    const shrunk = shrinkPartition(operations, model, budget);
    return { result: 'not-linearizable', key, minimal: shrunk.operations, shrinkComplete: shrunk.complete };
  }
  return { result: 'linearizable' };
}
