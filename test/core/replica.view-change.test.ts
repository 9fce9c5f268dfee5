import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/core/index.js';
import { ManualCluster } from '../../src/testing/index.js';

// What a replica does when a chosen configuration changes its own place: a leader
// removed from the voters gives up what it held and names the most caught-up voter to
// campaign, and a member another leader removed still hears the commit index that moved
// it out. Each answer is checked by who got what.

/** Voters a, b, c and observer o, `a` elected and a heartbeat round answered by all. */
function cluster(windowSlots = 4): ManualCluster {
  const c = new ManualCluster({ voters: ['a', 'b', 'c'], observers: ['o'], windowSlots });
  c.elect('a');
  c.deliver();
  c.tick(['a'], 2);
  c.deliver();
  return c;
}

describe('a leader removed from the voters', () => {
  it('hands back every command it had not got chosen, and fails its pending reads, so none is lost', () => {
    const c = cluster(2);
    expect(c.changeMembers('a', { type: 'remove', id: 'a' })).toMatchObject({ ok: true });
    // Queued behind the change in a window of 2: not all of them get a slot before a leaves.
    for (const x of ['x1', 'x2', 'x3', 'x4', 'x5']) expect(c.propose('a', x)).toMatchObject({ ok: true });
    c.readIndex('a', 7);
    // Accepts and their answers only: the read's heartbeat round is never answered.
    c.deliver((m) => m.type !== 'heartbeat' && m.type !== 'heartbeatReply');
    expect(c.status('a').role).toBe('removed');
    const chosen = new Set(c.applied('b'));
    for (const x of ['x1', 'x2', 'x3', 'x4', 'x5']) expect(chosen.has(x) || c.dropped.includes(x), `${x} chosen or handed back`).toBe(true);
    expect(c.dropped.length).toBeGreaterThan(0);
    expect(c.reads).toContainEqual({ node: 'a', result: expect.objectContaining({ id: 7, ok: false }) });
  });

  it('tells the voter that reported the highest commit index to campaign, not merely the first', () => {
    const c = cluster(2);
    // b falls behind: it hears nothing of the next two commands.
    c.propose('a', 'v1');
    c.propose('a', 'v2');
    c.deliver((m) => m.to !== 'b' && m.from !== 'b');
    // A heartbeat round: c reports the commit index it learned, b is not heard.
    c.tick(['a'], 2);
    c.deliver((m) => m.to !== 'b' && m.from !== 'b');
    c.take((m) => m.to === 'b');
    expect(c.changeMembers('a', { type: 'remove', id: 'a' })).toMatchObject({ ok: true });
    const timeoutNow: string[] = [];
    c.deliver((m) => {
      const through = m.to !== 'b' && m.from !== 'b';
      if (m.type === 'timeoutNow' && through) timeoutNow.push(m.to);
      return through;
    });
    const toB = c.take((m) => m.to === 'b').filter((m) => m.type === 'timeoutNow');
    expect(c.status('a').role).toBe('removed');
    // (It may be told twice: once as the leader hands over, once as it leaves.)
    expect([...new Set([...timeoutNow, ...toB.map((m: Message) => m.to)])]).toEqual(['c']);
  });
});

describe('a member another leader removes', () => {
  it('hears the commit index that moved it out, and knows itself removed', () => {
    const c = cluster();
    expect(c.changeMembers('a', { type: 'remove', id: 'c' })).toMatchObject({ ok: true, config: { voters: ['a', 'b'] } });
    const commitsToC: number[] = [];
    c.deliver((m) => {
      if (m.type === 'commit' && m.to === 'c') commitsToC.push(m.commitIndex);
      return true;
    });
    const commit = c.status('a').commitIndex;
    expect(commitsToC).toContain(commit);
    expect(c.status('c').commitIndex).toBe(commit);
    expect(c.status('c').role).toBe('removed');
  });
});
