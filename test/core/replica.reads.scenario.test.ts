import { describe, expect, it } from 'vitest';
import { ManualCluster } from '../../src/testing/index.js';

// Read-index and leadership transfer, scripted: the interleavings that matter.
describe('read index', () => {
  it('is confirmed only after a quorum answers a heartbeat round sent after the read began', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'] });
    c.elect('a');
    c.deliver();
    c.propose('a', 'x');
    c.deliver();
    // Heartbeats from before the read are in flight; answering them must not confirm it.
    c.tick(['a'], 2);
    const old = c.take((m) => m.type === 'heartbeat');
    expect(c.readIndex('a', 1).ok).toBe(true);
    for (const m of old) c.inject(m);
    const stale = (m: { type: string; seq?: number }): boolean => (m.type === 'heartbeat' || m.type === 'heartbeatReply') && m.seq! < 3;
    expect(c.deliver(stale)).toBeGreaterThanOrEqual(2);
    expect(c.inFlight.filter(stale)).toEqual([]);
    expect(c.reads).toEqual([]);
    c.deliver();
    expect(c.reads).toEqual([{ node: 'a', result: { id: 1, ok: true, index: 1 } }]);
  });

  it('counts no answer an observer gave, even once it is promoted while the read waits', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'], observers: ['o'], windowSlots: 2 });
    c.elect('a');
    c.deliver();
    c.tick(['a'], 2);
    c.deliver();
    c.readIndex('a', 7);
    // Only o answers the read's heartbeat round, as an observer: it vouches for no promise.
    c.deliver((m) => (m.type === 'heartbeat' || m.type === 'heartbeatReply') && (m.to === 'o' || m.from === 'o'));
    const held = c.take((m) => m.type === 'heartbeat');
    // o is promoted, and the change governs while the read waits: four voters, quorum three.
    expect(c.changeMembers('a', { type: 'promote', id: 'o' })).toMatchObject({ ok: true });
    c.propose('a', 'x');
    c.propose('a', 'y');
    c.deliver((m) => m.type !== 'heartbeat' && m.type !== 'heartbeatReply');
    expect(c.status('a').configuration.voters).toEqual(['a', 'b', 'c', 'o']);
    expect(c.status('a').commitIndex).toBeGreaterThanOrEqual(c.status('a').configurationFrom - 1);
    // b answers: with a, two of the four.
    for (const m of held) if (m.to === 'b') c.inject(m);
    c.deliver((m) => m.from === 'b' || m.to === 'b');
    expect(c.reads).toEqual([]);
    // c answers too: three voters.
    for (const m of held) if (m.to === 'c') c.inject(m);
    c.deliver((m) => m.from === 'c' || m.to === 'c');
    expect(c.reads).toEqual([{ node: 'a', result: { id: 7, ok: true, index: 0 } }]);
  });

  it('fails when the leader is deposed before a quorum answers', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'] });
    c.elect('a');
    c.deliver();
    c.readIndex('a', 7);
    c.take(() => true);
    c.elect('b', ['b', 'c']);
    c.deliver();
    expect(c.reads).toEqual([{ node: 'a', result: { id: 7, ok: false, leaderHint: 'b' } }]);
  });

  it('covers slots a new leader adopted in phase 1, and confirms only once it committed them', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'] });
    c.elect('a');
    c.deliver();
    c.propose('a', 'x');
    // b accepts x, then a crashes before anyone learns it was chosen.
    c.deliver((m) => m.type === 'accept' && m.to === 'b');
    c.deliver((m) => m.type === 'accepted');
    expect(c.status('a').commitIndex).toBe(1);
    c.take(() => true);
    c.crash('a');
    c.elect('b', ['b', 'c']);
    c.take((m) => m.type === 'accept');
    expect(c.status('b').commitIndex).toBe(0);
    c.readIndex('b', 1);
    c.deliver((m) => m.type === 'heartbeat' || m.type === 'heartbeatReply');
    // Until the adopted slot is committed, a configuration b has not heard of may govern.
    expect(c.reads).toEqual([]);
    // The dropped accepts go again (go-back-N on the next heartbeats); c acknowledges.
    c.tick(['b', 'c'], 4);
    c.deliver((m) => m.to !== 'a');
    expect(c.status('b').commitIndex).toBe(1);
    expect(c.reads).toEqual([{ node: 'b', result: { id: 1, ok: true, index: 1 } }]);
  });

  it('is not confirmed by a reply to a heartbeat of an earlier leadership of the same leader', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'] });
    c.elect('a');
    c.deliver();
    for (let i = 0; i < 5; i++) {
      c.tick(['a'], 2);
      c.deliver();
    }
    // b's answer to a late heartbeat round of a's first leadership is held back.
    c.tick(['a'], 2);
    c.deliver((m) => m.type === 'heartbeat' && m.to === 'b');
    const [late] = c.take((m) => m.type === 'heartbeatReply' && m.from === 'b');
    expect(late?.type === 'heartbeatReply' && late.seq).toBeGreaterThanOrEqual(6);
    c.take(() => true);
    c.elect('b', ['b', 'c']);
    c.deliver();
    c.elect('a');
    c.deliver();
    expect(c.readIndex('a', 1).ok).toBe(true);
    // c's answers are lost: only b's late reply, to the earlier ballot, reaches a.
    c.take(() => true);
    c.inject(late!);
    expect(c.reads).toEqual([]);
    // b's answer to a round of this leadership confirms it.
    c.tick(['a'], 2);
    c.deliver((m) => (m.type === 'heartbeat' && m.to === 'b') || (m.type === 'heartbeatReply' && m.from === 'b'));
    expect(c.reads).toEqual([{ node: 'a', result: { id: 1, ok: true, index: c.status('a').commitIndex } }]);
  });

  it('is immediate in a one-voter cluster', () => {
    const c = new ManualCluster({ voters: ['a'] });
    c.elect('a');
    c.readIndex('a', 1);
    expect(c.reads).toEqual([{ node: 'a', result: { id: 1, ok: true, index: 0 } }]);
  });
});

describe('leadership transfer', () => {
  it('waits for the target to hold every slot, then the target campaigns at once', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'] });
    c.elect('a');
    c.deliver();
    c.propose('a', 'x');
    c.deliver((m) => m.type === 'accept' && m.to === 'c');
    c.take((m) => m.type === 'accept');
    c.deliver();
    expect(c.replica('a').transferLeadership('b').ok).toBe(true);
    // b lacks slot 1: no timeoutNow yet, and new commands wait.
    c.propose('a', 'y');
    c.tick(['a'], 2);
    expect(c.inFlight.some((m) => m.type === 'timeoutNow')).toBe(false);
    expect(c.inFlight.filter((m) => m.type === 'accept').every((m) => m.type === 'accept' && m.values.length === 1)).toBe(true);
    c.deliver((m) => m.type !== 'timeoutNow');
    c.tick(['a'], 2);
    c.deliver();
    expect(c.status('b').role).toBe('leader');
    expect(c.status('a').role).toBe('follower');
    // y was handed back when a stepped down; x stayed chosen.
    expect(c.dropped).toEqual(['y']);
    expect(c.applied('b')).toEqual(['x']);
  });

  it('refuses a non-voter and a follower', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'], observers: ['o'] });
    c.elect('a');
    c.deliver();
    expect(c.replica('a').transferLeadership('o')).toEqual({ ok: false, reason: 'not-voter' });
    expect(c.replica('b').transferLeadership('c')).toEqual({ ok: false, reason: 'not-leader', leaderHint: 'a' });
  });
});
