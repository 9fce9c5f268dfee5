import { describe, expect, it } from 'vitest';
import { PeerLiveness } from '../../src/groups/peer-liveness.js';
import { VirtualClock } from '../../src/testing/index.js';

function harness() {
  const clock = new VirtualClock();
  const events: string[] = [];
  const liveness = new PeerLiveness(clock, 10, 35, {
    ping: (peer) => events.push(`ping ${peer}`),
    suspect: (peer) => events.push(`suspect ${peer}`),
    recovered: (peer) => events.push(`recovered ${peer}`),
  });
  return { clock, events, liveness };
}

describe('PeerLiveness', () => {
  it('pings every known peer every pingMs, one ping per peer per round', async () => {
    const h = harness();
    h.liveness.know('b');
    h.liveness.know('c');
    h.liveness.know('b');
    h.liveness.start();
    await h.clock.advance(20);
    expect(h.events).toEqual(['ping b', 'ping c', 'ping b', 'ping c']);
  });

  it('suspects a peer not heard from for suspectAfterMs, once, and reports it recovered when heard again', async () => {
    const h = harness();
    h.liveness.know('b');
    h.liveness.know('c');
    h.liveness.start();
    for (let t = 0; t < 6; t++) {
      await h.clock.advance(10);
      h.liveness.heard('c');
    }
    expect(h.events.filter((e) => !e.startsWith('ping'))).toEqual(['suspect b']);
    expect(h.liveness.isSuspected('b')).toBe(true);
    expect(h.liveness.isSuspected('c')).toBe(false);
    h.liveness.heard('b');
    h.liveness.heard('b');
    expect(h.events.filter((e) => !e.startsWith('ping'))).toEqual(['suspect b', 'recovered b']);
    // Silent again: suspected again.
    await h.clock.advance(50);
    expect(h.events.filter((e) => e.startsWith('suspect'))).toEqual(['suspect b', 'suspect b', 'suspect c']);
  });

  it("takes the transport's word that a peer is unreachable without reporting it twice", async () => {
    const h = harness();
    h.liveness.know('b');
    h.liveness.start();
    h.liveness.unreachable('b');
    expect(h.liveness.isSuspected('b')).toBe(true);
    await h.clock.advance(100);
    expect(h.events.filter((e) => !e.startsWith('ping'))).toEqual([]);
    h.liveness.heard('b');
    expect(h.events.filter((e) => !e.startsWith('ping'))).toEqual(['recovered b']);
  });

  it('a peer first heard from is known from then on; nothing is sent once stopped', async () => {
    const h = harness();
    h.liveness.heard('d');
    expect(h.liveness.known()).toEqual(['d']);
    h.liveness.start();
    await h.clock.advance(10);
    h.liveness.stop();
    await h.clock.advance(100);
    expect(h.events).toEqual(['ping d']);
    expect(h.clock.pendingTimers).toBe(0);
  });
});
