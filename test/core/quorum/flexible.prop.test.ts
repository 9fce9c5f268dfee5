import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/core/errors.js';
import { flexible } from '../../../src/core/quorum/flexible.js';
import {
  acknowledgedArb,
  allMeet,
  answersArb,
  committedOracle,
  flexibleSpec,
  pool,
  recording,
  expectVotesMatchOracle,
  votersArb,
  winningSets,
} from './oracle.js';

const numRuns = 500;

/** Voters with valid sizes: 1 <= phase1, phase2 <= n and phase1 + phase2 > n. */
const configArb = (max: number) =>
  votersArb(max).chain((voters) =>
    fc
      .integer({ min: 1, max: voters.length })
      .chain((phase1) => fc.integer({ min: voters.length - phase1 + 1, max: voters.length }).map((phase2) => ({ voters, phase1, phase2 }))),
  );

/** Whether some phase1-sized and some phase2-sized subsets of n voters are disjoint, by enumeration. */
function someDisjoint(n: number, phase1: number, phase2: number): boolean {
  const sizeOf = (mask: number) => [...Array(n).keys()].filter((i) => (mask >> i) & 1).length;
  const masks = [...Array(2 ** n).keys()];
  const ones = masks.filter((m) => sizeOf(m) === phase1);
  const twos = masks.filter((m) => sizeOf(m) === phase2);
  return ones.some((a) => twos.some((b) => (a & b) === 0));
}

describe('flexible (properties)', () => {
  it('committedSlot is the largest slot a phase-2 quorum acknowledged (differential, reused scratch)', () => {
    fc.assert(
      fc.property(configArb(9), acknowledgedArb, acknowledgedArb, ({ voters, phase1, phase2 }, first, second) => {
        const quorum = flexible(voters, { phase1, phase2 });
        for (const acks of [first, second]) {
          const { lookup, asked } = recording(acks);
          expect(quorum.committedSlot(lookup)).toBe(committedOracle(flexibleSpec(voters, phase1, phase2), lookup));
          expect(asked.every((v) => quorum.isVoter(v))).toBe(true);
        }
      }),
      { numRuns },
    );
  });

  it('phase1 and phase2 agree with every completion of the silent voters (brute force)', () => {
    fc.assert(
      fc.property(configArb(9), answersArb, ({ voters, phase1, phase2 }, answers) => {
        const quorum = flexible(voters, { phase1, phase2 });
        const spec = flexibleSpec(voters, phase1, phase2);
        // Only voters are asked, and every voter is.
        expectVotesMatchOracle(quorum, spec, answers);
      }),
      { numRuns },
    );
  });

  it('every phase-1 quorum meets every phase-2 quorum of any sizes it accepts (Flexible Paxos)', () => {
    const arb = votersArb(7).chain((voters) =>
      fc.tuple(fc.constant(voters), fc.integer({ min: 1, max: voters.length }), fc.integer({ min: 1, max: voters.length })),
    );
    fc.assert(
      fc.property(arb, ([voters, phase1, phase2]) => {
        let quorum;
        try {
          quorum = flexible(voters, { phase1, phase2 });
        } catch (e) {
          expect(e).toBeInstanceOf(ConfigError);
          return; // Rejected: which sizes must be rejected is the next property.
        }
        expect(allMeet(winningSets(quorum, 1), winningSets(quorum, 2))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('accepts exactly the sizes in 1..n whose quorums cannot be disjoint', () => {
    const sizeArb = (n: number) =>
      fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: -1, max: n + 2 }) },
        { weight: 1, arbitrary: fc.constantFrom(0.5, 1.5, Number.NaN, Number.POSITIVE_INFINITY) },
      );
    const arb = fc.integer({ min: 1, max: 6 }).chain((n) => fc.tuple(fc.constant(n), sizeArb(n), sizeArb(n)));
    fc.assert(
      fc.property(arb, ([n, phase1, phase2]) => {
        const voters = pool.slice(0, n);
        const inRange = (q: number) => Number.isInteger(q) && q >= 1 && q <= n;
        const valid = inRange(phase1) && inRange(phase2) && !someDisjoint(n, phase1, phase2);
        let error: unknown;
        try {
          flexible(voters, { phase1, phase2 });
        } catch (e) {
          error = e;
        }
        if (valid) {
          expect(error).toBeUndefined();
        } else {
          expect(error).toBeInstanceOf(ConfigError);
          expect(['sizes', 'sizes.phase1', 'sizes.phase2']).toContain((error as ConfigError).field);
        }
      }),
      { numRuns },
    );
  });
});
