/**
 * Membership scenarios, step by step: which messages a leader may send when a
 * configuration enters its window (see "Membership changes" in docs/protocol.md).
 */
import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/core/index.js';
import { ManualCluster } from '../../src/testing/index.js';

/** The last slot an accept carries. */
const lastSlot = (m: Message): number => (m.type === 'accept' ? m.firstSlot + m.values.length - 1 : 0);

describe('a configuration entering the window', () => {
  it("is proposed in only once a phase-1 quorum of it promised the leader's ballot: the leader asks its new voters first", () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'], observers: ['d'], windowSlots: 2 });
    // a is elected by a and b only: its promises cover the first configuration, not one with d voting and c silent.
    c.elect('a', ['a', 'b']);
    const withoutC = (m: Message): boolean => m.from !== 'c' && m.to !== 'c';
    c.deliver(withoutC);
    c.tick(['a', 'b', 'd'], 2);
    c.deliver(withoutC);
    const promoted = c.changeMembers('a', { type: 'promote', id: 'd' });
    expect(promoted.ok).toBe(true);
    // Carry everything but promises (and c), and watch what a sends.
    const earlyAccepts: Message[] = [];
    let from = Infinity;
    for (let round = 0; round < 60; round++) {
      from = c.status('a').configuration.id === 1 ? c.status('a').configurationFrom : Infinity;
      for (const m of c.take((m) => withoutC(m) && m.type !== 'promise')) {
        if (m.type === 'accept' && m.from === 'a' && lastSlot(m) >= from) earlyAccepts.push(m);
        c.inject(m);
      }
      c.propose('a', `x${round}`);
      c.tick(['a', 'b', 'd']);
    }
    expect(c.status('a').configuration.voters).toEqual(['a', 'b', 'c', 'd']);
    expect(c.status('a').role).toBe('leader');
    // Three of a, b, c, d must promise; only a and b did: nothing of the new configuration went out...
    expect(earlyAccepts).toEqual([]);
    expect(c.status('a').commitIndex).toBe(from - 1);
    // ...but a asked d (and c) to promise, in its own ballot.
    const promises = c.inFlight.filter((m) => m.type === 'promise' && m.to === 'a');
    expect(promises.map((m) => m.from)).toContain('d');
    // d's promise arrives: a proposes in the new configuration, and its first slot commits with a, b and d.
    c.deliver((m) => withoutC(m));
    for (let round = 0; round < 10; round++) {
      c.tick(['a', 'b', 'd']);
      c.deliver(withoutC);
    }
    expect(c.status('a').commitIndex).toBeGreaterThanOrEqual(from);
    expect(c.applied('a')).toHaveLength(60);
  });
});
