import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Ballot, ballotEquals, ballotZero, compareBallots, formatBallot, maxBallot } from '../../src/core/index.js';

const ballot = fc.record({ round: fc.nat({ max: 1000 }), node: fc.constantFrom('a', 'b', 'c', 'n10', 'n2') });
const sign = (n: number): number => Math.sign(n);

describe('ballots are totally ordered by (round, node)', () => {
  it('antisymmetric, transitive and total', () => {
    fc.assert(
      fc.property(ballot, ballot, ballot, (a, b, c) => {
        expect(sign(compareBallots(a, b)) + sign(compareBallots(b, a))).toBe(0);
        expect(compareBallots(a, b) === 0).toBe(ballotEquals(a, b));
        if (compareBallots(a, b) <= 0 && compareBallots(b, c) <= 0) expect(compareBallots(a, c)).toBeLessThanOrEqual(0);
      }),
      { numRuns: 2000 },
    );
  });

  it('orders by round first, then by node id', () => {
    fc.assert(
      fc.property(ballot, ballot, (a: Ballot, b: Ballot) => {
        if (a.round !== b.round) expect(sign(compareBallots(a, b))).toBe(sign(a.round - b.round));
        expect(compareBallots(maxBallot(a, b), a)).toBeGreaterThanOrEqual(0);
        expect(compareBallots(maxBallot(a, b), b)).toBeGreaterThanOrEqual(0);
      }),
    );
  });

  it('ballot zero is below every real ballot', () => {
    fc.assert(
      fc.property(ballot, (b) => {
        if (b.round > 0) expect(compareBallots(ballotZero, b)).toBeLessThan(0);
      }),
    );
    expect(formatBallot({ round: 3, node: 'n2' })).toBe('3.n2');
    expect(formatBallot(ballotZero)).toBe('0');
  });
});
