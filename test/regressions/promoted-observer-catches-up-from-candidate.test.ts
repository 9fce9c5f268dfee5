import { expect, it } from 'vitest';
import { runRuntimeSimulation } from '../../src/testing/index.js';

// Bug: n3 was demoted, then promoted while it lagged, then the leader removed itself,
// leaving n2 and n3 as the voters. n3 had not learned its promotion (the slot was
// compacted everywhere and the snapshot it was being sent was older), so it still took
// itself for an observer: its election timer did not run, so it refused every pre-vote
// as if it heard a leader, and with no leader nobody sent it the log. n2 could not win
// without it: the cluster stalled for good. An observer asked for a pre-vote by a node
// whose commit index is ahead of its own now learns the log from it. Found by the
// runtime simulation with membership changes. One snapshot chunk in flight at a time
// (inflightBytesMax 16) keeps the schedule that first showed it.
it('a voter that missed its own promotion learns it from the candidate that needs its vote', async () => {
  const result = await runRuntimeSimulation({
    seed: 147847341,
    voters: 3,
    observers: 0,
    quorum: { kind: 'flexible', phase1: 3, phase2: 1 },
    proposals: 30,
    safetyMs: 1539,
    persistDelayMsMax: 0,
    node: {
      batchCommandsMax: 1,
      inflightSlotsMax: 1,
      followerProposals: 'forward',
      snapshot: { everySlots: 1, trailingSlots: 0, chunkBytes: 16, inflightBytesMax: 16 },
    },
    faults: [
      { at: 200, fault: { kind: 'changeMembers', change: 'demote', node: 2 } },
      { at: 240, fault: { kind: 'changeMembers', change: 'removeLeader', node: 0 } },
      { at: 230, fault: { kind: 'changeMembers', change: 'promote', node: 2 } },
    ],
    spares: 2,
    windowSlots: 2,
  });
  expect(result.voters).toEqual(['n2', 'n3']);
});
