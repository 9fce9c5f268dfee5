import { describe, expect, it } from 'vitest';
import { ManualCluster } from '../../src/testing/index.js';

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
    // Every voter answered: it rebuilds (learns slot 1 from a), then votes again.
    c.deliver();
    expect(c.status('b').rejoining).toBeUndefined();
    expect(c.status('b').promised).toEqual(c.status('a').promised);
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
    expect(c.status('b').promised).toEqual(higher);
    c.tick(['a'], 2);
    c.deliver((m) => m.from === 'a' && m.to === 'b');
    expect(c.inFlight.some((m) => m.from === 'b' && (m.type === 'accepted' || m.type === 'heartbeatReply'))).toBe(false);
    for (const m of [...promise, ...held]) c.inject(m);
    c.deliver();
    expect(c.status('c').role).toBe('leader');
    c.propose('c', 'y');
    c.deliver();
    expect(c.applied('b')).toEqual(['x', 'y']);
  });
});
