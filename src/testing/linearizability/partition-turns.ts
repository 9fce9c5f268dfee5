/**
 * Searching many keys in turns, and reporting the first that fails: the loop the
 * checker runs in its own thread and each of its worker threads runs on its share.
 */
import { assert } from '../../core/assert.js';
import type { Budget, UnknownReason } from './budget.js';
import { explainFailure, type LinearizabilityExplanation } from './explanation.js';
import type { History, Operation } from './history.js';
import { linearizabilityLimits } from './limits.js';
import type { Model } from './model.js';
import { PartitionSearch } from './search.js';
import { shrinkPartition } from './shrink.js';

/** One key's operations, its search, and how it ended. @internal */
export interface Partition<S, I, O> {
  /** Its place in the order of first appearance of keys. */
  readonly index: number;
  readonly key: string;
  readonly operations: Operation<I, O>[];
  search: PartitionSearch<S, I, O> | undefined;
  done: boolean;
  unknown?: UnknownReason;
}

/** A key found not linearizable: the fields of the checker's `not-linearizable` verdict. @internal */
export interface PartitionFailure<S, I, O> {
  readonly key: string;
  readonly minimal: History<I, O>;
  readonly shrinkComplete: boolean;
  readonly explanation: LinearizabilityExplanation<S, I, O>;
}

/**
 * The `ok` and `info` operations of `history` by key, keys in order of first
 * appearance. A loop of its own: the first operation of a shape not seen before (a
 * history built by spreading objects) deoptimizes only this small loop, which V8
 * optimizes again at once, not the whole check. @internal
 */
export function partitionByKey<S, I, O>(history: History<I, O>): Partition<S, I, O>[] {
  const byKey = new Map<string, Partition<S, I, O>>();
  for (const operation of history) {
    if (operation.outcome === 'fail') continue;
    const partition = byKey.get(operation.key);
    if (partition === undefined) byKey.set(operation.key, newPartition(byKey.size, operation.key, [operation]));
    else partition.operations.push(operation);
  }
  return [...byKey.values()];
}

/** A partition not searched yet. @internal */
export function newPartition<S, I, O>(index: number, key: string, operations: Operation<I, O>[]): Partition<S, I, O> {
  return { index, key, operations, search: undefined, done: false };
}

/**
 * Searches the partitions `take` hands out, in turns of
 * `linearizabilityLimits.partitionTurnSteps` steps, so that a hard key cannot hide a
 * failing one, until one fails (returned, its failure not yet explained), all are
 * done, or `budget` is spent. `takeAll`: take every partition before the first turn;
 * otherwise one more each round (a worker taking keys from a queue it shares: a hard
 * key keeps it busy, and it still takes the others one by one). Each partition that
 * ends without failing is marked (`done`, and `unknown` if it was not finished) and
 * passed to `onEnd`. @internal
 */
export function searchInTurns<S, I, O>(
  take: () => Partition<S, I, O> | undefined,
  takeAll: boolean,
  model: Model<S, I, O>,
  budget: Budget,
  partitionStepsMax: number,
  onEnd: (partition: Partition<S, I, O>) => void,
): Partition<S, I, O> | undefined {
  let active: Partition<S, I, O>[] = [];
  let more = true;
  const takeOne = (): boolean => {
    const next = more ? take() : undefined;
    if (next === undefined) more = false;
    else active.push(next);
    return next !== undefined;
  };
  for (;;) {
    if (takeAll) while (takeOne());
    else takeOne();
    if (active.length === 0 || budget.spentOn !== undefined) break;
    for (const partition of active) {
      partition.search ??= new PartitionSearch(partition.operations, model, budget);
      const search = partition.search;
      const turn = search.run(Math.min(linearizabilityLimits.partitionTurnSteps, partitionStepsMax - search.steps));
      if (turn === 'not-linearizable') {
        for (const other of active) other.search?.release();
        return partition;
      }
      if (turn === 'paused' && budget.spentOn !== undefined) break;
      if (turn === 'paused' && search.steps < partitionStepsMax) continue;
      if (turn !== 'linearizable') partition.unknown = turn === 'memory bound' ? 'memory bound' : 'step budget';
      // Done with this key: its memory goes back to the others.
      search.release();
      partition.search = undefined;
      partition.done = true;
      onEnd(partition);
    }
    active = active.filter((partition) => !partition.done);
  }
  for (const partition of active) {
    partition.unknown = budget.spentOn ?? 'step budget';
    partition.search?.release();
    partition.search = undefined;
    partition.done = true;
    onEnd(partition);
  }
  return undefined;
}

/**
 * Explains and shrinks a partition `searchInTurns` found not linearizable (its search
 * released). `shrink` false leaves the whole partition as `minimal`. @internal
 */
export function failure<S, I, O>(partition: Partition<S, I, O>, model: Model<S, I, O>, budget: Budget, shrink: boolean): PartitionFailure<S, I, O> {
  const failed = partition.search;
  assert(failed !== undefined, `key ${partition.key} failed without a search`);
  const explanation = explain(partition, failed, model, budget);
  const { key, operations } = partition;
  if (!shrink) return { key, minimal: operations, shrinkComplete: false, explanation };
  // The operations invoked by the time `stuck` completed already fail: the search never
  // reaches a later call before lifting `stuck`, so it dies there the same way. Shrinking
  // starts from them, not from the whole key.
  const cut = explanation.stuck.completedAt!;
  const shrunk = shrinkPartition(
    operations.filter((operation) => operation.invokedAt <= cut),
    model,
    budget,
  );
  return { key, minimal: shrunk.operations, shrinkComplete: shrunk.complete, explanation };
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
