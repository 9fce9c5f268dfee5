import { describe, expect, it } from 'vitest';
import { compareBallots } from '../../src/core/index.js';
import { ManualCluster } from '../../src/testing/index.js';

/** a leads a, b, c with x chosen; b was wiped and every voter answered its fenced round: it rebuilds. */
function rebuildingB(): ManualCluster {
  const c = new ManualCluster({ voters: ['a', 'b', 'c'] });
  c.elect('a');
  c.propose('a', 'x');
  c.deliver();
  c.wipe('b');
  c.deliver((m) => m.type === 'probe' || m.type === 'probeReply');
  return c;
}

// The amnesia guard, scripted: a voter whose storage was wiped restarts under the same id.
describe('amnesia', () => {
  it('a wiped voter does not vote until every voter answered, then learns and votes again', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'] });
    c.elect('a');
    c.propose('a', 'x');
    c.deliver();
    expect(c.status('b').commitIndex).toBe(1);
    c.wipe('b');
    expect(c.status('b').rejoining).toBe('probing');
    // Only one answer: still probing, and the leader's accepts are not acknowledged.
    c.deliver((m) => m.type === 'probe' && m.to === 'a');
    c.deliver((m) => m.type === 'probeReply');
    expect(c.status('b').rejoining).toBe('probing');
    c.propose('a', 'y');
    c.deliver((m) => m.type === 'accept' && m.to === 'b');
    expect(c.inFlight.filter((m) => m.type === 'accepted' && m.from === 'b')).toEqual([]);
    // Nor are its heartbeats answered: a reply vouches for a promise b may have lost.
    c.tick(['a'], 2);
    expect(c.deliver((m) => m.type === 'heartbeat' && m.to === 'b')).toBe(1);
    expect(c.status('b').leader).toBe('a');
    expect(c.inFlight.filter((m) => m.type === 'heartbeatReply' && m.from === 'b')).toEqual([]);
    // Every voter answered: a second round fences off b's old ballots (a promises b's
    // fence, so a steps down), b rebuilds (learns the log from a), then votes again.
    c.deliver();
    expect(c.status('b').rejoining).toBeUndefined();
    expect(c.status('a').role).not.toBe('leader');
    expect(c.status('b').promised).toEqual(c.status('a').promised);
    c.elect('a');
    c.propose('a', 'z');
    c.deliver();
    expect(c.applied('b')).toEqual(['x', 'y', 'z']);
  });

  it('a promise made before the wipe still binds: the rejoined voter takes a promise at least as high', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'] });
    c.elect('a');
    c.propose('a', 'x');
    c.deliver();
    // a hands over to c; c's prepare to a is held back, b promises c's ballot, and that
    // promise is still on its way to c when b's storage is wiped.
    expect(c.replica('a').transferLeadership('c').ok).toBe(true);
    c.tick(['a']);
    c.deliver((m) => m.type === 'timeoutNow');
    const held = c.take((m) => m.type === 'prepare' && m.to === 'a');
    c.deliver((m) => m.type === 'prepare' && m.to === 'b');
    const promise = c.take((m) => m.type === 'promise' && m.from === 'b');
    expect(promise).toHaveLength(1);
    const higher = c.status('c').promised;
    expect(higher.node).toBe('c');
    c.wipe('b');
    c.deliver((m) => m.type === 'probe' || m.type === 'probeReply' || m.type === 'catchUp' || m.type === 'chosen');
    expect(c.status('b').rejoining).toBeUndefined();
    // It promised c's ballot before the wipe: its promise now is at least that, so the
    // old leader's lower ballot cannot win it back while c counts the old promise.
    expect(compareBallots(c.status('b').promised, higher)).toBeGreaterThanOrEqual(0);
    c.tick(['a'], 2);
    c.deliver((m) => m.from === 'a' && m.to === 'b');
    expect(c.inFlight.some((m) => m.from === 'b' && (m.type === 'accepted' || m.type === 'heartbeatReply'))).toBe(false);
    for (const m of [...promise, ...held]) c.inject(m);
    c.deliver();
    c.elect('c');
    c.propose('c', 'y');
    c.deliver();
    expect(c.applied('b')).toEqual(['x', 'y']);
  });

  it('fences off the accepts it sent as leader before the wipe that are still on their way', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'] });
    c.elect('c');
    c.propose('c', 'x');
    c.deliver();
    // c proposes y: its own accept is durable; the one to a is lost, the one to b delayed.
    c.propose('c', 'y');
    c.take((m) => m.type === 'accept' && m.to === 'a');
    const late = c.take((m) => m.type === 'accept' && m.to === 'b');
    expect(late).toHaveLength(1);
    c.wipe('c');
    // Both probe rounds: the second carries a fence ballot every voter promises.
    c.deliver((m) => m.type === 'probe' || m.type === 'probeReply');
    // The old accept lands now: had b taken it, y would be chosen (c's forgotten vote and
    // b's) with nobody left to report it. b refuses it.
    for (const m of late) c.inject(m);
    expect(c.inFlight.some((m) => m.type === 'accepted' && m.from === 'b')).toBe(false);
    c.deliver((m) => m.type !== 'accepted');
    expect(c.status('c').rejoining).toBeUndefined();
    // a and c elect a leader without b: slot 2 must not be chosen twice.
    c.elect('a', ['a', 'c']);
    c.deliver((m) => m.to !== 'b' && m.from !== 'b');
    c.propose('a', 'z');
    c.deliver((m) => m.to !== 'b' && m.from !== 'b');
    expect(c.applied('a')).toEqual(c.applied('c'));
    expect(c.applied('a')).toContain('z');
  });

  it('a rebuilding voter does not vote before it learned the chosen log the voters report', () => {
    const c = rebuildingB();
    // Every voter answered the fenced round, but slot 1 is not learned yet.
    expect(c.status('b').rejoining).toBe('rebuilding');
    c.deliver((m) => m.type === 'catchUp' || m.type === 'chosen');
    expect(c.status('b').rejoining).toBeUndefined();
    expect(c.applied('b')).toEqual(['x']);
  });

  it('a rebuilding voter asks again for the chosen log when its catch-up request was lost', () => {
    const c = rebuildingB();
    expect(c.take((m) => m.type === 'catchUp' && m.from === 'b')).toHaveLength(1);
    // Only b's clock runs: no leader's message can prompt it.
    c.tick(['b'], 10);
    c.deliver((m) => m.type === 'catchUp' || m.type === 'chosen');
    expect(c.status('b').rejoining).toBeUndefined();
    expect(c.applied('b')).toEqual(['x']);
  });

  it('a rejoined voter campaigns above a round it saw while rebuilding', () => {
    const c = rebuildingB();
    expect(c.status('b').rejoining).toBe('rebuilding');
    // b ignores a prepare while rebuilding, but not its round.
    c.inject({ type: 'prepare', from: 'c', to: 'b', ballot: { round: 50, node: 'c' }, firstSlot: 2 });
    c.deliver();
    expect(c.status('b').rejoining).toBeUndefined();
    expect(c.status('b').promised.round).toBeLessThan(50);
    c.elect('b');
    expect(c.status('b').promised.round).toBeGreaterThan(50);
  });

  it('takes on as its own the votes of the fenced round: a value its forgotten vote chose survives', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'] });
    c.elect('c');
    c.propose('c', 'x');
    c.deliver();
    // y is chosen by c's vote and b's, and nobody learns it: b's answer is lost.
    c.propose('c', 'y');
    c.take((m) => m.type === 'accept' && m.to === 'a');
    c.deliver((m) => m.type === 'accept' && m.to === 'b');
    c.take((m) => m.type === 'accepted' && m.from === 'b');
    c.wipe('b');
    c.deliver();
    expect(c.status('b').rejoining).toBeUndefined();
    // c is gone: only b's rebuilt vote tells a of y.
    c.crash('c');
    c.elect('a', ['a', 'b']);
    c.deliverWithin(['a', 'b']);
    c.propose('a', 'z');
    c.deliverWithin(['a', 'b']);
    expect(c.applied('a')).toEqual(['x', 'y', 'z']);
  });

  it('takes on a vote of the fenced round only in slots it votes in', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c', 'd'], windowSlots: 2, limits: { acceptSlotsMax: 1 } });
    c.elect('a');
    expect(c.changeMembers('a', { type: 'demote', id: 'b' })).toMatchObject({ ok: true });
    c.deliver();
    c.propose('a', 'p');
    c.deliver();
    // b is promoted again in slot 4, from slot 6 on: slot 5 is still the demoted
    // configuration's, and its value v reaches only the leader.
    expect(c.changeMembers('a', { type: 'promote', id: 'b' })).toMatchObject({ ok: true });
    c.propose('a', 'v');
    expect(c.take((m) => m.type === 'accept' && m.to !== 'a' && m.firstSlot === 5)).toHaveLength(2);
    c.deliver();
    expect(c.status('a').commitIndex).toBe(4);
    // b rebuilds: v is the fenced round's only open vote, in a slot b does not vote in
    // (the invariants would catch b accepting it).
    c.wipe('b');
    c.deliver((m) => m.type !== 'accept');
    expect(c.status('b').rejoining).toBeUndefined();
    expect(c.status('b').lastAcceptedSlot).toBe(0);
  });

  it('takes on no vote of the fenced round in a slot it learned chosen while rebuilding', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'] });
    c.elect('a');
    c.propose('a', 'x');
    c.deliver();
    // y is accepted by a and c, and nobody learns it chosen yet.
    c.propose('a', 'y');
    c.take((m) => m.type === 'accept' && m.to === 'b');
    c.deliver((m) => m.type === 'accept' && m.to === 'c');
    c.take((m) => m.type === 'accepted' && m.from === 'c');
    c.wipe('b');
    c.deliver((m) => m.type === 'probe' || m.type === 'probeReply');
    // The fenced round reported slot 1 chosen and y open in slot 2.
    expect(c.status('b')).toMatchObject({ rejoining: 'rebuilding', rejoinTarget: 1, commitIndex: 0 });
    c.take((m) => m.type === 'catchUp' && m.from === 'b');
    // c leads a and c, and y is chosen in slot 2.
    c.elect('c', ['a', 'c']);
    c.deliverWithin(['a', 'c']);
    expect(c.status('c').commitIndex).toBe(2);
    c.take((m) => m.to === 'b');
    c.propose('c', 'z');
    const [accept] = c.take((m) => m.type === 'accept' && m.to === 'b');
    c.take(() => true);
    // b's request to a went unanswered; its cooldown ends, and the leader's accept comes
    // before b's output is taken (the runtime steps what arrived in a turn, then takes
    // it): b asks the leader, which answers past the plan, up to slot 2.
    for (let i = 0; i < 20; i++) c.replica('b').tick();
    c.inject(accept!);
    c.deliver((m) => m.type === 'catchUp' || (m.type === 'chosen' && m.to === 'b'));
    expect(c.status('b')).toMatchObject({ rejoining: undefined, commitIndex: 2 });
    // y was chosen before b voted again: its fenced vote in slot 2 is not recorded.
    expect(c.status('b').lastAcceptedSlot).toBe(0);
  });

  it('asks the voter the fenced round found with the chosen log as soon as the rebuild starts, before anything else stepped', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'] });
    c.elect('a');
    c.propose('a', 'x');
    c.deliver();
    c.wipe('b');
    // The first round finds history: b probes again with a fence.
    c.deliver((m) => (m.type === 'probe' || m.type === 'probeReply') && m.fence.round === 0);
    expect(c.status('b').rejoining).toBe('probing');
    // a leads on and sends b an accept, held.
    c.propose('a', 'y');
    const [accept] = c.take((m) => m.type === 'accept' && m.to === 'b');
    c.take((m) => m.type === 'accept');
    // c answers the fenced round first, so c is the voter to learn the chosen log from.
    c.deliver((m) => (m.type === 'probe' && m.to === 'c') || (m.type === 'probeReply' && m.from === 'c'));
    c.deliver((m) => m.type === 'probe' && m.to === 'a');
    const [lastReply] = c.take((m) => m.type === 'probeReply' && m.from === 'a');
    // a's answer and a's accept are both stepped before b's output is taken.
    c.replica('b').step(lastReply!);
    c.inject(accept!);
    expect(c.status('b').rejoining).toBe('rebuilding');
    expect(c.inFlight.filter((m) => m.type === 'catchUp').map((m) => m.to)).toEqual(['c']);
  });
});
