import { describe, expect, it } from 'vitest';
import { type Configuration, majority, noop, Replica, type Value } from '../../src/core/index.js';
import { ManualCluster } from '../../src/testing/index.js';

// A node started outside the configuration (as a machine added to a running cluster
// is, from the configuration it was given) has voted on nothing. When the chosen log
// makes it a voter, it must ask the other voters before it votes (the amnesia guard),
// because nothing it holds tells a fresh node from one whose disk was wiped.

const config = (id: number, voters: string[]): Configuration => ({ id, voters, quorum: 'majority', observers: [], addresses: {}, windowSlots: 4 });

function outsider(): Replica {
  return new Replica({ id: 'd', quorum: majority(['a']), random: () => 0, configuration: [{ from: 1, source: 0, config: config(0, ['a', 'b', 'c']) }] });
}

describe('a node that starts outside the configuration', () => {
  it('records no promise while it is removed', () => {
    const d = outsider();
    expect(d.role).toBe('removed');
    expect(d.takeOutput().persist).toBeUndefined();
    expect(d.status.promised).toEqual({ round: 0, node: '' });
  });

  it('probes every other voter once the chosen log makes it a voter, and votes on nothing before they answer', () => {
    const d = outsider();
    d.takeOutput();
    // Slot 1 adds d; with a window of 4 the change governs from slot 5.
    const values: Value[] = [{ kind: 'config', config: config(1, ['a', 'b', 'c', 'd']) }, noop, noop, noop, noop];
    d.step({ type: 'chosen', from: 'a', to: 'd', firstSlot: 1, values, commitIndex: 5 });
    const probes = d.takeOutput().messages.filter((m) => m.type === 'probe');
    expect(d.role).toBe('follower');
    expect(d.status.rejoining).toBe('probing');
    expect(probes.map((m) => m.to).sort()).toEqual(['a', 'b', 'c']);
    // Until they answer, an accept from a leader is not acknowledged.
    d.step({ type: 'accept', from: 'a', to: 'd', ballot: { round: 1, node: 'a' }, firstSlot: 6, values: [noop], commitIndex: 5 });
    expect(d.takeOutput().messages.filter((m) => m.type === 'accepted')).toEqual([]);
  });
});

describe('a voter removed while it rejoins', () => {
  it('drops its rejoin: once removed it neither probes nor waits to rebuild', () => {
    const c = new ManualCluster({ voters: ['a', 'b', 'c'], windowSlots: 2 });
    c.elect('a');
    c.tick(['a'], 2);
    c.deliver();
    c.wipe('b');
    expect(c.status('b').rejoining).toBe('probing');
    // b's probes never arrive; a removes b with c.
    c.take((m) => m.type === 'probe');
    expect(c.changeMembers('a', { type: 'remove', id: 'b' })).toMatchObject({ ok: true });
    c.deliver((m) => m.type !== 'probe');
    // b learns the change (it governs from slot 3: the window is 2) while still probing.
    expect(c.status('b').role).toBe('removed');
    expect(c.status('b').rejoining).toBeUndefined();
  });
});
