import { describe, expect, it } from 'vitest';
import type { NodeMessage, TransportHandlers } from '../../src/runtime/index.js';
import { Prng, SimTransportHub, VirtualClock } from '../../src/testing/index.js';

function handlers(into: string[]): TransportHandlers {
  return { deliver: (m) => into.push(`${m.from}->${m.to} ${m.type}`), peerReachable: () => {}, peerUnreachable: () => {} };
}

const read = (from: string, to: string, id: number): NodeMessage => ({ type: 'readRequest', from, to, id });

describe('SimTransportHub', () => {
  it('delivers on the virtual clock, within the delay the conditions allow (in ticks of tickMs)', async () => {
    const clock = new VirtualClock();
    const hub = new SimTransportHub({ clock, random: new Prng(1), tickMs: 10, conditions: { lossRate: 0, duplicateRate: 0, delayTicksMax: 3 } });
    const got: string[] = [];
    const a = hub.transport('a');
    const b = hub.transport('b');
    await a.start(handlers([]));
    await b.start(handlers(got));
    for (let i = 0; i < 20; i++) a.send(read('a', 'b', i));
    expect(got).toEqual([]);
    await clock.advance(29);
    const early = got.length;
    await clock.advance(1);
    expect(got.length).toBe(20);
    expect(early).toBeLessThan(20);
  });

  it('partitions, one-way cuts and heal', async () => {
    const clock = new VirtualClock();
    const hub = new SimTransportHub({ clock, random: new Prng(2) });
    const got: string[] = [];
    const ends = ['a', 'b', 'c'].map((id) => hub.transport(id));
    for (const t of ends) await t.start(handlers(got));
    hub.partition([['a'], ['b', 'c']], ['a', 'b', 'c']);
    ends[0]!.send(read('a', 'b', 1));
    ends[1]!.send(read('b', 'c', 2));
    hub.heal();
    hub.cut('c', 'a');
    ends[2]!.send(read('c', 'a', 3));
    ends[0]!.send(read('a', 'c', 4));
    await clock.advance(100);
    expect(got.sort()).toEqual(['a->c readRequest', 'b->c readRequest']);
  });

  it('a crashed endpoint stops delivering at once and drops what its dead node sends; what it sent before still arrives', async () => {
    const clock = new VirtualClock();
    const hub = new SimTransportHub({ clock, random: new Prng(3) });
    const atA: string[] = [];
    const atB: string[] = [];
    const a = hub.transport('a');
    const b = hub.transport('b');
    await a.start(handlers(atA));
    await b.start(handlers(atB));
    a.send(read('a', 'b', 1));
    b.send(read('b', 'a', 2));
    hub.crash('a');
    a.send(read('a', 'b', 3));
    await clock.advance(100);
    expect(atA).toEqual([]);
    expect(atB).toEqual(['a->b readRequest']);
    const again = hub.transport('a');
    await again.start(handlers(atA));
    b.send(read('b', 'a', 4));
    await clock.advance(100);
    expect(atA).toEqual(['b->a readRequest']);
  });
});
