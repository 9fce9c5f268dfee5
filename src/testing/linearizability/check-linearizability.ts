/**
 * The linearizability checker: partitions a history by key and searches the keys in
 * turns, each with its own step budget, until one fails or all are done.
 */
import { Budget, type BudgetReason } from './budget.js';
import { explainFailure, type LinearizabilityExplanation } from './explanation.js';
import { type History, type Operation, validateHistory } from './history.js';
import { linearizabilityLimits } from './limits.js';
import type { Model } from './model.js';
import { PartitionSearch } from './search.js';
import { shrinkPartition } from './shrink.js';
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
      /** What ran out first. */
      readonly reason: BudgetReason;
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

/** One key's search, and how it ended. */
interface Partition<S, I, O> {
  readonly key: string;
  readonly operations: Operation<I, O>[];
  search: PartitionSearch<S, I, O> | undefined;
  done: boolean;
  unknown?: BudgetReason;
}

/**
 * Checks that `history` is linearizable with respect to `model`: that every `ok`
 * operation, and any subset of the `info` ones, can be ordered so that each takes
 * effect at one instant inside its real-time interval and the model returns what the
 * client saw. `fail` operations are dropped. Each key is checked on its own
 * (linearizability is local): keys are searched in turns of
 * `linearizabilityLimits.partitionTurnSteps` steps, so a hard key cannot hide a
 * failing one, and the first failure found ends the check. Throws
 * {@link HistoryError} on a malformed history.
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
  let active = partitions;
  while (active.length > 0 && budget.spentOn === undefined) {
    for (const partition of active) {
      partition.search ??= new PartitionSearch(partition.operations, model, budget);
      const search = partition.search;
      const turn = search.run(Math.min(linearizabilityLimits.partitionTurnSteps, partitionStepsMax - search.steps));
      if (turn === 'not-linearizable') {
        for (const other of partitions) other.search?.release();
        const explanation = explain(partition, search, model, budget);
        return failure(partition, explanation, model, budget, options);
      }
      if (turn === 'paused' && budget.spentOn !== undefined) break;
      if (turn === 'paused' && search.steps < partitionStepsMax) continue;
      if (turn !== 'linearizable') partition.unknown = turn === 'memory bound' ? 'memory bound' : 'step budget';
      // Done with this key: its memory goes back to the others.
      search.release();
      partition.search = undefined;
      partition.done = true;
    }
    active = active.filter((partition) => !partition.done);
  }
  for (const partition of active) {
    partition.unknown = budget.spentOn ?? 'step budget';
    partition.search?.release();
  }
  const unknown = partitions.filter((partition) => partition.unknown !== undefined);
  if (unknown.length === 0) return { result: 'linearizable' };
  const reason = budget.spentOn ?? unknown[0]!.unknown!;
  const limit =
    reason === 'time budget'
      ? `the time budget (${options.timeBudgetMs ?? linearizabilityLimits.timeBudgetMsDefault} ms)`
      : reason === 'memory bound'
        ? `the memory bound (memoryBytesMax ${budget.memoryBytesMax} bytes)`
        : budget.spentOn === 'step budget'
          ? `the step budget of the check (stepsMax ${options.stepsMax ?? linearizabilityLimits.stepsMaxDefault})`
          : `the step budget of a key (partitionStepsMax ${partitionStepsMax})`;
  const keys = unknown.map((partition) => partition.key);
  const shown = keys.slice(0, 5).join(', ') + (keys.length > 5 ? `, and ${keys.length - 5} more` : '');
  return {
    result: 'unknown',
    reason,
    keys,
    detail: `${limit} ran out before ${keys.length} of ${partitions.length} keys were finished (${shown}) after ${budget.taken} steps; no key failed`,
  };
}

/**
 * The `ok` and `info` operations of `history` by key, keys in order of first
 * appearance. A loop of its own: the first operation of a shape not seen before (a
 * history built by spreading objects) deoptimizes only this small loop, which V8
 * optimizes again at once, not the whole check.
 */
function partitionByKey<S, I, O>(history: History<I, O>): Partition<S, I, O>[] {
  const byKey = new Map<string, Partition<S, I, O>>();
  for (const operation of history) {
    if (operation.outcome === 'fail') continue;
    const partition = byKey.get(operation.key);
    if (partition === undefined) byKey.set(operation.key, { key: operation.key, operations: [operation], search: undefined, done: false });
    else partition.operations.push(operation);
  }
  return [...byKey.values()];
}

/**
 * Explains a failed key by searching it again, now copying the path and the states
 * where the first search got furthest (until it has `explainStatesMax` of them). The failure costs its search twice; a search
 * that copied at every new furthest point would cost the square of the key's length
 * on every key. If the budget runs out first, the explanation names only the stuck
 * operation.
 */
function explain<S, I, O>(
  partition: Partition<S, I, O>,
  failed: PartitionSearch<S, I, O>,
  model: Model<S, I, O>,
  budget: Budget,
): LinearizabilityExplanation<S, I, O> {
  const again = new PartitionSearch(partition.operations, model, budget, failed.furthestPosition);
  const result = again.run(Number.POSITIVE_INFINITY);
  again.release();
  if (result === 'not-linearizable' || again.explained) return explainFailure(partition.key, partition.operations, model, again.deathPoint());
  return explainFailure(partition.key, partition.operations, model, { stuck: failed.stuckOperation, path: [], states: [] });
}

function failure<S, I, O>(
  partition: Partition<S, I, O>,
  explanation: LinearizabilityExplanation<S, I, O>,
  model: Model<S, I, O>,
  budget: Budget,
  options: LinearizabilityOptions,
): LinearizabilityVerdict<I, O, S> {
  const { key, operations } = partition;
  if (options.shrink === false) return { result: 'not-linearizable', key, minimal: operations, shrinkComplete: false, explanation };
  // The operations invoked by the time `stuck` completed already fail: the search never
  // reaches a later call before lifting `stuck`, so it dies there the same way. Shrinking
  // starts from them, not from the whole key.
  const cut = explanation.stuck.completedAt!;
  const shrunk = shrinkPartition(
    operations.filter((operation) => operation.invokedAt <= cut),
    model,
    budget,
  );
  return { result: 'not-linearizable', key, minimal: shrunk.operations, shrinkComplete: shrunk.complete, explanation };
}
