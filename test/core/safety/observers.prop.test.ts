import fc from 'fast-check';
import { it } from 'vitest';
import { simulationArbitrary, simulationParameters, simulationProperty } from '../../../src/testing/index.js';

// Paxos safety (agreement, validity, durability, prefix consistency, promise
// monotonicity, persist-before-send) under random faults, then liveness once healed.
it('stays safe and converges: observers clusters', () => {
  const arbitrary = simulationArbitrary({ voters: [1, 3, 5], quorums: ['majority', 'flexible'], observersMax: 2 });
  fc.assert(simulationProperty(arbitrary), simulationParameters(200, process.env));
}, 600_000);
