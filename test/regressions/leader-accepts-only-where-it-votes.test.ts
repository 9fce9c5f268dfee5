import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/core/index.js';
import type { ManualCluster } from '../../src/testing/index.js';
import { leaderReplacedItselfWithObserver } from './self-replacing-leader.js';

// Bug: a leader elected while it learned that slots from its prepare's first slot on
// were chosen proposed their known values again and accepted them itself, without
// asking whether it votes in the configuration governing them. Here the leader a
// replaces itself with the observer o (window 2): the change, chosen at slot 2, governs
// from slot 4, so slot 3 is still decided by a and b. Once slot 3 is chosen a hands
// leadership to o; o campaigns from slot 3, learns slot 3 (the catch-up it asked for)
// while it waits for promises, and on winning accepted slot 3 in its own ballot
// although it does not vote there: "o accepted slot 3, but it does not vote in
// configuration 0, which governs it". A slot known chosen needs no proposal: a leader
// now starts after its commit index. Found by the soak with membership changes
// (20261206:56837).
describe('regression: a leader accepts only in slots whose configuration it votes in', () => {
  /**
   * a replaces itself with o; o campaigns from slot 3 and the answer telling it that slot
   * 3 is chosen is returned, not delivered, along with the cluster.
   */
  function campaignWhileSlot3IsChosen(): { c: ManualCluster; catchUp: Message[] } {
    const c = leaderReplacedItselfWithObserver();
    // a tells o the commit index (o asks a for slot 3), then to campaign.
    c.deliver((m) => m.type !== 'timeoutNow' && m.type !== 'chosen');
    const catchUp = c.take((m) => m.type === 'chosen' && m.to === 'o');
    c.deliver((m) => m.type === 'timeoutNow');
    const roles = ['a', 'b', 'o'].map((id) => `${id}:${c.status(id).role}/${c.status(id).commitIndex}`).join(' ');
    expect(roles).toBe('a:removed/3 b:follower/3 o:candidate/2');
    expect(catchUp.length).toBeGreaterThan(0);
    return { c, catchUp };
  }

  it('a promoted observer that learns, while it campaigns, the last slot before its configuration does not accept it', () => {
    const { c, catchUp } = campaignWhileSlot3IsChosen();
    // The answer arrives before the promises: o wins knowing slot 3.
    for (const m of catchUp) c.inject(m);
    expect(c.status('o').commitIndex).toBe(3);
    c.deliver();
    expect(c.status('o').role).toBe('leader');

    // It proposes from slot 4, the first of its configuration, and commits with b.
    c.propose('o', 'y');
    c.deliver();
    c.tick(['b', 'o'], 3);
    c.deliver();
    expect(c.applied('b')).toEqual(['x', 'y']);
    expect(c.applied('o')).toEqual(['x', 'y']);
  });

  it('such a leader counts for the handover to its configuration only once slot 3 is durable on its disk', () => {
    const { c, catchUp } = campaignWhileSlot3IsChosen();
    // o is driven by hand from here: its writes stay pending until said otherwise.
    const o = c.replica('o');
    for (const m of catchUp) o.step(m);
    const learned = o.takeOutput();
    expect(learned.persist?.chosen.map((e) => e.slot)).toContain(3);
    c.deliver((m) => m.to !== 'o');
    for (const m of c.take((m) => m.type === 'promise' && m.to === 'o')) o.step(m);
    o.propose([new TextEncoder().encode('y')]);
    // b reports commit index 3 in answer to o's heartbeats.
    const sent: Message[] = [...o.takeOutput().messages];
    expect(o.status.role).toBe('leader');
    for (const m of sent.filter((m) => m.type === 'heartbeat' && m.to === 'b')) c.inject(m);
    for (const m of c.take((m) => m.type === 'heartbeatReply' && m.to === 'o')) o.step(m);
    const slot4 = (m: Message): boolean => m.type === 'accept' && m.firstSlot <= 4 && m.firstSlot + m.values.length > 4;
    // a phase-2 quorum of {b, o} must hold slots 1..3 durably before slot 4 is proposed.
    expect([...sent, ...o.takeOutput().messages].filter(slot4)).toEqual([]);
    o.persisted(learned.persistSeq);
    expect(
      o
        .takeOutput()
        .messages.filter(slot4)
        .map((m) => m.to),
    ).toEqual(['b']);
  });
});
