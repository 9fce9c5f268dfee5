import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { majority } from '../../../src/core/quorum/majority.js';
import { acknowledgedArb, allMeet, answersArb, committedOracle, majoritySpec, recording, expectVotesMatchOracle, votersArb, winningSets } from './oracle.js';

const numRuns = 500;

describe('majority (properties)', () => {
  it('committedSlot is the largest slot a majority acknowledged (differential, reused scratch)', () => {
    fc.assert(
      fc.property(votersArb(9), acknowledgedArb, acknowledgedArb, (voters, first, second) => {
        const quorum = majority(voters);
        // Two calls on one instance: the second must not see the first one's acknowledgements.
        for (const acks of [first, second]) {
          const { lookup, asked } = recording(acks);
          expect(quorum.committedSlot(lookup)).toBe(committedOracle(majoritySpec(voters), lookup));
          expect(asked.every((v) => quorum.isVoter(v))).toBe(true);
        }
      }),
      { numRuns },
    );
  });

  it('phase1 and phase2 agree with every completion of the silent voters (brute force)', () => {
    fc.assert(
      fc.property(votersArb(9), answersArb, (voters, answers) => {
        const quorum = majority(voters);
        const spec = majoritySpec(voters);
        // Only voters are asked, and every voter is.
        expectVotesMatchOracle(quorum, spec, answers);
      }),
      { numRuns },
    );
  });

  it('every phase-1 quorum meets every phase-2 quorum (Paxos Made Simple)', () => {
    fc.assert(
      fc.property(votersArb(7), (voters) => {
        const quorum = majority(voters);
        expect(allMeet(winningSets(quorum, 1), winningSets(quorum, 2))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
