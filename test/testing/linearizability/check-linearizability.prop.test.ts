/**
 * Differential properties of the linearizability checker against a brute-force
 * oracle (every subset of the info operations, every order consistent with real
 * time), on small generated versioned-KV histories, and 1-minimality of the failing
 * sub-histories it reports.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { checkLinearizability, kvHistoryArbitrary, versionedKvModel } from '../../../src/testing/index.js';
import { bruteForceLinearizable, bruteForcePartition } from './brute-force.js';

const runs = Number(process.env['SYNOD_LINEARIZABILITY_RUNS'] ?? 400);
const histories = kvHistoryArbitrary({ operationsMax: 8, keys: 2, faultsMax: 2 });

it('agrees with the brute-force oracle on random histories of up to 8 operations over 1-2 keys', () => {
  const verdicts = { linearizable: 0, 'not-linearizable': 0 };
  fc.assert(
    fc.property(histories, ({ history }) => {
      const expected = bruteForceLinearizable(history, versionedKvModel);
      const verdict = checkLinearizability(history, versionedKvModel);
      expect(verdict.result).toBe(expected ? 'linearizable' : 'not-linearizable');
      if (verdict.result !== 'unknown') verdicts[verdict.result]++;
    }),
    { numRuns: runs },
  );
  // The generator makes both verdicts common; a property that only ever sees one proves little.
  expect(verdicts.linearizable).toBeGreaterThan(runs / 5);
  expect(verdicts['not-linearizable']).toBeGreaterThan(runs / 5);
});

it('agrees with itself without the read-only shortcut (the search of a model that does not declare reads)', () => {
  const { readOnly: _, ...plainModel } = versionedKvModel;
  fc.assert(
    fc.property(kvHistoryArbitrary({ operationsMax: 12, keys: 1, clients: 4, faultsMax: 2 }), ({ history }) => {
      expect(checkLinearizability(history, plainModel).result).toBe(bruteForceLinearizable(history, plainModel) ? 'linearizable' : 'not-linearizable');
      expect(checkLinearizability(history, versionedKvModel).result).toBe(checkLinearizability(history, plainModel).result);
    }),
    { numRuns: runs },
  );
});

it('reports 1-minimal failing sub-histories: non-linearizable, and linearizable without any one operation', () => {
  let failing = 0;
  fc.assert(
    fc.property(histories, ({ history }) => {
      const verdict = checkLinearizability(history, versionedKvModel);
      if (verdict.result !== 'not-linearizable') return;
      failing++;
      const { key, minimal, shrinkComplete } = verdict;
      expect(shrinkComplete).toBe(true);
      expect(minimal.length).toBeGreaterThan(0);
      // A sub-history of the failing key's ok and info operations, in their order.
      const source = history.filter((operation) => operation.key === key && operation.outcome !== 'fail');
      let cursor = 0;
      for (const operation of minimal) {
        cursor = source.indexOf(operation, cursor) + 1;
        expect(cursor).toBeGreaterThan(0);
      }
      expect(bruteForcePartition(minimal, versionedKvModel)).toBe(false);
      minimal.forEach((_, drop) => {
        expect(
          bruteForcePartition(
            minimal.filter((__, i) => i !== drop),
            versionedKvModel,
          ),
        ).toBe(true);
      });
    }),
    { numRuns: runs },
  );
  expect(failing).toBeGreaterThan(runs / 5);
});

it('finds every history from a correct store linearizable (longer histories, no oracle)', () => {
  fc.assert(
    fc.property(kvHistoryArbitrary({ operationsMax: 60, keys: 3, clients: 6, timeMax: 100, faultsMax: 0 }), ({ history }) => {
      expect(checkLinearizability(history, versionedKvModel).result).toBe('linearizable');
    }),
    { numRuns: 200 },
  );
});
