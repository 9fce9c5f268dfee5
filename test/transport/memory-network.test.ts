import { describe, expect, it } from 'vitest';
import { InvariantError, type NodeId } from '../../src/core/index.js';
import type { Clock, TimerHandle } from '../../src/runtime/clock.js';
import { ClosedError } from '../../src/runtime/errors.js';
import type { NodeMessage } from '../../src/runtime/runtime-messages.js';
import type { Transport, TransportHandlers } from '../../src/runtime/transport.js';
import { MemoryNetwork, type MemoryNetworkOptions } from '../../src/transport/memory-network.js';
import { configError } from '../config-error.js';

/** A clock that moves only when told to; timers due together run in the order they were set. */
class VirtualClock implements Clock {
  private time = 0;
  private nextId = 1;
  private readonly timers = new Map<number, { readonly at: number; readonly callback: () => void }>();

  now(): number {
    return this.time;
  }

  wallTime(): number {
    return this.time;
  }

  setTimer(callback: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, callback });
    return id;
  }

  clearTimer(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }

  /** Timers set and not yet run or cleared. */
  get pending(): number {
    return this.timers.size;
  }

  /** Runs every timer due within `ms` (including ones those set), in time order, then moves to now + ms. */
  advance(ms = 0): void {
    const end = this.time + ms;
    for (;;) {
      let next: [number, { readonly at: number; readonly callback: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= end && (next === undefined || entry[1].at < next[1].at)) next = entry;
      if (next === undefined) break;
      this.timers.delete(next[0]);
      this.time = next[1].at;
      next[1].callback();
    }
    this.time = end;
  }
}

/** A small seeded generator (mulberry32), so a run can be replayed. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const heartbeat = (from: NodeId, to: NodeId, seq = 1): NodeMessage => ({
  type: 'heartbeat',
  from,
  to,
  ballot: { round: 1, node: from },
  commitIndex: 0,
  seq,
});

/** A node as the network sees it: its transport, and what its handlers heard. */
interface Peer {
  readonly transport: Transport;
  readonly handlers: TransportHandlers;
  readonly delivered: NodeMessage[];
  /** Reachability reports in order: `+b` reachable, `-b` unreachable. */
  readonly heard: string[];
}

function peer(network: MemoryNetwork, id: NodeId): Peer {
  const delivered: NodeMessage[] = [];
  const heard: string[] = [];
  const handlers: TransportHandlers = {
    deliver: (message) => delivered.push(message),
    peerUnreachable: (p) => heard.push(`-${p}`),
    peerReachable: (p) => heard.push(`+${p}`),
  };
  return { transport: network.transport(id), handlers, delivered, heard };
}

async function started(network: MemoryNetwork, ids: readonly NodeId[]): Promise<Record<NodeId, Peer>> {
  const peers: Record<NodeId, Peer> = {};
  for (const id of ids) {
    const p = peer(network, id);
    await p.transport.start(p.handlers);
    peers[id] = p;
  }
  return peers;
}

/** Sends one message along every directed pair and returns the pairs delivered, as `a>b`. */
function links(peers: Record<NodeId, Peer>, clock: VirtualClock): string[] {
  const ids = Object.keys(peers);
  for (const p of Object.values(peers)) p.delivered.length = 0;
  for (const from of ids) for (const to of ids) if (from !== to) peers[from]!.transport.send(heartbeat(from, to));
  clock.advance(0);
  return Object.values(peers)
    .flatMap((p) => p.delivered.map((m) => `${m.from}>${m.to}`))
    .sort();
}

function allLinks(ids: readonly NodeId[]): string[] {
  return ids.flatMap((from) => ids.filter((to) => to !== from).map((to) => `${from}>${to}`)).sort();
}

describe('MemoryNetwork: delivery', () => {
  it('delivers to the addressee on a later turn, never inside send, as the very object sent', async () => {
    const network = new MemoryNetwork(); // the system clock, delay 0
    const { a, b } = await started(network, ['a', 'b']);
    const message = heartbeat('a', 'b');
    a!.transport.send(message);
    expect(b!.delivered).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(b!.delivered).toHaveLength(1);
    expect(b!.delivered[0]).toBe(message);
    expect(a!.delivered).toEqual([]);
    expect(network.counts).toEqual({ sent: 1, delivered: 1, dropped: 0, duplicated: 0 });
  });

  it('delivers only to message.to: a third node hears nothing', async () => {
    const clock = new VirtualClock();
    const network = new MemoryNetwork({ clock });
    const { a, b, c } = await started(network, ['a', 'b', 'c']);
    a!.transport.send(heartbeat('a', 'c'));
    clock.advance(0);
    expect(c!.delivered.map((m) => m.to)).toEqual(['c']);
    expect(b!.delivered).toEqual([]);
    expect(a!.delivered).toEqual([]);
  });

  it('drops and counts messages to a node that is not started, closed, or unknown', async () => {
    const clock = new VirtualClock();
    const network = new MemoryNetwork({ clock });
    const { a, c } = await started(network, ['a', 'c']);
    const b = peer(network, 'b'); // never started
    await c!.transport.close();
    a!.transport.send(heartbeat('a', 'b'));
    a!.transport.send(heartbeat('a', 'c'));
    a!.transport.send(heartbeat('a', 'nobody'));
    clock.advance(100);
    expect(b.delivered).toEqual([]);
    expect(c!.delivered).toEqual([]);
    expect(network.counts).toEqual({ sent: 3, delivered: 0, dropped: 3, duplicated: 0 });
    // The same send reaches b once it has started: the drops above were its state, not the link.
    await b.transport.start(b.handlers);
    a!.transport.send(heartbeat('a', 'b'));
    clock.advance(0);
    expect(b.delivered).toHaveLength(1);
  });

  it('send never throws, even after close; the message is dropped and counted', async () => {
    const clock = new VirtualClock();
    const network = new MemoryNetwork({ clock });
    const { a, b } = await started(network, ['a', 'b']);
    await a!.transport.close();
    expect(() => a!.transport.send(heartbeat('a', 'b'))).not.toThrow();
    expect(() => b!.transport.send(null as unknown as NodeMessage)).not.toThrow();
    clock.advance(10);
    expect(b!.delivered).toEqual([]);
    expect(network.counts).toMatchObject({ sent: 2, delivered: 0, dropped: 2 });
  });

  it('close cancels deliveries on their way to the closed node: no handler runs after close', async () => {
    const clock = new VirtualClock();
    const network = new MemoryNetwork({ clock, delayMs: { min: 10, max: 10 } });
    const { a, b } = await started(network, ['a', 'b']);
    a!.transport.send(heartbeat('a', 'b'));
    b!.transport.send(heartbeat('b', 'a')); // sent before b closes: still delivered
    expect(network.inflight).toBe(2);
    await b!.transport.close();
    expect(clock.pending).toBe(1);
    clock.advance(20);
    expect(b!.delivered).toEqual([]);
    expect(a!.delivered.map((m) => m.from)).toEqual(['b']);
    expect(network.counts).toEqual({ sent: 2, delivered: 1, dropped: 1, duplicated: 0 });
    expect(network.inflight).toBe(0);
  });

  it('hands out one transport per id; once closed, a new one models a restart', async () => {
    const clock = new VirtualClock();
    const network = new MemoryNetwork({ clock, delayMs: { min: 5, max: 5 } });
    const { a, b } = await started(network, ['a', 'b']);
    expect(configError(() => network.transport('b')).field).toBe('id');
    expect(configError(() => network.transport('')).field).toBe('id');
    a!.transport.send(heartbeat('a', 'b', 1)); // on its way to the old b
    await b!.transport.close();
    const restarted = peer(network, 'b');
    await restarted.transport.start(restarted.handlers);
    a!.transport.send(heartbeat('a', 'b', 2));
    clock.advance(5);
    expect(restarted.delivered.map((m) => (m.type === 'heartbeat' ? m.seq : -1))).toEqual([2]);
    expect(b!.delivered).toEqual([]);
  });

  it('refuses to start a closed transport (ClosedError) or one already started', async () => {
    const network = new MemoryNetwork({ clock: new VirtualClock() });
    const a = peer(network, 'a');
    await a.transport.start(a.handlers);
    await expect(a.transport.start(a.handlers)).rejects.toBeInstanceOf(InvariantError);
    await a.transport.close();
    await expect(a.transport.close()).resolves.toBeUndefined();
    await expect(a.transport.start(a.handlers)).rejects.toBeInstanceOf(ClosedError);
  });
});

describe('MemoryNetwork: faults', () => {
  const ids = ['a', 'b', 'c', 'd', 'e'];

  it('partition: nodes talk only within their group; unlisted ids form one more group', async () => {
    const clock = new VirtualClock();
    const network = new MemoryNetwork({ clock });
    const peers = await started(network, ids);
    expect(links(peers, clock)).toEqual(allLinks(ids));
    network.partition(['a', 'b'], ['c']);
    expect(links(peers, clock)).toEqual(['a>b', 'b>a', 'd>e', 'e>d']);
    network.partition(['a', 'c', 'd', 'e']); // replaces the previous partition: b is alone
    expect(links(peers, clock)).toEqual(allLinks(['a', 'c', 'd', 'e']));
    network.heal();
    expect(links(peers, clock)).toEqual(allLinks(ids));
  });

  it('cut loses one direction only; isolate loses both directions of one node; heal undoes both', async () => {
    const clock = new VirtualClock();
    const network = new MemoryNetwork({ clock });
    const peers = await started(network, ['a', 'b', 'c']);
    network.cut('a', 'b');
    expect(links(peers, clock)).toEqual(['a>c', 'b>a', 'b>c', 'c>a', 'c>b']);
    network.isolate('c');
    expect(links(peers, clock)).toEqual(['b>a']);
    network.heal();
    expect(links(peers, clock)).toEqual(allLinks(['a', 'b', 'c']));
  });

  it('a partition also loses messages already in flight on the link', async () => {
    const clock = new VirtualClock();
    const network = new MemoryNetwork({ clock, delayMs: { min: 10, max: 10 } });
    const { a, b } = await started(network, ['a', 'b']);
    a!.transport.send(heartbeat('a', 'b'));
    network.partition(['a'], ['b']);
    clock.advance(10);
    expect(b!.delivered).toEqual([]);
    expect(network.counts).toMatchObject({ delivered: 0, dropped: 1 });
  });

  it('validates partition and cut arguments', () => {
    const network = new MemoryNetwork({ clock: new VirtualClock() });
    expect(configError(() => network.partition(['a', 'b'], ['b'])).field).toBe('groups');
    expect(configError(() => network.cut('a', 'a')).field).toBe('to');
  });

  it('dropRate 1 drops every message', async () => {
    const clock = new VirtualClock();
    const network = new MemoryNetwork({ clock, dropRate: 1 });
    const { a, b } = await started(network, ['a', 'b']);
    for (let seq = 1; seq <= 50; seq++) a!.transport.send(heartbeat('a', 'b', seq));
    clock.advance(0);
    expect(b!.delivered).toEqual([]);
    expect(network.counts).toEqual({ sent: 50, delivered: 0, dropped: 50, duplicated: 0 });
  });

  it('duplicateRate 1 delivers every message twice, the same object both times', async () => {
    const clock = new VirtualClock();
    const network = new MemoryNetwork({ clock, duplicateRate: 1 });
    const { a, b } = await started(network, ['a', 'b']);
    const sent = [1, 2, 3].map((seq) => heartbeat('a', 'b', seq));
    for (const m of sent) a!.transport.send(m);
    clock.advance(0);
    expect(b!.delivered).toEqual([sent[0], sent[0], sent[1], sent[1], sent[2], sent[2]]);
    expect(b!.delivered[1]).toBe(sent[0]);
    expect(network.counts).toEqual({ sent: 3, delivered: 6, dropped: 0, duplicated: 3 });
  });

  it('setConditions changes loss and delay at runtime, and refuses bad values whole', async () => {
    const clock = new VirtualClock();
    const network = new MemoryNetwork({ clock, dropRate: 1 });
    const { a, b } = await started(network, ['a', 'b']);
    a!.transport.send(heartbeat('a', 'b', 1));
    network.setConditions({ dropRate: 0, delayMs: { min: 30, max: 30 } });
    a!.transport.send(heartbeat('a', 'b', 2));
    clock.advance(29);
    expect(b!.delivered).toEqual([]);
    clock.advance(1);
    expect(b!.delivered).toHaveLength(1);
    expect(configError(() => network.setConditions({ dropRate: 0.5, duplicateRate: 2 })).field).toBe('duplicateRate');
    a!.transport.send(heartbeat('a', 'b', 3)); // dropRate 0.5 was not applied: still delivered
    clock.advance(30);
    expect(b!.delivered).toHaveLength(2);
  });

  const badOptions: ReadonlyArray<readonly [MemoryNetworkOptions, string]> = [
    [{ dropRate: 1.5 }, 'dropRate'],
    [{ dropRate: -0.1 }, 'dropRate'],
    [{ duplicateRate: Number.NaN }, 'duplicateRate'],
    [{ delayMs: { min: -1, max: 0 } }, 'delayMs.min'],
    [{ delayMs: { min: 5, max: 2 } }, 'delayMs.max'],
    [{ delayMs: { min: 0, max: Number.POSITIVE_INFINITY } }, 'delayMs.max'],
    [{ delayMs: null as unknown as { min: number; max: number } }, 'delayMs'],
    [{ inflightMax: 0 }, 'inflightMax'],
    [{ inflightMax: 2.5 }, 'inflightMax'],
    [{ random: 3 as unknown as () => number }, 'random'],
    [{ clock: {} as Clock }, 'clock'],
  ];

  it.each(badOptions)('validates options up front: %o → field %s', (options, field) => {
    const error = configError(() => new MemoryNetwork(options));
    expect(error.field).toBe(field);
    expect(error.message).toMatch(/^MemoryNetwork: /);
  });
});

describe('MemoryNetwork: bounded memory', () => {
  it('drops messages to a peer that is not started at once: nothing waits in memory', async () => {
    const clock = new VirtualClock();
    const network = new MemoryNetwork({ clock, delayMs: { min: 1000, max: 1000 } });
    const { a } = await started(network, ['a']);
    peer(network, 'b');
    for (let seq = 1; seq <= 100; seq++) a!.transport.send(heartbeat('a', 'b', seq));
    expect(network.inflight).toBe(0);
    expect(clock.pending).toBe(0);
    expect(network.counts).toMatchObject({ sent: 100, dropped: 100 });
  });

  it('keeps at most inflightMax messages in flight per directed link, dropping the rest', async () => {
    const clock = new VirtualClock();
    const network = new MemoryNetwork({ clock, delayMs: { min: 1000, max: 1000 }, inflightMax: 3 });
    const { a, b, c } = await started(network, ['a', 'b', 'c']);
    for (let seq = 1; seq <= 5; seq++) a!.transport.send(heartbeat('a', 'b', seq));
    for (let seq = 1; seq <= 2; seq++) a!.transport.send(heartbeat('a', 'c', seq)); // another link: room left
    b!.transport.send(heartbeat('b', 'a')); // the reverse direction is its own link
    expect(network.inflight).toBe(6);
    expect(network.counts).toMatchObject({ sent: 8, dropped: 2 });
    clock.advance(1000);
    expect(b!.delivered.map((m) => (m.type === 'heartbeat' ? m.seq : -1))).toEqual([1, 2, 3]);
    expect(c!.delivered).toHaveLength(2);
    expect(a!.delivered).toHaveLength(1);
    a!.transport.send(heartbeat('a', 'b', 6)); // delivered ones free their room
    expect(network.inflight).toBe(1);
  });
});

describe('MemoryNetwork: reachability reports', () => {
  it('a start is reported to the started peers; the newcomer starts from the truth', async () => {
    const network = new MemoryNetwork({ clock: new VirtualClock() });
    const a = peer(network, 'a');
    const b = peer(network, 'b');
    await a.transport.start(a.handlers);
    await b.transport.start(b.handlers);
    const c = peer(network, 'c');
    await c.transport.start(c.handlers);
    expect(a.heard).toEqual(['+b', '+c']);
    expect(b.heard).toEqual(['+c']);
    expect(c.heard).toEqual([]);
  });

  it('a partition is reported once to each side, and heal reports it back', async () => {
    const network = new MemoryNetwork({ clock: new VirtualClock() });
    const { a, b, c } = await started(network, ['a', 'b', 'c']);
    for (const p of [a, b, c]) p!.heard.length = 0;
    network.partition(['a'], ['b', 'c']);
    network.partition(['a'], ['b', 'c']); // no change, no report
    expect(a!.heard).toEqual(['-b', '-c']);
    expect(b!.heard).toEqual(['-a']);
    expect(c!.heard).toEqual(['-a']);
    network.heal();
    expect(a!.heard).toEqual(['-b', '-c', '+b', '+c']);
    expect(b!.heard).toEqual(['-a', '+a']);
    expect(c!.heard).toEqual(['-a', '+a']);
  });

  it('a one-way cut is reported to the sender side only; isolate to everyone', async () => {
    const network = new MemoryNetwork({ clock: new VirtualClock() });
    const { a, b, c } = await started(network, ['a', 'b', 'c']);
    for (const p of [a, b, c]) p!.heard.length = 0;
    network.cut('a', 'b');
    expect(a!.heard).toEqual(['-b']);
    expect(b!.heard).toEqual([]);
    network.isolate('c');
    expect(a!.heard).toEqual(['-b', '-c']);
    expect(b!.heard).toEqual(['-c']);
    expect(c!.heard).toEqual(['-a', '-b']);
  });

  it('a close is reported to the others, a restart too; the closed handlers hear nothing more', async () => {
    const network = new MemoryNetwork({ clock: new VirtualClock() });
    const { a, b, c } = await started(network, ['a', 'b', 'c']);
    for (const p of [a, b, c]) p!.heard.length = 0;
    await b!.transport.close();
    expect(a!.heard).toEqual(['-b']);
    expect(c!.heard).toEqual(['-b']);
    network.partition(['a'], ['c']);
    expect(b!.heard).toEqual([]);
    network.heal();
    const restarted = peer(network, 'b');
    await restarted.transport.start(restarted.handlers);
    expect(a!.heard).toEqual(['-b', '-c', '+c', '+b']);
    expect(c!.heard).toEqual(['-b', '-a', '+a', '+b']);
    expect(b!.heard).toEqual([]);
  });
});

describe('MemoryNetwork: driven by a virtual clock and a seed', () => {
  /** Three nodes chat for 200 ms under loss, duplication and delay; returns the delivery trace. */
  async function run(seed: number): Promise<{ trace: string[]; sendOrder: number[]; deliveryOrder: number[]; network: MemoryNetwork }> {
    const clock = new VirtualClock();
    const network = new MemoryNetwork({
      clock,
      random: seededRandom(seed),
      delayMs: { min: 1, max: 50 },
      dropRate: 0.1,
      duplicateRate: 0.1,
    });
    const ids = ['a', 'b', 'c'];
    const sentAt = new Map<number, number>();
    const trace: string[] = [];
    const deliveryOrder: number[] = [];
    const transports: Transport[] = [];
    for (const id of ids) {
      const transport = network.transport(id);
      await transport.start({
        deliver: (m) => {
          const seq = m.type === 'heartbeat' ? m.seq : -1;
          const delay = clock.now() - sentAt.get(seq)!;
          expect(delay, `message #${seq} arrived after ${delay} ms`).toBeGreaterThanOrEqual(1);
          expect(delay).toBeLessThanOrEqual(50);
          deliveryOrder.push(seq);
          trace.push(`${clock.now().toFixed(3)} ${m.from}>${m.to} #${seq}`);
        },
        peerUnreachable: () => {},
        peerReachable: () => {},
      });
      transports.push(transport);
    }
    let seq = 0;
    for (let ms = 0; ms < 200; ms++) {
      for (let i = 0; i < ids.length; i++) {
        const from = ids[i]!;
        const to = ids[(i + 1 + (ms % 2)) % ids.length]!;
        sentAt.set(++seq, clock.now());
        transports[i]!.send(heartbeat(from, to, seq));
      }
      clock.advance(1);
      const { sent, duplicated, delivered, dropped } = network.counts;
      expect(sent + duplicated).toBe(delivered + dropped + network.inflight);
    }
    clock.advance(50);
    return { trace, sendOrder: [...sentAt.keys()], deliveryOrder, network };
  }

  it('replays exactly from the same seed, and a different seed gives a different run', async () => {
    const first = await run(42);
    const again = await run(42);
    const other = await run(7);
    expect(first.trace.length).toBeGreaterThan(400);
    expect(again.trace).toEqual(first.trace);
    expect(other.trace).not.toEqual(first.trace);
  });

  it('random delays reorder, loss and duplication happen at about their rates, and nothing is left in flight', async () => {
    const { sendOrder, deliveryOrder, network } = await run(42);
    expect(deliveryOrder).not.toEqual([...deliveryOrder].sort((x, y) => x - y)); // reordered
    const { sent, delivered, dropped, duplicated } = network.counts;
    expect(sent).toBe(sendOrder.length);
    expect(dropped / sent).toBeGreaterThan(0.05);
    expect(dropped / sent).toBeLessThan(0.15);
    expect(duplicated / sent).toBeGreaterThan(0.05);
    expect(duplicated / sent).toBeLessThan(0.15);
    expect(network.inflight).toBe(0);
    expect(delivered).toBe(deliveryOrder.length);
    expect(sent + duplicated).toBe(delivered + dropped);
  });
});
