import { it } from 'vitest';
import { assertSimulations, simulationArbitrary, simulationParameters } from '../../../src/testing/index.js';

// Paxos safety (agreement, validity, durability, prefix consistency, promise
// monotonicity, persist-before-send) under random faults, then liveness once healed.
it('stays safe and converges: majority clusters', () => {
  const arbitrary = simulationArbitrary({ voters: [1, 3, 5, 7], quorums: ['majority'], observersMax: 1 });
  assertSimulations(arbitrary, simulationParameters(500, process.env));
}, 600_000);
