import fc from 'fast-check';
import { it } from 'vitest';
import { type SimulationConfig, assertSimulations, simulationArbitrary, simulationParameters } from '../../../src/testing/index.js';

/**
 * Schedules with one voter's storage wiped (it restarts empty under the same id) amid
 * crashes, partitions and loss, with snapshots on or off. Phase-2 quorums of at least
 * two voters: a value chosen by one acceptor alone dies with its disk, by definition.
 */
function withWipe(snapshots: boolean): fc.Arbitrary<SimulationConfig> {
  return simulationArbitrary({ voters: [3, 5], quorums: ['majority', 'flexible'], observersMax: 1, snapshots })
    .filter((c) => c.quorum === undefined || c.quorum.kind === 'majority' || c.quorum.phase2 >= 2)
    .chain((c) =>
      fc
        .record({ at: fc.integer({ min: 1, max: c.safetyTicks }), node: fc.integer({ min: 0, max: c.voters - 1 }) })
        .map(({ at, node }): SimulationConfig => ({ ...c, faults: [...c.faults, { at, fault: { kind: 'wipe', node } }] })),
    );
}

// The amnesia guard: a voter with no promise on record asks every other voter before it
// votes, and rebuilds (learns the chosen log up to what any voter accepted, raises its
// promise to the highest any voter holds) if the cluster has history. Agreement and
// promise monotonicity (the promises it sent before the wipe still bind it) must hold.
it('stays safe and converges when a voter loses its storage', () => {
  assertSimulations(withWipe(false), simulationParameters(400, process.env));
}, 600_000);

it('stays safe and converges when a voter loses its storage, with snapshots and compaction', () => {
  assertSimulations(withWipe(true), simulationParameters(300, process.env));
}, 600_000);
