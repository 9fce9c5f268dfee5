/**
 * A worker thread of `checkLinearizabilityInParallel`: loads the model, then takes keys
 * from the queue it shares with the other workers and searches them in turns, as the
 * checker does in one thread, until one fails, none is left, or the budget is spent.
 * Its own entry point of the package (dist/testing/linearizability-worker.js and .cjs),
 * loaded by file path, never imported.
 */
import { pathToFileURL } from 'node:url';
import { deserialize } from 'node:v8';
import { parentPort, workerData } from 'node:worker_threads';
import { Budget } from './budget.js';
import type { Operation } from './history.js';
import type { Model } from './model.js';
import { loadModel } from './model-origin.js';
import { failure, newPartition, type Partition, searchInTurns } from './partition-turns.js';
import { encodeFailure, type WorkerInput, type WorkerMessage } from './worker-protocol.js';

type AnyPartition = Partition<unknown, unknown, unknown>;

const input = workerData as WorkerInput;
const port = parentPort;
if (port === null) throw new Error('linearizability-worker.js runs only as a worker thread of checkLinearizabilityInParallel');
const post = (message: WorkerMessage): void => port.postMessage(message);

function check(model: Model<unknown, unknown, unknown>): void {
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

// A model that throws while searching rejects this promise: unhandled, it ends the
// worker with an 'error' event the checker reports.
void loadModel(input.model, (path) => pathToFileURL(path).href).then(check, (error: unknown) =>
  post({ type: 'unloadable', message: error instanceof Error ? error.message : String(error) }),
);
