import { expect, it } from 'vitest';
import { runRuntimeSimulation } from '../../src/testing/index.js';

// Bug: before a new configuration decides its first slot, a phase-2 quorum of it must
// durably hold every earlier slot (the handover). The leader counted itself at once,
// while its own write of the last slots was still on its way to a slow disk: here the
// joint configuration replacing n5 by o1 had n2 and the leader n4 count for its new
// voters, and n5 durably accepted slot 14 while n4's write of slots 12 and 13 was
// pending ("slot 14, the first of configuration 1, was accepted before a phase-2 quorum
// of it held every earlier slot"). The leader now counts once its own acceptance of
// those slots is durable, as for its commit index. Found by the runtime simulation with
// membership changes: the runtime's disks were slower than the network there.
it('the handover counts the leader only once its own earlier slots are durable', async () => {
  const result = await runRuntimeSimulation({
    seed: 2147483624,
    voters: 5,
    observers: 1,
    quorum: { kind: 'flexible', phase1: 4, phase2: 2 },
    proposals: 30,
    safetyMs: 3225,
    persistDelayMsMax: 14,
    node: { followerProposals: 'forward' },
    faults: [
      { at: 548, fault: { kind: 'network', lossRate: 0, duplicateRate: 0.2, delayTicksMax: 0, stragglerRate: 0, stragglerTicksMax: 50 } },
      { at: 1004, fault: { kind: 'changeMembers', change: 'replace', node: 4 } },
      { at: 1556, fault: { kind: 'changeMembers', change: 'promote', node: 0 } },
      { at: 241, fault: { kind: 'cut', from: 4, to: 2 } },
      { at: 1249, fault: { kind: 'bridge', a: 1, b: 5, c: 0 } },
    ],
    spares: 2,
    windowSlots: 3,
  });
  expect(result.voters).toContain('o1');
});
