import { expect, it } from 'vitest';
import type { Message } from '../../src/core/index.js';
import { ManualCluster } from '../../src/testing/index.js';

// Bug: a leader elected below slots governed by a configuration it does not vote in
// hands leadership to a voter of that configuration, picking the one that reported the
// highest commit index. That voter may be one that left: it committed every slot of
// the configuration, so it knows it no longer votes and ignores timeoutNow. The
// transfer timed out and the leader picked it again, forever; the voters that could
// campaign heard a live leader and never did. The soak's 474678968:387946 ended that
// way (its leader handed over to n1, which had removed itself). Here a replaces itself
// with o among four voters (a direct change: the old and new majorities meet); o is
// told to campaign before it learns that slot 3, the last of a's configuration, is
// chosen, and is elected by b, c and d, who accepted slot 3 but did not hear it was
// chosen (a's promise, which says so, is lost). A leader now skips voters that
// reported every slot of the configuration committed and vote in none after it.
const ids = ['a', 'b', 'c', 'd', 'o'];

/** The cluster once o leads at commit index 2, below slot 3 of a's configuration, which only a knows chosen. */
function oLeadsBelowTheChange(): ManualCluster {
  const c = new ManualCluster({ voters: ['a', 'b', 'c', 'd'], observers: ['o'], windowSlots: 2 });
  c.elect('a');
  // b, c and d's heartbeat replies are lost: o reports the highest commit index and is a's heir.
  const lost = (m: Message): boolean => m.type === 'heartbeatReply' && m.from !== 'o';
  c.deliver((m) => !lost(m));
  c.propose('a', 'x');
  c.deliver((m) => !lost(m));
  c.tick(ids, 3);
  c.deliver((m) => !lost(m));
  c.take(lost);
  const change = c.changeMembers('a', { type: 'replace', remove: 'a', add: 'o' });
  expect(change.ok && change.config.voters).toEqual(['b', 'c', 'd', 'o']);
  // Slot 3 is chosen only once o reported commit index 2 (the change, chosen at slot 2).
  const reportedByO = (): number =>
    c
      .replica('a')
      .memberProgress()
      .find((p) => p.id === 'o')?.commitIndex ?? 0;
  const slot3Accepted: Message[] = [];
  for (let round = 0; round < 20 && reportedByO() < 2; round++) {
    c.take(lost);
    slot3Accepted.push(...c.take((m) => m.type === 'accepted' && m.firstSlot + m.count - 1 >= 3));
    for (const m of c.take(() => true)) c.inject(m);
    c.tick(['a', 'b', 'c', 'd']);
  }
  expect(reportedByO()).toBe(2);
  for (const m of slot3Accepted) c.inject(m);
  expect(c.status('a').role).toBe('removed');

  // o hears timeoutNow; nobody hears that slot 3 is chosen, and a's promise is lost.
  for (const m of c.take(() => true)) if (m.type === 'timeoutNow' && m.to === 'o') c.inject(m);
  expect(c.status('o').role).toBe('candidate');
  c.take((m) => m.from === 'a');
  c.deliver((m) => m.from !== 'a');
  const roles = ids.map((id) => `${id}:${c.status(id).role}/${c.status(id).commitIndex}`).join(' ');
  expect(roles).toBe('a:removed/3 b:follower/2 c:follower/2 d:follower/2 o:leader/2');
  return c;
}

it('a leader that does not vote in its next slot hands over to a voter that can campaign, not to one that left', () => {
  const c = oLeadsBelowTheChange();
  // o cannot propose slot 3; a voter of a's configuration that still votes takes over.
  for (let i = 0; i < 200; i++) {
    c.deliver();
    c.tick(ids);
  }
  c.deliver();
  expect(ids.map((id) => c.status(id).commitIndex)).toEqual([3, 3, 3, 3, 3]);
  const leader = ids.find((id) => c.status(id).role === 'leader');
  expect(['b', 'c', 'd', 'o']).toContain(leader);
  expect(c.propose(leader!, 'y').ok).toBe(true);
  for (let i = 0; i < 10; i++) {
    c.deliver();
    c.tick(['b', 'c', 'd', 'o']);
  }
  c.deliver();
  for (const id of ['b', 'c', 'd', 'o']) expect(c.applied(id)).toEqual(['x', 'y']);
});

it('it does not skip a voter that reported every slot of the configuration committed but votes in the next one', () => {
  const c = oLeadsBelowTheChange();
  // b learns that slot 3 is chosen and reports it; so does a, which left. c and d do not.
  c.inject({ type: 'chosen', from: 'a', to: 'b', firstSlot: 3, values: [c.replica('a').chosenValue(3)!], commitIndex: 3 });
  const told: string[] = [];
  for (let i = 0; i < 60 && told.length < 3; i++) {
    c.deliver((m) => {
      // Each transfer times out (its timeoutNow is lost), so o picks again each time.
      if (m.type === 'timeoutNow') {
        told.push(m.to);
        return false;
      }
      if (m.from === 'a' || m.to === 'a') return m.type === 'heartbeat' || m.type === 'heartbeatReply';
      // Only b learns slot 3.
      if (m.type === 'chosen' || m.type === 'commit' || m.type === 'catchUp') return m.to === 'b';
      return true;
    });
    c.tick(ids);
  }
  expect(c.status('b').commitIndex).toBe(3);
  expect(c.status('o')).toMatchObject({ role: 'leader', commitIndex: 2 });
  // b reports the most and still votes: it is picked every time; a, which left, never.
  expect(told.length).toBeGreaterThanOrEqual(3);
  expect([...new Set(told)]).toEqual(['b']);
});
