/**
 * The checker on worker threads against the checker in one thread, on random
 * versioned-KV histories of many keys, some failing (faults injected), some keys left
 * unknown (a small `partitionStepsMax`): the same verdict, except that when several
 * keys fail either may be reported, with the report one thread gives for that key.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { checkLinearizability, checkLinearizabilityInParallel, kvHistoryArbitrary, versionedKvModel } from '../../../src/testing/index.js';

// Each run starts workers (about half a second from the sources): few runs, many keys each.
const runs = Number(process.env['SYNOD_PARALLEL_LINEARIZABILITY_RUNS'] ?? 10);

it('gives the verdict of one thread on random histories, failing, linearizable and unknown', async () => {
  const seen = { linearizable: 0, 'not-linearizable': 0, unknown: 0 };
  const everyKind = () => seen.linearizable > 0 && seen['not-linearizable'] > 0 && seen.unknown > 0;
  // Batches of random runs until every kind of verdict came up (10 runs alone missed
  // one kind now and then), at most 5.
  for (let batch = 0; batch < 5 && !everyKind(); batch++)
    await fc.assert(
      fc.asyncProperty(
        kvHistoryArbitrary({ operationsMax: 60, keys: 8, clients: 4, faultsMax: 2 }),
        fc.constantFrom(undefined, 1, 3, 10),
        fc.constantFrom<number | 'auto'>(1, 2, 3, 'auto'),
        async ({ history }, partitionStepsMax, workers) => {
          const options = partitionStepsMax === undefined ? {} : { partitionStepsMax };
          const here = checkLinearizability(history, versionedKvModel, options);
          const { execution, ...there } = await checkLinearizabilityInParallel(history, versionedKvModel, { ...options, workers });
          // 'auto' ends these small histories in its head start, in this thread.
          const keys = new Set(history.filter((o) => o.outcome !== 'fail').map((o) => o.key)).size;
          expect(execution.workers).toBe(workers === 'auto' ? 0 : Math.min(workers, keys));
          seen[there.result]++;
          if (here.result !== 'not-linearizable' || there.result !== 'not-linearizable') {
            expect(there).toEqual(here);
            return;
          }
          // The key reported fails, with the report one thread gives for it alone, naming the caller's operations.
          const key = history.filter((operation) => operation.key === there.key);
          expect(there).toEqual(checkLinearizability(key, versionedKvModel, options));
          for (const operation of [...there.minimal, there.explanation.stuck, ...there.explanation.window]) expect(key).toContain(operation);
        },
      ),
      // Unshrunk: each run starts workers, and shrinking would take minutes.
      { numRuns: runs, endOnFailure: true },
    );
  // Every kind of verdict came up: a property that sees one kind only proves little.
  expect(seen.linearizable).toBeGreaterThan(0);
  expect(seen['not-linearizable']).toBeGreaterThan(0);
  expect(seen.unknown).toBeGreaterThan(0);
}, 60_000);
