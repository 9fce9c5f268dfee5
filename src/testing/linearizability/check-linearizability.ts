/**
 * The linearizability checker: partitions a history by key and searches the keys in
 * turns, each with its own step budget, until one fails or all are done.
 */
import { Budget, type UnknownReason } from './budget.js';
import type { LinearizabilityExplanation } from './explanation.js';
import { type History, validateHistory } from './history.js';
import { linearizabilityLimits } from './limits.js';
import type { Model } from './model.js';
import { failure, type Partition, partitionByKey, searchInTurns } from './partition-turns.js';
import { writeVisualization } from './visualization.js';

/**
 * The checker's answer. `unknown` means a budget ran out: a check never answers
 * `linearizable` without finishing every key.
 */
export type LinearizabilityVerdict<I, O, S = unknown> =
  | { readonly result: 'linearizable' }
  | {
      readonly result: 'not-linearizable';
      /** The first key found whose operations cannot be linearized. */
      readonly key: string;
      /**
       * A failing sub-history of that key's `ok` and `info` operations, in their
       * original order: non-linearizable, and (when `shrinkComplete`) 1-minimal:
       * removing any one operation makes it linearizable.
       */
      readonly minimal: History<I, O>;
      /** False when the budget (or `shrink: false`) stopped shrinking early. */
      readonly shrinkComplete: boolean;
      /** Where and why every linearization of that key dies, in the whole history. */
      readonly explanation: LinearizabilityExplanation<S, I, O>;
    }
  | {
      readonly result: 'unknown';
      /** What ran out first, or 'worker failed' (only from `checkLinearizabilityInParallel`). */
      readonly reason: UnknownReason;
      /** The keys not finished, in order of first appearance. Every other key is linearizable. */
      readonly keys: readonly string[];
      /** A sentence for a person: what ran out, where, and how much was used. */
      readonly detail: string;
    };

/** Options of {@link checkLinearizability}. */
export interface LinearizabilityOptions {
  /** Wall-clock budget for the whole check, search and shrinking, in milliseconds. Default 10,000. */
  readonly timeBudgetMs?: number;
  /** Budget of search steps for the whole check, search and shrinking. Default 10^9. */
  readonly stepsMax?: number;
  /**
   * Budget of search steps of each key: a key that spends it ends `unknown` while
   * the others go on. Default 10^9.
   */
  readonly partitionStepsMax?: number;
  /**
   * Bound on the memory the searches hold at once (memos and interned states), in
   * bytes: a key whose search would pass it ends `unknown` ('memory bound') and gives
   * its memory back, and the others go on. Default 512 MiB
   * (`linearizabilityLimits.memoryBytesMaxDefault`).
   */
  readonly memoryBytesMax?: number;
  /** Whether to shrink a failing key to a minimal sub-history. Default true. */
  readonly shrink?: boolean;
  /** The clock the time budget reads, in milliseconds. Default `performance.now`. */
  readonly now?: () => number;
  /**
   * A file to write an HTML picture of the history to (see
   * `renderLinearizabilityHtml`): every operation on its client's line, the failing
   * key's partial linearization that got furthest, the operation no linearization
   * gets past and the window around it. Written whatever the verdict. Needs Node
   * 20.16 or later; default none.
   */
  readonly visualize?: string;
}

/**
 * Checks that `history` is linearizable with respect to `model`: that every `ok`
 * operation, and any subset of the `info` ones, can be ordered so that each takes
 * effect at one instant inside its real-time interval and the model returns what the
 * client saw. `fail` operations are dropped. Each key is checked on its own
 * (linearizability is local): keys are searched in turns of
 * `linearizabilityLimits.partitionTurnSteps` steps, so a hard key cannot hide a
 * failing one, and the first failure found ends the check. Throws
 * {@link HistoryError} on a malformed history. `checkLinearizabilityInParallel` checks
 * the keys on worker threads and answers the same.
 *
 * @example
 * ```ts
 * const verdict = checkLinearizability(history, versionedKvModel, { timeBudgetMs: 1_000 });
 * if (verdict.result === 'not-linearizable') console.log(verdict.explanation.text);
 * else if (verdict.result === 'unknown') console.log('gave up:', verdict.detail);
 * ```
 */
export function checkLinearizability<S, I, O>(
  history: History<I, O>,
  model: Model<S, I, O>,
  options: LinearizabilityOptions = {},
): LinearizabilityVerdict<I, O, S> {
  validateHistory(history);
  const verdict = check(history, model, options);
  if (options.visualize !== undefined) writeVisualization(options.visualize, history, verdict);
  return verdict;
}

function check<S, I, O>(history: History<I, O>, model: Model<S, I, O>, options: LinearizabilityOptions): LinearizabilityVerdict<I, O, S> {
  const budget = new Budget(
    options.timeBudgetMs ?? linearizabilityLimits.timeBudgetMsDefault,
    options.stepsMax ?? linearizabilityLimits.stepsMaxDefault,
    options.now ?? (() => performance.now()),
    options.memoryBytesMax ?? linearizabilityLimits.memoryBytesMaxDefault,
  );
  const partitionStepsMax = options.partitionStepsMax ?? linearizabilityLimits.stepsMaxDefault;
  const partitions = partitionByKey<S, I, O>(history);
  let next = 0;
  const failed = searchInTurns(
    () => partitions[next++],
    true,
    model,
    budget,
    partitionStepsMax,
    () => {},
  );
  if (failed !== undefined) return { result: 'not-linearizable', ...failure(failed, model, budget, options.shrink !== false) };
  return verdictOfPartitions(partitions, budget, options);
}

/** The verdict once no key failed: linearizable, or which keys `budget` left unknown and why. @internal */
export function verdictOfPartitions<S, I, O>(
  partitions: readonly Partition<S, I, O>[],
  budget: Budget,
  options: LinearizabilityOptions,
): LinearizabilityVerdict<I, O, S> {
  const unknown = partitions.filter((partition) => partition.unknown !== undefined);
  if (unknown.length === 0) return { result: 'linearizable' };
  const reason = budget.spentOn ?? unknown[0]!.unknown!;
  return unknownVerdict(
    reason,
    { checkWide: budget.spentOn !== undefined, memoryBytesMax: `${budget.memoryBytesMax} bytes` },
    unknown,
    partitions.length,
    budget.taken,
    options,
  );
}

/** How an `unknown` verdict came about, for its `detail`. @internal */
export interface UnknownCause {
  /** Whether the whole check's budget ran out (not one key's). */
  readonly checkWide: boolean;
  /** The memory bound as the detail states it. */
  readonly memoryBytesMax: string;
  /** What a failed worker thread said, if one failed. */
  readonly workerFailure?: string;
}

/** The `unknown` verdict for the keys in `unknown` (in order of first appearance). @internal */
export function unknownVerdict<I, O, S>(
  reason: UnknownReason,
  cause: UnknownCause,
  unknown: readonly { readonly key: string }[],
  partitionCount: number,
  steps: number,
  options: LinearizabilityOptions,
): LinearizabilityVerdict<I, O, S> {
  const what =
    reason === 'worker failed'
      ? `a worker thread failed (${cause.workerFailure ?? 'no error given'})`
      : reason === 'time budget'
        ? `the time budget (${options.timeBudgetMs ?? linearizabilityLimits.timeBudgetMsDefault} ms) ran out`
        : reason === 'memory bound'
          ? `the memory bound (memoryBytesMax ${cause.memoryBytesMax}) ran out`
          : cause.checkWide
            ? `the step budget of the check (stepsMax ${options.stepsMax ?? linearizabilityLimits.stepsMaxDefault}) ran out`
            : `the step budget of a key (partitionStepsMax ${options.partitionStepsMax ?? linearizabilityLimits.stepsMaxDefault}) ran out`;
  const also = reason !== 'worker failed' && cause.workerFailure !== undefined ? `; a worker thread failed too (${cause.workerFailure})` : '';
  const keys = unknown.map((partition) => partition.key);
  const shown = keys.slice(0, 5).join(', ') + (keys.length > 5 ? `, and ${keys.length - 5} more` : '');
  return {
    result: 'unknown',
    reason,
    keys,
    detail: `${what} before ${keys.length} of ${partitionCount} keys were finished (${shown}) after ${steps} steps${also}; no key failed`,
  };
}
