/**
 * The entry point of a worker thread of `checkLinearizabilityInParallel` (see
 * `worker-loop.ts` for what it does). Its own entry point of the package
 * (dist/testing/linearizability-worker.js and .cjs), loaded by file path, never
 * imported.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runWorker } from './worker-loop.js';
import type { WorkerInput, WorkerMessage } from './worker-protocol.js';

const port = parentPort;
if (port === null) throw new Error('linearizability-worker.js runs only as a worker thread of checkLinearizabilityInParallel');

// A model that throws while searching rejects this promise: unhandled, it ends the
// worker with an 'error' event the checker reports.
void runWorker(workerData as WorkerInput, (message: WorkerMessage) => port.postMessage(message));
