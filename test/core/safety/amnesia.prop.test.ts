import { it } from 'vitest';
import { assertSimulations, simulationParameters, simulationSuites } from '../../../src/testing/index.js';

// The amnesia guard: a voter with no promise on record asks every other voter before it
// votes, and rebuilds (learns the chosen log up to what any voter accepted, raises its
// promise to the highest any voter holds) if the cluster has history. Agreement and
// promise monotonicity (the promises it sent before the wipe still bind it) must hold.
it('stays safe and converges when a voter loses its storage', () => {
  assertSimulations(simulationSuites.amnesia(), simulationParameters(400, process.env));
}, 600_000);

it('stays safe and converges when a voter loses its storage, with snapshots and compaction', () => {
  assertSimulations(simulationSuites.amnesiaSnapshots(), simulationParameters(300, process.env));
}, 600_000);
