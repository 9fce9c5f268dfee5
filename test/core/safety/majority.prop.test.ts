import { it } from 'vitest';
import { assertSimulations, simulationParameters, simulationSuites } from '../../../src/testing/index.js';

// Paxos safety (agreement, validity, durability, prefix consistency, promise
// monotonicity, persist-before-send) under random faults, then liveness once healed.
it('stays safe and converges: majority clusters', () => {
  const arbitrary = simulationSuites.majority();
  assertSimulations(arbitrary, simulationParameters(500, process.env));
}, 600_000);
