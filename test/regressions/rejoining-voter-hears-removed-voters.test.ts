import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/core/index.js';
import { ManualCluster } from '../../src/testing/index.js';

// Bug: a voter with no promise on record (new, or wiped) asks every voter it knows what
// it holds before it votes (the amnesia guard), and needs every answer. A voter removed
// meanwhile still answers (it holds what it voted), but once the rejoining voter learned
// the change it dropped that answer as coming from a non-member, and waited for it
// forever: it never voted again. In the soak (20261206:34127: five voters, flexible
// phase-1 quorum of 4, the leader n5 removed itself, n4 cut off from n2 while it
// probed) the four remaining voters needed n4 in every phase-1 quorum, and n4 refused
// every pre-vote while n5's answers to its fenced probes were dropped: no leader after
// healing. The answers of every voter the guard asks are now heard.
describe('regression: a rejoining voter hears the voters it asked, removed ones too', () => {
  it('a voter probing through a change that removes a voter it asked finishes rejoining', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c', 'd'], windowSlots: 2 });
    c.elect('a');
    c.deliver();
    c.propose('a', 'x');
    c.deliver();
    // d loses its storage and probes a, b and c; c's answer is held up.
    c.wipe('d');
    const betweenCAndD = (m: Message): boolean => (m.from === 'c' && m.to === 'd') || (m.from === 'd' && m.to === 'c');
    c.deliver((m) => !betweenCAndD(m));
    expect(c.status('d').rejoining).toBe('probing');
    // Meanwhile c is removed, and d learns it.
    expect(c.changeMembers('a', { type: 'remove', id: 'c' }).ok).toBe(true);
    for (let i = 0; i < 10; i++) {
      c.tick(['a', 'b', 'd']);
      c.deliver((m) => !betweenCAndD(m));
    }
    expect(c.status('d').configuration.voters).toEqual(['a', 'b', 'd']);
    expect(c.status('d').commitIndex).toBeGreaterThanOrEqual(c.status('d').configurationFrom - 1);
    expect(c.status('d').rejoining).toBe('probing');
    // c is heard again: d finishes rejoining, and votes.
    c.take(betweenCAndD);
    for (let i = 0; i < 10; i++) {
      c.tick(['a', 'b', 'c', 'd']);
      c.deliver();
    }
    expect(c.status('d').rejoining).toBeUndefined();
    // Its vote counts: with b down, a and d elect a leader and commit.
    c.crash('b');
    c.elect('a', ['a', 'd']);
    c.propose('a', 'y');
    for (let i = 0; i < 5; i++) {
      c.tick(['a', 'd']);
      c.deliver((m) => m.to !== 'b');
    }
    expect(c.applied('d')).toEqual(['x', 'y']);
  });
});
