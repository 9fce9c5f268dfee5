import { describe, expect, it } from 'vitest';
import type { Configuration } from '../../../src/core/index.js';
import { planChange } from '../../../src/core/index.js';
import { finishJoint, votersAdded } from '../../../src/core/configuration/membership-change.js';

const three: Configuration = {
  id: 4,
  voters: ['a', 'b', 'c'],
  quorum: 'majority',
  observers: ['d'],
  addresses: { a: 'A', b: 'B', c: 'C', d: 'D' },
  windowSlots: 8,
};

describe('planChange: replace', () => {
  it('puts a caught-up observer in the place of a voter in one change, through a joint configuration, keeping the voter count', () => {
    const plan = planChange(three, { type: 'replace', remove: 'c', add: 'd' });
    expect(plan).toEqual({
      ok: true,
      config: {
        id: 5,
        voters: ['a', 'b', 'd'],
        quorum: 'majority',
        observers: [],
        addresses: { a: 'A', b: 'B', d: 'D' },
        windowSlots: 8,
        leaving: { voters: ['a', 'b', 'c'], quorum: 'majority' },
      },
    });
  });

  it('refuses a new machine that is not an observer yet (it would vote with nothing), a voter as the newcomer, and an observer as the one leaving', () => {
    expect(planChange(three, { type: 'replace', remove: 'c', add: 'e' })).toMatchObject({ ok: false, reason: 'unknown-member', id: 'e' });
    expect(planChange(three, { type: 'replace', remove: 'c', add: 'b' })).toMatchObject({ ok: false, reason: 'not-observer', id: 'b' });
    expect(planChange(three, { type: 'replace', remove: 'd', add: 'd' })).toMatchObject({ ok: false, reason: 'not-voter', id: 'd' });
    const lone: Configuration = { ...three, voters: ['a'], addresses: { a: 'A', d: 'D' } };
    // The last voter can be replaced: the count stays at one.
    expect(planChange(lone, { type: 'replace', remove: 'a', add: 'd' })).toMatchObject({ ok: true, config: { voters: ['d'] } });
  });
});

// Each kind of change, what it leads to, and each reason it is refused (leaving the
// configuration as it was).
describe('planChange: each kind of change', () => {
  it('refuses any change while a joint configuration is being left', () => {
    const joint: Configuration = { ...three, leaving: { voters: ['a', 'b', 'x'], quorum: 'majority' } };
    expect(planChange(joint, { type: 'addObserver', id: 'e' })).toEqual({
      ok: false,
      reason: 'invalid',
      field: 'change',
      why: 'a joint configuration is being left',
    });
  });

  it('refuses an unknown kind of change', () => {
    expect(planChange(three, { type: 'grow', id: 'e' } as never)).toEqual({ ok: false, reason: 'invalid', field: 'type', why: 'unknown change "grow"' });
  });

  describe('addObserver', () => {
    it('adds an observer, with its address when given', () => {
      expect(planChange(three, { type: 'addObserver', id: 'e', address: 'E' })).toEqual({
        ok: true,
        config: { ...three, id: 5, observers: ['d', 'e'], addresses: { ...three.addresses, e: 'E' } },
      });
      expect(planChange(three, { type: 'addObserver', id: 'e' })).toEqual({ ok: true, config: { ...three, id: 5, observers: ['d', 'e'] } });
    });

    it('refuses an empty id, a member, and a bad address', () => {
      expect(planChange(three, { type: 'addObserver', id: '' })).toEqual({ ok: false, reason: 'invalid', field: 'id', why: 'must be a non-empty string' });
      expect(planChange(three, { type: 'addObserver', id: 3 as never })).toMatchObject({ ok: false, reason: 'invalid', field: 'id' });
      expect(planChange(three, { type: 'addObserver', id: 'a' })).toEqual({ ok: false, reason: 'already-member', id: 'a' });
      expect(planChange(three, { type: 'addObserver', id: 'd' })).toEqual({ ok: false, reason: 'already-member', id: 'd' });
      const why = 'must be a non-empty string of at most 256 characters';
      expect(planChange(three, { type: 'addObserver', id: 'e', address: '' })).toEqual({ ok: false, reason: 'bad-address', id: 'e', why });
      expect(planChange(three, { type: 'addObserver', id: 'e', address: 'x'.repeat(257) })).toEqual({ ok: false, reason: 'bad-address', id: 'e', why });
      expect(planChange(three, { type: 'addObserver', id: 'e', address: 7 as never })).toEqual({ ok: false, reason: 'bad-address', id: 'e', why });
      expect(planChange(three, { type: 'addObserver', id: 'e', address: 'x'.repeat(256) })).toMatchObject({ ok: true });
    });

    it('refuses an observer beyond the configuration’s limit', () => {
      const full: Configuration = { ...three, observers: Array.from({ length: 64 }, (_, i) => `o${i}`), addresses: {} };
      expect(planChange(full, { type: 'addObserver', id: 'e' })).toEqual({
        ok: false,
        reason: 'invalid',
        field: 'observers',
        why: 'must be a list of at most 64 ids',
      });
    });
  });

  describe('promote and demote', () => {
    it('promotes an observer to voter', () => {
      expect(planChange(three, { type: 'promote', id: 'd' })).toEqual({ ok: true, config: { ...three, id: 5, voters: ['a', 'b', 'c', 'd'], observers: [] } });
    });

    it('refuses to promote a voter or a stranger', () => {
      expect(planChange(three, { type: 'promote', id: 'a' })).toEqual({ ok: false, reason: 'not-observer', id: 'a' });
      expect(planChange(three, { type: 'promote', id: 'e' })).toEqual({ ok: false, reason: 'unknown-member', id: 'e' });
    });

    it('demotes a voter to observer', () => {
      expect(planChange(three, { type: 'demote', id: 'b' })).toEqual({ ok: true, config: { ...three, id: 5, voters: ['a', 'c'], observers: ['d', 'b'] } });
    });

    it('refuses to demote an observer, a stranger, or the last voter', () => {
      expect(planChange(three, { type: 'demote', id: 'd' })).toEqual({ ok: false, reason: 'not-voter', id: 'd' });
      expect(planChange(three, { type: 'demote', id: 'e' })).toEqual({ ok: false, reason: 'unknown-member', id: 'e' });
      const lone: Configuration = { ...three, voters: ['a'], addresses: {} };
      expect(planChange(lone, { type: 'demote', id: 'a' })).toEqual({ ok: false, reason: 'last-voter', id: 'a' });
    });
  });

  describe('remove', () => {
    it('removes an observer or a voter, with its address', () => {
      expect(planChange(three, { type: 'remove', id: 'd' })).toEqual({
        ok: true,
        config: { ...three, id: 5, observers: [], addresses: { a: 'A', b: 'B', c: 'C' } },
      });
      expect(planChange(three, { type: 'remove', id: 'b' })).toEqual({
        ok: true,
        config: { ...three, id: 5, voters: ['a', 'c'], addresses: { a: 'A', c: 'C', d: 'D' } },
      });
    });

    it('refuses to remove a stranger or the last voter', () => {
      expect(planChange(three, { type: 'remove', id: 'e' })).toEqual({ ok: false, reason: 'unknown-member', id: 'e' });
      const lone: Configuration = { ...three, voters: ['a'], addresses: {} };
      expect(planChange(lone, { type: 'remove', id: 'a' })).toEqual({ ok: false, reason: 'last-voter', id: 'a' });
    });
  });

  describe('the quorum rule of the new configuration', () => {
    const flexible = (phase1: number, phase2: number, voters: string[]): Configuration => ({
      ...three,
      voters,
      quorum: { phase1, phase2 },
      observers: ['d'],
      addresses: {},
    });

    it('keeps flexible sizes that still fit the new voters, up to the voter count', () => {
      expect(planChange(flexible(3, 3, ['a', 'b', 'c', 'e']), { type: 'promote', id: 'd' })).toMatchObject({
        ok: true,
        config: { quorum: { phase1: 3, phase2: 3 } },
      });
      expect(planChange(flexible(3, 2, ['a', 'b', 'c', 'e']), { type: 'demote', id: 'e' })).toMatchObject({
        ok: true,
        config: { voters: ['a', 'b', 'c'], quorum: { phase1: 3, phase2: 2 } },
      });
      expect(planChange(flexible(2, 3, ['a', 'b', 'c', 'e']), { type: 'demote', id: 'e' })).toMatchObject({
        ok: true,
        config: { voters: ['a', 'b', 'c'], quorum: { phase1: 2, phase2: 3 } },
      });
    });

    it('takes majorities when the sizes no longer fit', () => {
      // 3 + 2 quorums of five voters need not meet.
      expect(planChange(flexible(3, 2, ['a', 'b', 'c', 'e']), { type: 'promote', id: 'd' })).toMatchObject({ ok: true, config: { quorum: 'majority' } });
      // A quorum larger than the voters left.
      expect(planChange(flexible(4, 1, ['a', 'b', 'c', 'e']), { type: 'demote', id: 'e' })).toMatchObject({ ok: true, config: { quorum: 'majority' } });
      expect(planChange(flexible(1, 4, ['a', 'b', 'c', 'e']), { type: 'remove', id: 'e' })).toMatchObject({ ok: true, config: { quorum: 'majority' } });
    });

    it('goes through a joint configuration only when the old and new quorums need not meet', () => {
      expect(planChange(three, { type: 'promote', id: 'd' })).toMatchObject({ ok: true, config: { id: 5 } });
      expect(planChange(three, { type: 'promote', id: 'd' })).not.toHaveProperty('config.leaving');
      // A phase-1 quorum of one voter, 'e', misses the new majorities of a, b, c.
      expect(planChange(flexible(1, 4, ['a', 'b', 'c', 'e']), { type: 'remove', id: 'e' })).toMatchObject({
        ok: true,
        config: { leaving: { voters: ['a', 'b', 'c', 'e'], quorum: { phase1: 1, phase2: 4 } } },
      });
    });
  });
});

describe('finishJoint', () => {
  it('drops the leaving voters and counts the change', () => {
    const joint: Configuration = { ...three, id: 5, leaving: { voters: ['a', 'b', 'x'], quorum: 'majority' } };
    expect(finishJoint(joint)).toEqual({ ...three, id: 6 });
  });
});

describe('votersAdded', () => {
  it('names the voters the next configuration adds, counting leaving voters as present', () => {
    const joint: Configuration = { ...three, leaving: { voters: ['a', 'b', 'x'], quorum: 'majority' } };
    expect(votersAdded(three, { ...three, voters: ['a', 'b', 'c', 'd'] })).toEqual(['d']);
    expect(votersAdded(joint, { ...three, voters: ['a', 'x', 'd'] })).toEqual(['d']);
    expect(votersAdded(three, three)).toEqual([]);
  });
});
