/**
 * What TcpTransport refuses (docs/security.md): the wrong secret, cluster, certificate
 * or node id; forged, replayed and out-of-order handshakes; bad frames; connections
 * that never finish their handshake, or too many at once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { prefixFrame } from '../../../src/encoding/frame-reader.js';
import { encodeMessage, protocolVersion } from '../../../src/transport/codec/index.js';
import { handshakeBytes } from '../../../src/transport/tcp/handshake.js';
import { forward, freePorts, Opened, type StartedTransport, testSecret, tlsOf, type TestTcpOptions, until } from './helpers.js';
import { sleep } from './raw-peer.js';

const opened = new Opened();
afterEach(() => opened.closeAll());
const start = (id: string, ports: readonly number[], options: TestTcpOptions = {}, ids?: readonly string[]): Promise<StartedTransport> =>
  opened.start(id, ports, options, ids);
const raw = (port: number, localAddress?: string) => opened.raw(port, localAddress);

/** Sends a→b for a while and returns what b got: nothing, when b refused a. */
async function trySending(a: StartedTransport, ms = 400): Promise<void> {
  for (let i = 0; i < ms / 20; i++) {
    a.transport.send(forward('a', 'b', i));
    await sleep(20);
  }
}

describe('TcpTransport refuses peers that cannot prove who they are', () => {
  it('the wrong shared secret: refused both ways, nothing delivered, nobody reachable', async () => {
    const ports = await freePorts(2);
    const b = await start('b', ports);
    const a = await start('a', ports, { secret: 'another secret of enough bytes' });
    await trySending(a);
    expect(b.delivered).toEqual([]);
    expect(a.reachable).toEqual([]);
    expect(b.reachable).toEqual([]);
    expect(b.transport.stats.handshakesFailed).toBeGreaterThan(0);
    expect(b.warnings.join('\n')).toMatch(/wrong proof of the shared secret/);
    // a refuses b too: b's proof (in its welcome) does not verify under a's secret.
    expect(a.warnings.join('\n')).toMatch(/wrong proof of the shared secret/);
  });

  it('a secret rotates in three rolling restarts without a pair that refuses each other', async () => {
    const [old, next] = ['the old secret of enough bytes', 'the new secret of enough bytes'];
    const step1 = { secret: old, acceptedSecrets: [next] };
    const step2 = { secret: next, acceptedSecrets: [old] };
    const step3 = { secret: next };
    // Every pair of steps a rolling restart can put side by side connects, both ways round.
    for (const [left, right] of [
      [{ secret: old }, step1],
      [step1, step2],
      [step2, step3],
      [step1, step1],
      [step3, step2],
      [step2, step1],
    ] as const) {
      const ports = await freePorts(2);
      const b = await start('b', ports, right);
      const a = await start('a', ports, left);
      a.transport.send(forward('a', 'b', 1));
      await until(() => b.delivered.length === 1, `a delivery from ${JSON.stringify(left)} to ${JSON.stringify(right)}`);
      await opened.closeAll();
    }
    // Skipping the middle step leaves nodes that refuse each other.
    const ports = await freePorts(2);
    const b = await start('b', ports, step3);
    const a = await start('a', ports, { secret: old });
    await trySending(a, 200);
    expect(b.delivered).toEqual([]);
  });

  it('another cluster id: refused, nothing delivered', async () => {
    const ports = await freePorts(2);
    const b = await start('b', ports);
    const a = await start('a', ports, { clusterId: 'other' });
    await trySending(a);
    expect(b.delivered).toEqual([]);
    expect(a.reachable).toEqual([]);
    expect(b.warnings.join('\n')).toMatch(/cluster "other", this node in "test"/);
    // The dialer is told only that the cluster is wrong, not which one this is.
    expect(a.warnings.join('\n')).toMatch(/refused by the peer: wrong cluster id/);
  });

  it('a node id the acceptor does not know, with unknownPeersMax 0: refused', async () => {
    const ports = await freePorts(3);
    const cluster = ['0', 'a', 'b'];
    // b listens on ports[2] and knows only a; '0' knows b.
    const b = await start('b', [ports[1]!, ports[2]!], { unknownPeersMax: 0 }, ['a', 'b']);
    const stranger = await start('0', ports, { peers: { b: { host: '127.0.0.1', port: ports[2]! } } }, cluster);
    for (let i = 0; i < 20; i++) {
      stranger.transport.send(forward('0', 'b', i));
      await sleep(20);
    }
    expect(b.delivered).toEqual([]);
    expect(b.warnings.join('\n')).toMatch(/unknown node id "0"/);
  });

  it('a peer that dials against the dial rule: refused', async () => {
    const ports = await freePorts(2);
    const a = await start('a', ports);
    // b's id sorts after a's: a dials b, so b dialing a is refused.
    const r = await raw(ports[0]!);
    const outcome = await r.handshake({ cluster: 'test', from: 'b', to: 'a', secret: testSecret });
    expect(outcome).toEqual({ result: 'refused', reason: 'a dials b, not the other way round' });
    expect(a.delivered).toEqual([]);
  });

  it('a forged proof: refused, and messages sent around the handshake never arrive', async () => {
    const ports = await freePorts(2);
    const b = await start('b', ports); // a never starts: the raw peer plays it
    const r = await raw(ports[1]!);
    r.write(prefixFrame(encodeMessage(forward('a', 'b', 1)))); // before any hello
    const before = await r.next();
    expect(before).toMatchObject({ kind: 'refuse' });
    const r2 = await raw(ports[1]!);
    const outcome = await r2.handshake({ cluster: 'test', from: 'a', to: 'b', proof: new Uint8Array(32).fill(7) });
    expect(outcome).toEqual({ result: 'refused', reason: 'authentication failed: wrong proof of the shared secret' });
    r2.write(prefixFrame(encodeMessage(forward('a', 'b', 2))));
    await sleep(50);
    expect(b.delivered).toEqual([]);
    expect(b.reachable).toEqual([]);
  });

  it('a replayed proof: refused, because the acceptor picks a fresh nonce for every connection', async () => {
    const ports = await freePorts(2);
    const b = await start('b', ports);
    const nonce = new Uint8Array(32).fill(1);
    const honest = await raw(ports[1]!);
    const first = await honest.handshake({ cluster: 'test', from: 'a', to: 'b', secret: testSecret, nonce });
    expect(first.result).toBe('open');
    honest.close();
    // An eavesdropper replays the same hello and the same proof on a new connection.
    const replayer = await raw(ports[1]!);
    const second = await replayer.handshake({ cluster: 'test', from: 'a', to: 'b', nonce, proof: first.result === 'open' ? first.proof : new Uint8Array(0) });
    expect(second).toEqual({ result: 'refused', reason: 'authentication failed: wrong proof of the shared secret' });
    expect(b.transport.stats.connectionsEstablished).toBe(1);
  });

  it('an unknown protocol version: refused with a reason that names both versions', async () => {
    const ports = await freePorts(2);
    await start('b', ports);
    const r = await raw(ports[1]!);
    const outcome = await r.handshake({ cluster: 'test', from: 'a', to: 'b', secret: testSecret, version: 99 });
    expect(outcome).toEqual({ result: 'refused', reason: `protocol version 99; this node speaks ${protocolVersion}` });
  });

  it('a frame out of turn during the handshake: refused', async () => {
    const ports = await freePorts(2);
    await start('b', ports);
    const r = await raw(ports[1]!);
    r.write(handshakeBytes({ kind: 'ready', version: protocolVersion }));
    expect(await r.next()).toEqual({ kind: 'refuse', version: protocolVersion, reason: 'a ready frame where a hello was due' });
    await r.waitClosed();
  });
});

describe('TcpTransport under mutual TLS refuses the wrong certificates', () => {
  it('a certificate from another CA: the TLS handshake fails, nothing delivered', async () => {
    const ports = await freePorts(2);
    const b = await start('b', ports, { secret: null, tls: tlsOf('b') });
    const a = await start('a', ports, { secret: null, tls: { ...tlsOf('rogue-a'), ca: tlsOf('b').ca } });
    await trySending(a);
    expect(b.delivered).toEqual([]);
    expect(b.reachable).toEqual([]);
    expect(b.warnings.join('\n')).toMatch(/TLS handshake failed/);
  });

  it('a certificate from the right CA that names another node: refused by the acceptor', async () => {
    const ports = await freePorts(2);
    const b = await start('b', ports, { secret: null, tls: tlsOf('b') });
    const a = await start('a', ports, { secret: null, tls: tlsOf('mallory') });
    await trySending(a);
    expect(b.delivered).toEqual([]);
    expect(b.warnings.join('\n')).toMatch(/certificate does not name a/);
  });

  it('an acceptor whose certificate names another node: refused by the dialer', async () => {
    const ports = await freePorts(2);
    const b = await start('b', ports, { secret: null, tls: tlsOf('mallory') });
    const a = await start('a', ports, { secret: null, tls: tlsOf('a') });
    await trySending(a);
    expect(b.delivered).toEqual([]);
    expect(a.reachable).toEqual([]);
    expect(a.warnings.join('\n')).toMatch(/does not name b/);
  });

  it('a plain TCP peer at a TLS node: refused', async () => {
    const ports = await freePorts(2);
    const b = await start('b', ports, { secret: null, tls: tlsOf('b') });
    const r = await raw(ports[1]!);
    r.write(handshakeBytes({ kind: 'hello', version: protocolVersion, cluster: 'test', from: 'a', to: 'b', nonce: new Uint8Array(32) }));
    await r.waitClosed();
    expect(b.delivered).toEqual([]);
  });
});

describe('TcpTransport after the handshake', () => {
  it('drops misaddressed and malformed frames, counts them, and closes the connection after badFramesMax', async () => {
    const ports = await freePorts(2);
    const b = await start('b', ports, { badFramesMax: 4 });
    const r = await raw(ports[1]!);
    expect((await r.handshake({ cluster: 'test', from: 'a', to: 'b', secret: testSecret })).result).toBe('open');
    r.write(prefixFrame(encodeMessage(forward('a', 'b', 1))));
    await until(() => b.delivered.length === 1, 'the good message');
    r.write(prefixFrame(encodeMessage(forward('c', 'b', 2)))); // not from the authenticated peer
    r.write(prefixFrame(encodeMessage(forward('a', 'c', 3)))); // not for this node
    r.write(prefixFrame(new Uint8Array([0x53, 0x59, protocolVersion, 200]))); // unknown type
    await until(() => b.transport.stats.framesRejected === 3, 'three rejected frames');
    expect(r.closed).toBe(false);
    r.write(prefixFrame(new Uint8Array([1, 2, 3])));
    await r.waitClosed();
    expect(b.delivered).toHaveLength(1);
    expect(b.transport.stats.connectionsClosedForBadFrames).toBe(1);
  });

  it('closes at once on a length above frameBytesMax, before reading it', async () => {
    const ports = await freePorts(2);
    const b = await start('b', ports, { frameBytesMax: 1024 });
    const r = await raw(ports[1]!);
    expect((await r.handshake({ cluster: 'test', from: 'a', to: 'b', secret: testSecret })).result).toBe('open');
    const prefix = new Uint8Array(4);
    new DataView(prefix.buffer).setUint32(0, 1025, true);
    r.write(prefix);
    await r.waitClosed();
    expect(b.transport.stats.framesRejected).toBe(1);
  });

  it('an unauthenticated peer cannot announce more than a small handshake frame', async () => {
    const ports = await freePorts(2);
    await start('b', ports);
    const r = await raw(ports[1]!);
    const prefix = new Uint8Array(4);
    new DataView(prefix.buffer).setUint32(0, 1_000_000, true);
    r.write(prefix);
    await r.waitClosed();
  });
});

describe('TcpTransport bounds half-open connections', () => {
  it('closes a connection that does not finish its handshake in handshakeTimeoutMs', async () => {
    const ports = await freePorts(2);
    const b = await start('b', ports, { handshakeTimeoutMs: 150 });
    const r = await raw(ports[1]!);
    const opened = Date.now();
    await r.waitClosed();
    expect(Date.now() - opened).toBeGreaterThanOrEqual(100);
    expect(b.warnings.join('\n')).toMatch(/handshake not finished after 150 ms/);
  });

  it('closes new connections at once while handshakesMax are in their handshake', async () => {
    const ports = await freePorts(2);
    const b = await start('b', ports, { handshakesMax: 3, handshakeTimeoutMs: 2_000 });
    // From 127.0.0.2: not a host any peer listens on.
    const peers = await Promise.all(Array.from({ length: 6 }, () => raw(ports[1]!, '127.0.0.2')));
    await sleep(200);
    expect(peers.filter((p) => p.closed)).toHaveLength(3);
    expect(b.transport.stats.handshakesRefusedForLoad).toBe(3);
  });

  it('keeps handshake room for the hosts the peers listen on: a flood from elsewhere does not keep a member out, and costs a few log lines', async () => {
    const ports = await freePorts(2);
    const b = await start('b', ports, { handshakesMax: 4, handshakeTimeoutMs: 5_000, logRateLimit: { linesMax: 3, intervalMs: 60_000 } });
    const flood = await Promise.all(Array.from({ length: 40 }, () => raw(ports[1]!, '127.0.0.2')));
    await sleep(200);
    expect(flood.filter((p) => !p.closed)).toHaveLength(4);
    // The member a (listening on 127.0.0.1) still gets in while the flood holds every other slot.
    const a = await start('a', ports);
    a.transport.send(forward('a', 'b', 1));
    await until(() => b.delivered.length === 1, 'a message from the member during the flood');
    expect(b.warnings.filter((w) => w.startsWith('tcp: too many connections'))).toHaveLength(3);
    expect(b.transport.stats.logLinesSuppressed).toBe(33);
  });

  it('stays well after a storm of garbage connections', async () => {
    const ports = await freePorts(2);
    const b = await start('b', ports);
    for (let i = 0; i < 40; i++) {
      const r = await raw(ports[1]!);
      r.write(new Uint8Array(Array.from({ length: 1 + ((i * 37) % 300) }, (_, j) => (i * 31 + j * 17) & 0xff)));
    }
    const a = await start('a', ports);
    a.transport.send(forward('a', 'b', 9));
    await until(() => b.delivered.length > 0, 'a message from a real peer after the storm');
  });
});
