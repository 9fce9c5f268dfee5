import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Configuration, quorumsMeet } from '../../../src/core/index.js';
import { quorumOf } from '../../../src/core/configuration/configuration.js';
import { Epochs } from '../../../src/core/configuration/epochs.js';
import { planChange } from '../../../src/core/configuration/membership-change.js';

const ids = ['a', 'b', 'c', 'd', 'e', 'f'];

/** Every subset of `voters` (as sets), for the brute-force oracle. */
function subsets(voters: readonly string[]): Set<string>[] {
  const out: Set<string>[] = [];
  for (let mask = 0; mask < 1 << voters.length; mask++) out.push(new Set(voters.filter((_, i) => (mask >> i) & 1)));
  return out;
}

/** The oracle: no phase-1 quorum of `from` is disjoint from a phase-2 quorum of `to`. */
function meetByEnumeration(from: Configuration, to: Configuration): boolean {
  const q1 = quorumOf(from);
  const q2 = quorumOf(to);
  const phase1 = subsets(q1.voters).filter((s) => q1.phase1((v) => (s.has(v) ? true : undefined)) === 'won');
  const phase2 = subsets(q2.voters).filter((s) => q2.phase2((v) => (s.has(v) ? true : undefined)) === 'won');
  return phase1.every((a) => phase2.every((b) => [...a].some((v) => b.has(v))));
}

const voterSet = fc.subarray(ids, { minLength: 1, maxLength: 5 });
const rule = (n: number) =>
  fc.oneof(
    fc.constant('majority' as const),
    fc.integer({ min: 1, max: n }).map((p2) => ({ phase1: n - p2 + 1, phase2: p2 })),
  );
const configuration = (id: number) =>
  voterSet.chain((voters) => rule(voters.length).map((quorum): Configuration => ({ id, voters, quorum, observers: [], addresses: {}, windowSlots: 4 })));

describe('quorumsMeet', () => {
  it('matches the enumeration of every pair of quorums, for plain configurations (differential)', () => {
    fc.assert(
      fc.property(configuration(0), configuration(1), (from, to) => {
        expect(quorumsMeet(from, to)).toBe(meetByEnumeration(from, to));
      }),
      { numRuns: 2000 },
    );
  });

  it('is sound for joint ones: when it says they meet, they do', () => {
    const joint = fc
      .tuple(configuration(0), configuration(1))
      .map(([old, next]): Configuration => ({ ...next, leaving: { voters: old.voters, quorum: old.quorum } }));
    fc.assert(
      fc.property(fc.oneof(configuration(0), joint), fc.oneof(configuration(1), joint), (from, to) => {
        if (quorumsMeet(from, to)) expect(meetByEnumeration(from, to)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('planChange', () => {
  it('every step it plans has quorums that meet the configuration it replaces, and a joint one finishes in a second step that meets it too', () => {
    const change = fc.oneof(
      fc.record({ type: fc.constant('addObserver' as const), id: fc.constantFrom(...ids, 'x') }),
      fc.record({ type: fc.constantFrom('promote' as const, 'demote' as const, 'remove' as const), id: fc.constantFrom(...ids) }),
      fc.record({ type: fc.constant('replace' as const), remove: fc.constantFrom(...ids), add: fc.constantFrom(...ids, 'x', 'y') }),
    );
    fc.assert(
      fc.property(configuration(0), fc.subarray(ids), change, (base, observers, c) => {
        const current = { ...base, observers: observers.filter((o) => !base.voters.includes(o)) };
        const plan = planChange(current, c);
        if (!plan.ok) return;
        expect(quorumsMeet(current, plan.config)).toBe(true);
        if (plan.config.leaving !== undefined) {
          const { leaving: _, ...second } = plan.config;
          expect(quorumsMeet(plan.config, { ...second, id: plan.config.id + 1 })).toBe(true);
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('Epochs', () => {
  const config = (id: number, voters: string[], windowSlots = 4): Configuration => ({
    id,
    voters,
    quorum: 'majority',
    observers: [],
    addresses: {},
    windowSlots,
  });

  it('a configuration chosen at slot i governs from i + windowSlots; one not built on the latest is void', () => {
    const e = new Epochs([{ from: 1, source: 0, config: config(0, ['a', 'b', 'c']) }], 0);
    expect(e.knownThrough).toBe(4);
    for (let slot = 1; slot <= 5; slot++) e.fold(slot, slot === 3 ? config(1, ['a', 'b']) : undefined);
    expect(e.at(6).config.id).toBe(0);
    expect(e.at(7).config.id).toBe(1);
    // Another change also built on configuration 0: void on every replica alike.
    expect(e.fold(6, config(1, ['a', 'c']))).toBe(false);
    // A change that alters the window is void too.
    expect(e.fold(7, config(2, ['a'], 9))).toBe(false);
    expect(e.fold(8, config(2, ['a']))).toBe(true);
    expect(e.at(12).config.voters).toEqual(['a']);
    expect(() => e.at(13)).toThrow(/unknown/);
  });

  it('the state at a slot restores the same view of every later slot', () => {
    const e = new Epochs([{ from: 1, source: 0, config: config(0, ['a', 'b', 'c']) }], 0);
    for (let slot = 1; slot <= 10; slot++) e.fold(slot, slot === 5 ? config(1, ['a', 'b']) : slot === 9 ? config(2, ['a']) : undefined);
    for (const at of [5, 7, 9, 10]) {
      const restored = new Epochs(e.stateAt(at), at);
      for (let slot = at + 1; slot <= at + 4; slot++) expect(restored.at(slot).config.id).toBe(e.at(slot).config.id);
    }
  });
});
