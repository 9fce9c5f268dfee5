import { describe, expect, it } from 'vitest';
import { leaderReplacedItselfWithObserver } from './self-replacing-leader.js';

// Bug: a candidate took the values its promises reported chosen only as values to
// propose again, never as chosen. The heir of a leader that removed itself is told to
// campaign before it hears the commit index that made it a voter (timeoutNow goes
// first: once it learns the change, it no longer takes the old leader's word), so it
// campaigns from a slot still governed by the configuration it does not vote in. Its
// promises said that slot was chosen, yet it was elected with the commit index below
// it: it could not propose there (it does not vote there), it handed leadership to
// the voter that had just left (which ignores timeoutNow, being removed), again after
// every transfer timeout, and a leader asks no one for chosen values. The remaining
// voter, hearing a live leader, never campaigned: the cluster stalled for good, the
// follower one slot ahead of its leader. Here a (voters a, b; window 2) replaces itself
// with the observer o; the change chosen at slot 2 governs from slot 4, so slot 3 is
// still a's and b's. A candidate now learns the chosen values its promises report, as
// from a `chosen` message, and leads from the slot after them. Found by the soak with
// membership changes (474678968:387946: leader at commit 178, follower at 180).
describe('regression: a candidate learns the values its promises report chosen', () => {
  it('the heir told to campaign before it heard the commit index leads from the first slot it votes in', () => {
    const c = leaderReplacedItselfWithObserver();
    expect(c.status('a').role).toBe('removed');

    // o hears timeoutNow before the commit index; the commit index (of a ballot below
    // the one o now campaigns in) is ignored. b hears it and learns slot 3.
    c.deliver((m) => m.type === 'timeoutNow' && m.to === 'o');
    expect(c.status('o').role).toBe('candidate');
    expect(c.status('o').commitIndex).toBe(2);
    c.deliver((m) => m.type !== 'promise');
    expect(c.status('b').commitIndex).toBe(3);
    // Every promise reports slot 3 chosen.
    const promises = c.take((m) => m.type === 'promise' && m.to === 'o');
    expect(promises.map((m) => (m.type === 'promise' ? m.chosen.map((e) => e.slot) : []))).toEqual(promises.map(() => [3]));
    for (const m of promises) c.inject(m);
    expect(c.status('o').role).toBe('leader');
    expect(c.status('o').commitIndex).toBe(3);

    // It proposes from slot 4, the first of its configuration, and commits with b.
    expect(c.propose('o', 'y').ok).toBe(true);
    for (let i = 0; i < 10; i++) {
      c.deliver();
      c.tick(['b', 'o']);
    }
    c.deliver();
    expect(c.status('o').role).toBe('leader');
    expect(c.applied('b')).toEqual(['x', 'y']);
    expect(c.applied('o')).toEqual(['x', 'y']);
  });
});
