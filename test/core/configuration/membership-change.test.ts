import { describe, expect, it } from 'vitest';
import type { Configuration } from '../../../src/core/index.js';
import { planChange } from '../../../src/core/index.js';

const three: Configuration = { id: 4, voters: ['a', 'b', 'c'], quorum: 'majority', observers: ['d'], addresses: { a: 'A', b: 'B', c: 'C', d: 'D' }, windowSlots: 8 };

describe('planChange: replace', () => {
  it('puts a caught-up observer in the place of a voter in one change, through a joint configuration, keeping the voter count', () => {
    const plan = planChange(three, { type: 'replace', remove: 'c', add: 'd' });
    expect(plan).toEqual({
      ok: true,
      config: { id: 5, voters: ['a', 'b', 'd'], quorum: 'majority', observers: [], addresses: { a: 'A', b: 'B', d: 'D' }, windowSlots: 8, leaving: { voters: ['a', 'b', 'c'], quorum: 'majority' } },
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
