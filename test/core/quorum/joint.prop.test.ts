import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NodeId } from '../../../src/core/node-id.js';
import { flexible } from '../../../src/core/quorum/flexible.js';
import { joint } from '../../../src/core/quorum/joint.js';
import { majority } from '../../../src/core/quorum/majority.js';
import type { Quorum } from '../../../src/core/quorum/quorum.js';
import {
  acknowledgedArb,
  allMeet,
  answersArb,
  committedOracle,
  flexibleSpec,
  jointSpec,
  majoritySpec,
  recording,
  expectVotesMatchOracle,
  votersArb,
  winningSets,
  type QuorumSpec,
} from './oracle.js';

const numRuns = 300;

/** One configuration: majority or flexible over some voters, as plain data. */
type Config = { voters: NodeId[]; sizes?: { phase1: number; phase2: number } };

const configArb = (max: number): fc.Arbitrary<Config> =>
  votersArb(max).chain((voters) =>
    fc.oneof(
      fc.constant({ voters }),
      fc
        .integer({ min: 1, max: voters.length })
        .chain((phase1) => fc.integer({ min: voters.length - phase1 + 1, max: voters.length }).map((phase2) => ({ voters, sizes: { phase1, phase2 } }))),
    ),
  );

const build = (c: Config): Quorum => (c.sizes ? flexible(c.voters, c.sizes) : majority(c.voters));
const spec = (c: Config): QuorumSpec => (c.sizes ? flexibleSpec(c.voters, c.sizes.phase1, c.sizes.phase2) : majoritySpec(c.voters));

describe('joint (properties)', () => {
  it('committedSlot is the largest slot a quorum of both configurations acknowledged (differential)', () => {
    fc.assert(
      fc.property(configArb(6), configArb(6), acknowledgedArb, acknowledgedArb, (old, next, first, second) => {
        const quorum = joint(build(old), build(next));
        for (const acks of [first, second]) {
          const { lookup, asked } = recording(acks);
          expect(quorum.committedSlot(lookup)).toBe(committedOracle(jointSpec(spec(old), spec(next)), lookup));
          expect(asked.every((v) => quorum.isVoter(v))).toBe(true);
        }
      }),
      { numRuns },
    );
  });

  it('phase1 and phase2 agree with every completion of the silent voters of both (brute force)', () => {
    fc.assert(
      fc.property(configArb(6), configArb(6), answersArb, (old, next, answers) => {
        const quorum = joint(build(old), build(next));
        const both = jointSpec(spec(old), spec(next));
        // Only voters are asked, and every voter is.
        expectVotesMatchOracle(quorum, both, answers);
      }),
      { numRuns },
    );
  });

  it("voters are old's then the new ones, and isVoter is membership in either", () => {
    fc.assert(
      fc.property(configArb(6), configArb(6), fc.constantFrom('a', 'e', 'j', 'zz'), (old, next, id) => {
        const quorum = joint(build(old), build(next));
        expect(quorum.voters).toEqual([...old.voters, ...next.voters.filter((v) => !old.voters.includes(v))]);
        expect(quorum.isVoter(id)).toBe(old.voters.includes(id) || next.voters.includes(id));
      }),
      { numRuns },
    );
  });

  it('a joint phase-2 quorum meets every phase-1 quorum of old and of next, and vice versa', () => {
    fc.assert(
      fc.property(configArb(4), configArb(4), (old, next) => {
        const quorum = joint(build(old), build(next));
        for (const side of [build(old), build(next)]) {
          expect(allMeet(winningSets(quorum, 2), winningSets(side, 1))).toBe(true);
          expect(allMeet(winningSets(quorum, 1), winningSets(side, 2))).toBe(true);
        }
      }),
      { numRuns },
    );
  });
});
