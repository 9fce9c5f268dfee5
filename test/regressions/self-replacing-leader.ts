/**
 * The scenario two regressions share: leader a (voters a, b; window 2) replaces itself
 * with the observer o. The change, chosen at slot 2, governs from slot 4, so slot 3 is
 * still a's and b's. b's accept of slot 3 is held until o reported commit index 2, and
 * b's heartbeat replies are lost, so a picks o as its heir (the voter that reported the
 * most). Returns the cluster with slot 3 committed at a and its messages undelivered.
 */
import { expect } from 'vitest';
import type { Message } from '../../src/core/index.js';
import { ManualCluster } from '../../src/testing/index.js';

export function leaderReplacedItselfWithObserver(): ManualCluster {
  const c = new ManualCluster({ voters: ['a', 'b'], observers: ['o'], windowSlots: 2 });
  c.elect('a');
  c.deliver();
  c.propose('a', 'x');
  c.deliver();
  c.tick(['a', 'b', 'o'], 3);
  c.deliver();
  expect(c.changeMembers('a', { type: 'replace', remove: 'a', add: 'o' }).ok).toBe(true);
  const reportedByO = (): number =>
    c
      .replica('a')
      .memberProgress()
      .find((p) => p.id === 'o')?.commitIndex ?? 0;
  const slot3Accepted: Message[] = [];
  for (let round = 0; round < 20 && reportedByO() < 2; round++) {
    c.take((m) => m.type === 'heartbeatReply' && m.from === 'b');
    slot3Accepted.push(...c.take((m) => m.type === 'accepted' && m.from === 'b' && m.firstSlot === 3));
    for (const m of c.take(() => true)) c.inject(m);
    c.tick(['a', 'b']);
  }
  expect(reportedByO()).toBe(2);
  for (const m of slot3Accepted) c.inject(m);
  expect(c.status('a').commitIndex).toBe(3);
  return c;
}
