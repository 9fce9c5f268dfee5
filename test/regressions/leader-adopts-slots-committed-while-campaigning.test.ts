import { expect, it } from 'vitest';
import { runRuntimeSimulation } from '../../src/testing/index.js';

// Bug: a candidate that learned, while it campaigned, that slots from its prepare's
// first slot on were chosen (the old leader removed itself and told it) counted its
// promises against the configurations governing the slots after its new commit index.
// The promises that elected it (n2, n3, n4: a majority of the new voters) could then
// miss a value chosen under the configuration before (slot 2, accepted only by the old
// leader and n5 where a flexible phase-2 quorum is one voter), and it adopted a no-op
// for that slot: the replica's assertion stopped the node
// ("leader 4.n2 adopts for slot 2 a value other than the chosen one"). A leader now
// proposes from the slot after its commit index: what phase 1 found for a slot it knows
// committed is not used. Found by the runtime simulation with membership changes.
it('a leader elected while it learned the slots it campaigned for does not adopt them from its promises', async () => {
  const result = await runRuntimeSimulation({
    seed: 21,
    voters: 5,
    observers: 1,
    quorum: { kind: 'flexible', phase1: 5, phase2: 1 },
    proposals: 30,
    safetyMs: 2852,
    persistDelayMsMax: 0,
    node: { followerProposals: 'forward' },
    faults: [{ at: 230, fault: { kind: 'changeMembers', change: 'removeLeader', node: 0 } }],
    spares: 2,
    windowSlots: 2,
  });
  expect(result.voters).toEqual(['n2', 'n3', 'n4', 'n5']);
});
