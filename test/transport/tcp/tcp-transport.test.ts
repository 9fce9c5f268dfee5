import { afterEach, describe, expect, it, vi } from 'vitest';
import { batch, ConfigError, type NodeMessage, noop } from '../../../src/index.js';
import { RedialBackoff } from '../../../src/transport/tcp/redial-backoff.js';
import { TcpTransport, TransportError } from '../../../src/transport/tcp/index.js';
import { forward, freePorts, Opened, type StartedTransport, tcpTransport, type TestTcpOptions, testSecret, until } from './helpers.js';
import { sleep } from './raw-peer.js';

const opened = new Opened();
afterEach(() => opened.closeAll());
const start = (id: string, ports: readonly number[], options: TestTcpOptions = {}, ids?: readonly string[]): Promise<StartedTransport> =>
  opened.start(id, ports, options, ids);

describe('TcpTransport options', () => {
  const base = { id: 'a', clusterId: 'c', listen: { host: '127.0.0.1', port: 0 }, peers: { b: { host: '127.0.0.1', port: 9 } }, secret: testSecret };
  const field = (options: object): string | undefined => {
    try {
      new TcpTransport(options as never);
      return undefined;
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).field;
    }
  };

  it('are checked up front, naming the field at fault', () => {
    expect(field(base)).toBeUndefined();
    expect(field({ ...base, secret: undefined })).toBe('secret');
    expect(field({ ...base, secret: 'short' })).toBe('secret');
    expect(field({ ...base, clusterId: '' })).toBe('clusterId');
    expect(field({ ...base, peers: { a: { host: 'x', port: 1 } } })).toBe('peers.a');
    expect(field({ ...base, peers: { b: { host: 'x', port: 0 } } })).toBe('peers.b');
    expect(field({ ...base, listen: { host: '', port: 1 } })).toBe('listen');
    expect(field({ ...base, pingIntervalMs: 1_000, idleTimeoutMs: 1_500 })).toBe('idleTimeoutMs');
    expect(field({ ...base, reconnectDelayMsMin: 100, reconnectDelayMsMax: 50 })).toBe('reconnectDelayMsMax');
    expect(field({ ...base, queueBytesMax: 0 })).toBe('queueBytesMax');
  });
});

describe('RedialBackoff', () => {
  it('doubles from the minimum to the maximum, each delay jittered into [ceiling / 2, ceiling], and starts over after a reset', () => {
    const low = new RedialBackoff(10, 100, () => 0);
    expect([1, 2, 3, 4, 5, 6].map(() => low.next())).toEqual([5, 10, 20, 40, 50, 50]);
    const high = new RedialBackoff(10, 100, () => 0.999_999);
    const delays = [1, 2, 3, 4, 5].map(() => high.next());
    expect(delays.map((d) => Math.round(d))).toEqual([10, 20, 40, 80, 100]);
    high.reset();
    expect(Math.round(high.next())).toBe(10);
  });
});

describe('TcpTransport', () => {
  it('coalesces the messages of one event-loop turn into few writes and keeps their order', async () => {
    const ports = await freePorts(2);
    const b = await start('b', ports);
    const a = await start('a', ports);
    await until(() => a.transport.connectedPeers().includes('b'), 'a connected to b');
    const writesBefore = a.transport.stats.writes;
    for (let i = 0; i < 1_000; i++) a.transport.send(forward('a', 'b', i, 8));
    await until(() => b.delivered.length === 1_000, '1,000 messages');
    expect(b.delivered.map((m) => (m.type === 'forward' ? m.commands[0]![0] : -1))).toEqual(Array.from({ length: 1_000 }, (_, i) => i & 0xff));
    expect(a.transport.stats.writes - writesBefore).toBeLessThanOrEqual(2);
    expect(a.transport.stats.messagesSent).toBe(1_000);
    expect(b.transport.stats.messagesDelivered).toBe(1_000);
  });

  it('writes the first message of a quiet turn at once, and a busy turn (after one that sent many) in one write at its end', async () => {
    const ports = await freePorts(2);
    const b = await start('b', ports);
    const a = await start('a', ports);
    await until(() => a.transport.connectedPeers().includes('b'), 'a connected to b');
    const turn = async (messages: number): Promise<{ atOnce: number; inAll: number }> => {
      const before = a.transport.stats.writes;
      const delivered = b.delivered.length;
      for (let i = 0; i < messages; i++) a.transport.send(forward('a', 'b', i));
      const atOnce = a.transport.stats.writes - before;
      await until(() => b.delivered.length === delivered + messages, `${messages} messages`);
      return { atOnce, inAll: a.transport.stats.writes - before };
    };
    // A quiet link: the first message leaves before send returns, the rest at the turn's end.
    expect(await turn(1)).toEqual({ atOnce: 1, inAll: 1 });
    expect(await turn(100)).toEqual({ atOnce: 1, inAll: 2 });
    // The turn before sent many: this one waits for its end and leaves in one write.
    expect(await turn(100)).toEqual({ atOnce: 0, inAll: 1 });
    expect(await turn(1)).toEqual({ atOnce: 0, inAll: 1 });
    // The last turn sent one: the link is quiet again.
    expect(await turn(1)).toEqual({ atOnce: 1, inAll: 1 });
  });

  it('delivers accepts whose values, first read after every later frame arrived, are still the ones sent (no read buffer reused under them)', async () => {
    const ports = await freePorts(2);
    const b = await start('b', ports);
    const a = await start('a', ports);
    await until(() => a.transport.connectedPeers().includes('b'), 'a connected to b');
    const commandsOf = (i: number): Uint8Array[] => [new Uint8Array(40 + (i % 7)).fill(i & 0xff), Uint8Array.of(i >> 8, i & 0xff)];
    const accept = (i: number): NodeMessage => ({
      type: 'accept',
      from: 'a',
      to: 'b',
      ballot: { round: 1, node: 'a' },
      firstSlot: i,
      commitIndex: 0,
      values: [batch(commandsOf(i)), noop],
    });
    // Many frames over many writes and socket reads; none of the values is read until the last arrived.
    for (let turn = 0; turn < 20; turn++) {
      for (let i = turn * 100; i < (turn + 1) * 100; i++) a.transport.send(accept(i));
      await sleep(1);
    }
    await until(() => b.delivered.length === 2_000, '2,000 accepts');
    b.delivered.forEach((m, i) => {
      expect(m.type === 'accept' && m.firstSlot).toBe(i);
      expect(m.type === 'accept' ? m.values : undefined).toEqual([batch(commandsOf(i)), noop]);
    });
  });

  it('counts frames and bytes per peer, both ways, once its connection is authenticated', async () => {
    const ports = await freePorts(3);
    const b = await start('b', ports, {}, ['a', 'b', 'c']);
    const a = await start('a', ports, {}, ['a', 'b', 'c']);
    await until(() => a.transport.connectedPeers().includes('b'), 'a connected to b');
    for (let i = 0; i < 10; i++) a.transport.send(forward('a', 'b', i, 100));
    b.transport.send(forward('b', 'a', 1, 100));
    await until(() => b.delivered.length === 10 && a.delivered.length === 1, 'the messages');
    const ab = a.transport.peerStats()['b']!;
    const ba = b.transport.peerStats()['a']!;
    expect(ab.framesSent).toBe(10);
    expect(ba.framesReceived).toBe(10);
    expect(ba.framesSent).toBe(1);
    expect(ab.framesReceived).toBe(1);
    // Ten frames of at least 100 payload bytes each one way, and what the other side sent back (pings aside).
    expect(ab.bytesSent).toBeGreaterThan(1_000);
    expect(ba.bytesReceived).toBeGreaterThanOrEqual(ab.bytesSent);
    expect(ab.bytesSent).toBeLessThanOrEqual(a.transport.stats.bytesSent);
    // c is known (it has a port) and never started: nothing went to it, nothing came.
    expect(a.transport.peerStats()['c']).toEqual({ framesSent: 0, bytesSent: 0, framesReceived: 0, bytesReceived: 0 });
  });

  it("writes a large snapshot chunk on its own (a group's too), in order with the small messages around it", async () => {
    const ports = await freePorts(2);
    const b = await start('b', ports);
    const a = await start('a', ports);
    await until(() => a.transport.connectedPeers().includes('b'), 'a connected to b');
    const data = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7) & 0xff);
    const chunk = (offset: number) => ({ type: 'snapshotChunk' as const, from: 'a', to: 'b', transfer: 1, slot: 9, total: 900_000, offset, crc: 0, data });
    a.transport.send(forward('a', 'b', 1, 8));
    a.transport.send(chunk(0));
    a.transport.send(forward('a', 'b', 2, 8));
    a.transport.send(chunk(300_000));
    a.transport.send(chunk(600_000));
    a.transport.send(forward('a', 'b', 3, 8));
    a.transport.send({ type: 'group', from: 'a', to: 'b', group: 300, message: chunk(0) });
    a.transport.send(forward('a', 'b', 4, 8));
    await until(() => b.delivered.length === 8, 'eight messages');
    const name = (m: NodeMessage): string =>
      m.type === 'forward'
        ? `f${m.commands[0]![0]}`
        : m.type === 'snapshotChunk'
          ? `c${m.offset}`
          : m.type === 'group'
            ? `g${m.group}:${name(m.message)}`
            : m.type;
    expect(b.delivered.map(name)).toEqual(['f1', 'c0', 'f2', 'c300000', 'c600000', 'f3', 'g300:c0', 'f4']);
    for (const m of b.delivered) {
      const inner = m.type === 'group' ? m.message : m;
      if (inner.type === 'snapshotChunk') expect(Buffer.compare(inner.data, data)).toBe(0);
    }
    expect(a.transport.stats.messagesSent).toBe(8);
  });

  it('drops every message to and from a blocked peer, both ways, until healed (fault injection)', async () => {
    const ports = await freePorts(2);
    const b = await start('b', ports);
    const a = await start('a', ports);
    await until(() => a.transport.connectedPeers().includes('b'), 'a connected to b');
    a.transport.blockPeers(['b']);
    a.transport.send(forward('a', 'b', 1));
    b.transport.send(forward('b', 'a', 2));
    await sleep(100);
    expect(b.delivered).toHaveLength(0);
    expect(a.delivered).toHaveLength(0);
    expect(a.transport.stats.messagesBlocked).toBe(2);
    a.transport.blockPeers([]);
    a.transport.send(forward('a', 'b', 3));
    b.transport.send(forward('b', 'a', 4));
    await until(() => a.delivered.length === 1 && b.delivered.length === 1, 'delivery after healing');
  });

  it('tells the node when a peer goes away and when it is back', async () => {
    const ports = await freePorts(2);
    let b = await start('b', ports);
    const a = await start('a', ports);
    await until(() => a.events.includes('+b') && b.events.includes('+a'), 'both reachable');
    await b.transport.close();
    await until(() => a.events.includes('-b'), 'b unreachable at a');
    b = await start('b', ports);
    await until(() => a.events.filter((e) => e === '+b').length === 2, 'b reachable again at a');
    a.transport.send(forward('a', 'b', 1));
    await until(() => b.delivered.length === 1, 'delivery after the return');
    expect(a.events).toEqual(['+b', '-b', '+b']);
  });

  it('reports a peer unreachable when the first dial fails', async () => {
    const ports = await freePorts(2);
    const a = await start('a', ports);
    await until(() => a.events.includes('-b'), 'b unreachable');
    await start('b', ports);
    await until(() => a.events.includes('+b'), 'b reachable once it listens');
    expect(a.events).toEqual(['-b', '+b']);
  });

  it('keeps a quiet connection open with pings, and closes one that falls silent', async () => {
    const ports = await freePorts(2);
    const timing = { pingIntervalMs: 40, idleTimeoutMs: 120 };
    const b = await start('b', ports, timing);
    const a = await start('a', ports, timing);
    await until(() => a.transport.connectedPeers().includes('b'), 'connected');
    await sleep(500);
    expect(a.transport.stats.connectionsEstablished).toBe(1);
    expect(b.transport.stats.connectionsEstablished).toBe(1);
    // A peer that authenticates and then says nothing, not even pings.
    const ports2 = await freePorts(2);
    await start('b', ports2, timing);
    const silent = await opened.raw(ports2[1]!);
    expect((await silent.handshake({ cluster: 'test', from: 'a', to: 'b', secret: testSecret })).result).toBe('open');
    const openedAt = Date.now();
    await silent.waitClosed();
    expect(Date.now() - openedAt).toBeGreaterThanOrEqual(100);
  });

  it('times idleness on the monotonic clock: a wall clock stepped 2 h forward closes no connection, one stepped back still finds a silent peer', async () => {
    const ports = await freePorts(2);
    const timing = { pingIntervalMs: 40, idleTimeoutMs: 120 };
    const b = await start('b', ports, timing);
    const a = await start('a', ports, timing);
    await until(() => a.transport.connectedPeers().includes('b'), 'connected');
    const realNow = Date.now.bind(Date);
    const wallClock = vi.spyOn(Date, 'now');
    try {
      wallClock.mockImplementation(() => realNow() + 7_200_000);
      await sleep(300);
      expect(a.transport.stats.connectionsEstablished, 'a connection closed when the wall clock jumped').toBe(1);
      expect(b.transport.stats.connectionsEstablished).toBe(1);
      wallClock.mockImplementation(() => realNow() - 7_200_000);
      const ports2 = await freePorts(2);
      await start('b', ports2, timing);
      const silent = await opened.raw(ports2[1]!);
      expect((await silent.handshake({ cluster: 'test', from: 'a', to: 'b', secret: testSecret })).result).toBe('open');
      const openedAt = performance.now();
      await silent.waitClosed();
      expect(performance.now() - openedAt).toBeLessThan(2_000);
    } finally {
      wallClock.mockRestore();
    }
  });

  it('takes a newer connection from the same peer in place of the older one', async () => {
    const ports = await freePorts(2);
    const b = await start('b', ports);
    const first = await opened.raw(ports[1]!);
    const second = await opened.raw(ports[1]!);
    expect((await first.handshake({ cluster: 'test', from: 'a', to: 'b', secret: testSecret })).result).toBe('open');
    expect((await second.handshake({ cluster: 'test', from: 'a', to: 'b', secret: testSecret })).result).toBe('open');
    await first.waitClosed();
    expect(second.closed).toBe(false);
    expect(b.events).toEqual(['+a']);
  });

  it('drops and counts what it cannot send: before start, to an unknown peer, over frameBytesMax', async () => {
    const ports = await freePorts(2);
    const idle = tcpTransport('a', ['a', 'b'], ports);
    idle.send(forward('a', 'b', 1));
    expect(idle.stats.messagesDropped).toBe(1);
    const b = await start('b', ports, { frameBytesMax: 1_000 });
    const a = await start('a', ports, { frameBytesMax: 1_000 });
    a.transport.send(forward('a', 'nobody', 1));
    a.transport.send(forward('a', 'b', 2, 2_000));
    a.transport.send(forward('a', 'b', 3, 10));
    await until(() => b.delivered.length === 1, 'the message that fits');
    expect(a.transport.stats.messagesDropped).toBe(2);
    expect(a.transport.stats.connectionsEstablished).toBe(1);
  });

  it('refuses a second start and a taken port with TransportError', async () => {
    const ports = await freePorts(2);
    const b = await start('b', ports);
    await expect(b.transport.start({ deliver: () => {}, peerReachable: () => {}, peerUnreachable: () => {} })).rejects.toBeInstanceOf(TransportError);
    const clash = tcpTransport('b', ['a', 'b'], ports);
    await expect(clash.start({ deliver: () => {}, peerReachable: () => {}, peerUnreachable: () => {} })).rejects.toThrow(/cannot listen/);
  });

  it('follows membership: setPeer adds a peer and connects, removePeer drops it', async () => {
    const ports = await freePorts(3);
    const ids = ['a', 'b', 'c'];
    const a = await start('a', ports, { peers: { b: { host: '127.0.0.1', port: ports[1]! } } }, ids);
    const c = await start('c', ports, {}, ids);
    a.transport.send(forward('a', 'c', 1));
    expect(a.transport.stats.messagesDropped).toBe(1);
    a.transport.setPeer('c', { host: '127.0.0.1', port: ports[2]! });
    await until(() => a.transport.connectedPeers().includes('c'), 'a connected to c');
    a.transport.send(forward('a', 'c', 2));
    await until(() => c.delivered.length === 1, 'delivery to the added peer');
    a.transport.removePeer('c');
    a.transport.send(forward('a', 'c', 3));
    await until(() => c.events.includes('-a'), 'c saw a leave');
    expect(a.transport.connectedPeers()).toEqual([]);
    expect(c.delivered).toHaveLength(1);
  });

  it('takes the dial of an authenticated node it does not know (a member it has not learned of), answers on that connection, forgets it after; at most unknownPeersMax', async () => {
    const ports = await freePorts(4);
    const ids = ['0', '1', 'a', 'c'];
    // c knows nobody; '0' and '1' (sorting first, so they dial) know c.
    const c = await start('c', ports, { peers: {}, unknownPeersMax: 1 }, ids);
    const zero = await start('0', ports, { peers: { c: { host: '127.0.0.1', port: ports[3]! } } }, ids);
    zero.transport.send(forward('0', 'c', 1));
    await until(() => c.delivered.length === 1, 'delivery from the unknown node');
    c.transport.send(forward('c', '0', 2));
    await until(() => zero.delivered.length === 1, 'the answer over its connection');
    // A second unknown node is one too many.
    const one = await start('1', ports, { peers: { c: { host: '127.0.0.1', port: ports[3]! } } }, ids);
    one.transport.send(forward('1', 'c', 3));
    await until(() => one.warnings.some((w) => /unknown node id "1"/.test(w)), 'the second unknown node refused');
    expect(c.delivered).toHaveLength(1);
    // Gone: forgotten, so it no longer takes a slot, and what is sent to it is dropped.
    await zero.transport.close();
    await until(() => !c.transport.connectedPeers().includes('0'), 'c forgot 0');
    const dropped = c.transport.stats.messagesDropped;
    c.transport.send(forward('c', '0', 4));
    expect(c.transport.stats.messagesDropped).toBe(dropped + 1);
    await until(() => c.delivered.some((m) => m.from === '1'), "1's redial taken once 0 left");
  });

  it('dials, as the side that waits, a peer that has not dialed it for an idle timeout (the peer does not know it yet)', async () => {
    const ports = await freePorts(2);
    const ids = ['a', 'c'];
    // a sorts first, so a would dial; but only c knows a.
    const a = await start('a', ports, { peers: {} }, ids);
    const c = await start('c', ports, { pingIntervalMs: 50, idleTimeoutMs: 200 }, ids);
    c.transport.send(forward('c', 'a', 1));
    await until(() => a.delivered.length >= 1, 'c dialed a after waiting');
    a.transport.send(forward('a', 'c', 2));
    await until(() => c.delivered.length === 1, 'the answer');
    // Once a knows c's address, the connection stays as it is.
    a.transport.setPeer('c', { host: '127.0.0.1', port: ports[1]! });
    a.transport.send(forward('a', 'c', 3));
    await until(() => c.delivered.length === 2, 'a second answer');
    expect(c.events).toEqual(['+a']);
  });
});
