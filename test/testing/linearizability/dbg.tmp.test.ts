import fc from 'fast-check';
import { it } from 'vitest';
import { checkLinearizability, checkLinearizabilityInParallel, kvHistoryArbitrary, versionedKvModel } from '../../../src/testing/index.js';
it('dbg', async () => {
  const samples = fc.sample(
    fc.tuple(
      kvHistoryArbitrary({ operationsMax: 60, keys: 8, clients: 4, faultsMax: 2 }),
      fc.constantFrom(undefined, 1, 3, 10),
      fc.integer({ min: 1, max: 3 }),
    ),
    { numRuns: 40, seed: 7 },
  );
  for (const [{ history }, partitionStepsMax, workers] of samples) {
    const options = partitionStepsMax === undefined ? {} : { partitionStepsMax };
    const t0 = performance.now();
    const here = checkLinearizability(history, versionedKvModel, options);
    const t1 = performance.now();
    const there = await Promise.race([
      checkLinearizabilityInParallel(history, versionedKvModel, { ...options, workers }),
      new Promise((r) => setTimeout(() => r('TIMEOUT'), 8000)),
    ]);
    if (there === 'TIMEOUT') console.log(JSON.stringify(history));
    console.log(
      history.length,
      partitionStepsMax,
      workers,
      (t1 - t0).toFixed(0),
      (performance.now() - t1).toFixed(0),
      here.result,
      JSON.stringify(there).slice(0, 200),
    );
  }
}, 120_000);
