/**
 * What a worker thread of `checkLinearizabilityInParallel` does, apart from being a
 * thread: load the model, then take keys from the queue it shares with the other
 * workers and search them in turns, as the checker does in one thread, until one
 * fails, none is left, or the budget is spent. Kept apart from the thread's entry
 * point so that it runs, and is tested, in any thread. @internal
 */
import { pathToFileURL } from 'node:url';
import { deserialize } from 'node:v8';
import { Budget } from './budget.js';
import type { Operation } from './history.js';
import type { Model } from './model.js';
import { loadModel } from './model-origin.js';
import { failure, newPartition, type Partition, searchInTurns } from './partition-turns.js';
import { encodeFailure, type WorkerInput, type WorkerMessage } from './worker-protocol.js';

type AnyPartition = Partition<unknown, unknown, unknown>;

/**
 * Loads `input.model` and checks keys until the queue is empty, one fails or the budget
 * is spent, telling `post` as it goes. Resolves when done; rejects if the model throws
 * while searching (on a worker, the thread then ends with the error, which the checker
 * reports).
 */
export async function runWorker(input: WorkerInput, post: (message: WorkerMessage) => void): Promise<void> {
  let model: Model<unknown, unknown, unknown>;
  try {
    model = await loadModel(input.model, (path) => pathToFileURL(path).href);
  } catch (error) {
    post({ type: 'unloadable', message: error instanceof Error ? error.message : String(error) });
    return;
  }
  check(input, model, post);
}

function check(input: WorkerInput, model: Model<unknown, unknown, unknown>, post: (message: WorkerMessage) => void): void {
  const control = new Int32Array(input.control);
  const budget = new Budget(input.timeBudgetMs, input.stepsMax, () => performance.now(), input.memoryBytesMax, new Int32Array(input.control, 4, 1));
  const count = input.offsets.length - 1;
  const take = (): AnyPartition | undefined => {
    const index = Atomics.add(control, 0, 1);
    if (index >= count) return undefined;
    post({ type: 'took', index });
    const bytes = new Uint8Array(input.partitions, input.offsets[index]!, input.offsets[index + 1]! - input.offsets[index]!);
    const [key, operations] = deserialize(bytes) as [string, Operation<unknown, unknown>[]];
    return newPartition(index, key, operations);
  };
  const onEnd = (partition: AnyPartition): void =>
    post({ type: 'ended', index: partition.index, steps: budget.taken, ...(partition.unknown === undefined ? {} : { unknown: partition.unknown }) });
  const failed = searchInTurns(take, false, model, budget, input.partitionStepsMax, onEnd);
  if (failed !== undefined) {
    const encoded = encodeFailure(failure(failed, model, budget, input.shrink), failed.operations);
    try {
      post({ type: 'failed', index: failed.index, failure: encoded });
    } catch {
      // Model states or outputs structured clone cannot copy (functions, symbols).
      post({ type: 'failed', index: failed.index, failure: { ...encoded, states: [], candidates: [] }, statesLost: true });
    }
    return;
  }
  post({ type: 'finished', steps: budget.taken, ...(budget.spentOn === undefined ? {} : { spentOn: budget.spentOn }) });
}
