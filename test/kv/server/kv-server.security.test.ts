/**
 * What a KV server and client refuse (the client port of docs/security.md), against
 * real servers on 127.0.0.1: every byte from the network is hostile until it proved
 * otherwise. A client without the secret, of another cluster, or with a certificate
 * from the wrong CA is refused and can neither read nor write; garbage after the
 * handshake closes the connection at `badFramesMax`; a handshake that never finishes
 * is cut at `handshakeTimeoutMs`; an unauthenticated peer cannot announce more than a
 * handshake frame; a client refuses a server that cannot prove the secret; and a
 * client that pipelines requests without reading the answers makes the server stop
 * reading it rather than hold more and more.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { KvClient } from '../../../src/kv/client/index.js';
import { clientProtocolVersion, encodeClientRequest } from '../../../src/kv/protocol/client-codec.js';
import { newNonce, type ProofContext, proofOf } from '../../../src/connection/proof.js';
import type { ClientRequest } from '../../../src/kv/protocol/client-frames.js';
import { clientHandshakeBytesMax, decodeClientHandshake, encodeClientHandshake } from '../../../src/kv/protocol/client-handshake.js';
import { TimeoutError } from '../../../src/runtime/index.js';
import { AuthenticationError } from '../../../src/kv/index.js';
import { ConfigError } from '../../../src/index.js';
import { FrameReader, prefixFrame } from '../../../src/encoding/frame-reader.js';
import { tlsOf } from '../../transport/tcp/helpers.js';
import { KvServer } from '../../../src/kv/server/index.js';
import { ServerCluster, type ServerClusterOptions } from './cluster.js';
import { concat, RawClient, sleep } from './raw-client.js';

let cluster: ServerCluster | undefined;
const opened: { close(): void }[] = [];
afterEach(async () => {
  for (const o of opened.splice(0)) o.close();
  await cluster?.close();
  cluster = undefined;
});

/** A one-member cluster 'a' (it elects itself at once), with more server options. */
async function startOne(options: ServerClusterOptions = {}): Promise<ServerCluster> {
  cluster = await ServerCluster.start(['a'], options);
  return cluster;
}

async function raw(port: number): Promise<RawClient> {
  const r = await RawClient.connect(port);
  opened.push(r);
  return r;
}

const text = (v: Uint8Array | undefined) => (v === undefined ? undefined : new TextDecoder().decode(v));
const put = (id: number, key: string, timeoutMs = 0): ClientRequest => ({
  kind: 'command',
  id,
  command: { type: 'put', key, value: new TextEncoder().encode('evil') },
  request: undefined,
  timeoutMs,
});
const lengthPrefix = (n: number) => {
  const prefix = new Uint8Array(4);
  new DataView(prefix.buffer).setUint32(0, n, true);
  return prefix;
};

/**
 * Rejects at once (long before `requestTimeoutMs`) with AuthenticationError whose
 * message matches `why`, saying the request was never sent: a refusal is final.
 */
async function refusedSaying(request: Promise<unknown>, why: RegExp): Promise<void> {
  // A watchdog, not a speed target: a request the refusal did not fail waits for its (long) timeout.
  let watchdog: ReturnType<typeof setTimeout> | undefined;
  const stuck = new Promise((resolve) => (watchdog = setTimeout(() => resolve(new Error('still waiting 5 s after the refusal')), 5_000)));
  const error = await Promise.race([
    request.then(
      () => undefined,
      (e: unknown) => e,
    ),
    stuck,
  ]);
  clearTimeout(watchdog);
  expect(error).toBeInstanceOf(AuthenticationError);
  expect((error as AuthenticationError).sent).toBe(false);
  expect((error as Error).message).toMatch(why);
  expect((error as Error).message).toMatch(/it was never sent$/);
  expect((error as Error).message).not.toMatch(/may still take effect/);
}

/** Rejects with TimeoutError whose message matches `why` (the client says why it never got through). */
async function timesOutSaying(request: Promise<unknown>, why: RegExp): Promise<void> {
  const error = await request.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TimeoutError);
  expect((error as Error).message).toMatch(why);
}

/** Nothing was written: an honest client finds no `evil` key and the store at revision `revision`. */
async function untouched(c: ServerCluster, revision = 1): Promise<void> {
  const honest = c.client({ only: ['a'] });
  const range = await honest.range({ prefix: '' });
  expect(range.kvs.map((kv) => kv.key)).toEqual([]);
  expect(range.revision).toBeLessThanOrEqual(revision);
}

describe('the KV server refuses clients that cannot prove the secret', () => {
  it('the wrong secret: refused at the handshake, and nothing it sends is read or written', async () => {
    const warnings: { fields: Record<string, unknown>; message: string }[] = [];
    const ignore = () => {};
    const c = await startOne({
      server: () => ({ logger: { debug: ignore, info: ignore, warn: (fields, message) => warnings.push({ fields, message }), error: ignore } }),
    });
    // A timeout far beyond the test's: the refusal must fail the requests by itself.
    const wrong = c.client({ secret: randomBytes(32), requestTimeoutMs: 600_000 });
    await refusedSaying(
      wrong.put('k', 'evil'),
      /KvClient: command: 127\.0\.0\.1:\d+ refused this client: authentication failed \(is the client secret the servers'\?\)/,
    );
    await refusedSaying(wrong.get('k'), /KvClient: range: .*authentication failed/);
    await expect(wrong.connect()).rejects.toBeInstanceOf(AuthenticationError);
    // The server says so at warn: a wrong secret is an operator's mistake to see.
    expect(warnings).toContainEqual({
      fields: expect.objectContaining({ reason: 'authentication failed', remote: expect.stringMatching(/^127\.0\.0\.1:\d+$/) }),
      message: 'kv server: client refused at the handshake',
    });
    // A raw client pipelines a write and a read right behind its forged hello: the
    // server must not act on them, however fast they follow.
    const r = await raw(c.port('a'));
    const outcome = await r.handshake({
      secret: randomBytes(32),
      then: [put(1, 'evil'), { kind: 'range', id: 2, range: { prefix: '' }, limit: 0, revision: 0, linearizable: false }],
    });
    expect(outcome).toEqual({ result: 'refused', reason: 'authentication failed' });
    await r.waitClosed();
    expect(r.frames).toHaveLength(2); // the challenge and the refusal: no answer to either request
    // Requests with no handshake at all are no hello: refused.
    const bare = await raw(c.port('a'));
    bare.send(put(1, 'evil'));
    expect(await bare.nextHandshake()).toMatchObject({ kind: 'challenge' });
    expect(await bare.nextHandshake()).toEqual({ kind: 'refuse', reason: expect.stringMatching(/bad handshake: .*bad magic/) });
    await bare.waitClosed();
    await sleep(100); // time for a write that slipped through to apply
    await untouched(c);
    // Each refusal is counted: the KvClient's (one connection or more) and the two raw ones.
    expect(c.server('a').metrics().trips.handshakesRefused).toBeGreaterThanOrEqual(3);
    expect(c.server('a').metrics().trips.connectionsRefused).toBe(0);
  });

  it('connections over clientConnectionsMax are closed at once, and counted', async () => {
    const c = await startOne({ server: () => ({ clientConnectionsMax: 2 }) });
    const kept = [await raw(c.port('a')), await raw(c.port('a'))];
    for (const r of kept) expect(await r.nextHandshake()).toMatchObject({ kind: 'challenge' });
    const over = await raw(c.port('a'));
    await over.waitClosed();
    expect(over.frames).toHaveLength(0);
    expect(c.server('a').metrics().trips.connectionsRefused).toBe(1);
    expect(c.server('a').metrics().trips.handshakesRefused).toBe(0);
    expect(c.server('a').metrics().clients.connections).toBe(2);
  });

  it('a client that claims another cluster or another server, or replays a hello: refused', async () => {
    const c = await startOne();
    // The proof binds the cluster and the node: the right secret over another context does not verify.
    const other = await raw(c.port('a'));
    expect(await other.handshake({ secret: c.clientSecret, cluster: 'other', then: [put(1, 'evil')] })).toEqual({
      result: 'refused',
      reason: 'authentication failed',
    });
    const elsewhere = await raw(c.port('a'));
    expect(await elsewhere.handshake({ secret: c.clientSecret, node: 'b', then: [put(1, 'evil')] })).toEqual({
      result: 'refused',
      reason: 'authentication failed',
    });
    // An eavesdropper replays an honest hello, byte for byte, on a new connection: the server's nonce is fresh.
    const honest = await raw(c.port('a'));
    const first = await honest.handshake({ secret: c.clientSecret });
    expect(first.result).toBe('open');
    const replayer = await raw(c.port('a'));
    expect(await replayer.nextHandshake()).toMatchObject({ kind: 'challenge' });
    replayer.write(concat([first.result === 'open' ? first.hello : new Uint8Array(0), prefixFrame(encodeClientRequest(put(1, 'evil')))]));
    expect(await replayer.nextHandshake()).toEqual({ kind: 'refuse', reason: 'authentication failed' });
    await replayer.waitClosed();
    // A KvClient of another cluster refuses the server itself, and says so.
    await refusedSaying(
      c.client({ clusterId: 'other', requestTimeoutMs: 600_000 }).put('k', 'evil'),
      /127\.0\.0\.1:\d+ is a server of cluster test-kv, not other/,
    );
    await sleep(100);
    await untouched(c);
  });

  it('a watch of a client with the wrong secret fails with AuthenticationError instead of waiting forever', async () => {
    const c = await startOne();
    const watch = c.client({ secret: randomBytes(32) }).watch({ prefix: '' });
    await refusedSaying(watch.next(), /KvClient: watch: 127\.0\.0\.1:\d+ refused this client: authentication failed/);
  });

  it('no server listening: the request times out saying it was never sent, not that it may still take effect', async () => {
    const listener = createServer();
    await new Promise<void>((done) => listener.listen({ host: '127.0.0.1', port: 0 }, done));
    const { port } = listener.address() as { port: number };
    await new Promise((done) => listener.close(done));
    const client = new KvClient({ endpoints: [{ host: '127.0.0.1', port }], clusterId: 'x', secret: randomBytes(32), requestTimeoutMs: 300 });
    opened.push({ close: () => void client.close() });
    const error = await client.put('k', 'v').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({
      sent: false,
      message: expect.stringMatching(/no server reachable; last failure: .*ECONNREFUSED.*; it was never sent, so it did not take effect$/),
    });
  });

  /** A server's TLS: the peers' CA on the peer port, the clients' own CA on the client port. */
  const serverTls = (id: string) => ({ tls: tlsOf(id), clientTls: tlsOf('client-port', 'client-ca') });

  it("a client certificate from another CA, or from the peers' CA, under mutual TLS: refused; one from the clients' CA works", async () => {
    const c = await startOne({ server: serverTls });
    const rogue = c.client({ tls: { ...tlsOf('rogue-a'), ca: tlsOf('client-1', 'client-ca').ca }, requestTimeoutMs: 800 });
    await timesOutSaying(
      rogue.put('k', 'evil'),
      /no server reachable; last failure: 127\.0\.0\.1:\d+: closed by the server during the handshake \(did it refuse this client certificate\?\)/,
    );
    // A member's own certificate (the peers' CA) is no client certificate.
    const member = c.client({ tls: { ...tlsOf('b'), ca: tlsOf('client-1', 'client-ca').ca }, requestTimeoutMs: 800 });
    await timesOutSaying(member.put('k', 'evil'), /closed by the server during the handshake/);
    // Plain TCP at the TLS port gets not even a challenge.
    const plain = await raw(c.port('a'));
    plain.write(new Uint8Array(64));
    await plain.waitClosed();
    expect(plain.frames).toEqual([]);
    const good = c.client({ tls: tlsOf('client-1', 'client-ca') });
    expect(await good.get('k')).toBeUndefined();
    expect(await good.put('k', 'fine')).toMatchObject({ version: 1 });
    expect(text((await good.get('k'))?.value)).toBe('fine');
  });

  it('under mutual TLS, a client refuses a server whose certificate another CA signed', async () => {
    const c = await startOne({ server: (id) => ({ tls: tlsOf(id), clientTls: { ...tlsOf('rogue-a'), ca: tlsOf('client-1', 'client-ca').ca } }) });
    const client = c.client({ tls: tlsOf('client-1', 'client-ca'), requestTimeoutMs: 800 });
    await timesOutSaying(client.put('k', 'v'), /no server reachable; last failure: 127\.0\.0\.1:\d+: .*certificate/);
  });

  it("under mutual TLS, a client refuses a server whose certificate does not name it, even from the clients' CA (another client's); serverName names it", async () => {
    const c = await startOne({ server: (id) => ({ tls: tlsOf(id), clientTls: tlsOf('client-1', 'client-ca') }) });
    const client = c.client({ tls: tlsOf('client-1', 'client-ca'), requestTimeoutMs: 800 });
    await timesOutSaying(client.put('k', 'v'), /no server reachable; last failure: 127\.0\.0\.1:\d+: .*IP: 127\.0\.0\.1 is not in the cert's list/);
    const named = c.client({ tls: tlsOf('client-1', 'client-ca'), serverName: 'client-1' });
    expect(await named.put('k', 'v')).toMatchObject({ version: 1 });
  });

  it("refuses TLS for the peers without TLS for the clients, and a client CA the peers trust (a client's certificate naming a member would pass as that replica)", () => {
    const base = {
      id: 'a',
      clusterId: 'x',
      members: { a: { peer: { host: '127.0.0.1', port: 1 }, client: { host: '127.0.0.1', port: 2 } } },
      dataDir: '/nonexistent',
    };
    expect(() => new KvServer({ ...base, tls: tlsOf('a') })).toThrow(/tls \(peers\) and clientTls \(clients\) go together/);
    const shared = () =>
      new KvServer({ ...base, tls: tlsOf('a'), clientTls: { ...tlsOf('client-port', 'client-ca'), ca: [tlsOf('client-1', 'client-ca').ca, tlsOf('a').ca] } });
    expect(shared).toThrow(ConfigError);
    expect(shared).toThrow(/`clientTls` must not share a CA with tls/);
    // The same CA inside a bundle, written with other line breaks, is found too.
    const bundle = `${tlsOf('client-1', 'client-ca').ca}\n${tlsOf('a').ca.replace(/\n/g, '\r\n')}`;
    expect(() => new KvServer({ ...base, tls: tlsOf('a'), clientTls: { ...tlsOf('client-port', 'client-ca'), ca: bundle } })).toThrow(/must not share a CA/);
    expect(() => new KvServer({ ...base, tls: tlsOf('a'), clientTls: tlsOf('client-port', 'client-ca') })).not.toThrow();
  });
});

describe('the KV server bounds what a connection can make it do', () => {
  it("refuses the leader's own commands from a client (session-renew would keep dead sessions alive), and a client secret equal to the peers'", async () => {
    const c = await startOne();
    const r = await raw(c.port('a'));
    expect((await r.handshake({ secret: c.clientSecret })).result).toBe('open');
    r.send(
      { kind: 'command', id: 1, command: { type: 'session-renew' }, request: undefined, timeoutMs: 0 },
      { kind: 'command', id: 2, command: { type: 'session-expire', sessions: [1], decidedAtSlot: 1 }, request: undefined, timeoutMs: 0 },
      { kind: 'command', id: 3, command: { type: 'session-expire-by-log-time' }, request: undefined, timeoutMs: 0 },
    );
    for (let i = 0; i < 3; i++) expect(await r.nextFrame()).toMatchObject({ kind: 'error', error: { code: 'KV_REQUEST' } });
    const same = 'x'.repeat(32);
    expect(
      () =>
        new KvServer({
          id: 'a',
          clusterId: 'c',
          members: { a: { peer: { host: '127.0.0.1', port: 1 }, client: { host: '127.0.0.1', port: 2 } } },
          dataDir: '/tmp/never',
          secret: same,
          clientSecret: same,
        }),
    ).toThrow(/must differ from secret/);
  });

  it('garbage frames after a valid handshake: answered with an error and otherwise ignored, and the connection closed at badFramesMax, saying why', async () => {
    const c = await startOne({ server: () => ({ clientLimits: { badFramesMax: 4 } }) });
    const r = await raw(c.port('a'));
    expect((await r.handshake({ secret: c.clientSecret })).result).toBe('open');
    const garbage = [
      new Uint8Array(0), // empty
      new Uint8Array([7, 1, 1]), // another version
      new Uint8Array([1, 99, 1]), // an unknown kind
    ];
    r.write(concat(garbage.map(prefixFrame)));
    // Three bad frames do not close it, and a good request is still served.
    r.send({ kind: 'status', id: 5 });
    for (let i = 0; i < 3; i++) expect(await r.nextFrame()).toMatchObject({ kind: 'error', error: { code: 'CODEC' } });
    expect(await r.nextFrame()).toMatchObject({ kind: 'status', id: 5, status: { node: 'a' } });
    expect(r.closed).toBe(false);
    // The fourth does: a put cut short.
    r.write(prefixFrame(encodeClientRequest(put(6, 'evil')).subarray(0, 6)));
    await r.waitClosed();
    // Each bad frame is answered (under its id where its header holds one), and the close is explained.
    expect(r.serverFrames().map((f) => [f.kind, f.id, f.kind === 'error' ? f.error.code : ''])).toEqual([
      ['error', 0, 'CODEC'],
      ['error', 0, 'CODEC'],
      ['error', 1, 'CODEC'],
      ['status', 5, ''],
      ['error', 6, 'CODEC'],
      ['error', 0, 'CLOSED'],
    ]);
    expect(r.serverFrames().at(-1)).toMatchObject({ error: { message: expect.stringContaining('4 malformed frames') } });
    await untouched(c);
  });

  it('a connection that never finishes its handshake is closed after handshakeTimeoutMs', async () => {
    const c = await startOne({ server: () => ({ clientLimits: { handshakeTimeoutMs: 200 } }) });
    const silent = await raw(c.port('a'));
    const slow = await raw(c.port('a'));
    const from = performance.now();
    // One says nothing; one sends the start of a hello and then nothing (a slowloris).
    slow.write(concat([lengthPrefix(100), new Uint8Array(10)]));
    expect(await silent.nextHandshake()).toMatchObject({ kind: 'challenge' });
    expect(await silent.nextHandshake()).toEqual({ kind: 'refuse', reason: 'handshake timed out' });
    await silent.waitClosed();
    await slow.waitClosed();
    const waited = performance.now() - from;
    expect(waited).toBeGreaterThanOrEqual(150);
    expect(waited).toBeLessThan(2_000);
  });

  it(`a frame over ${clientHandshakeBytesMax} bytes announced before authentication: closed on its length alone`, async () => {
    const c = await startOne({ server: () => ({ clientLimits: { handshakeTimeoutMs: 10_000, frameBytesMax: 4096 } }) });
    for (const announced of [clientHandshakeBytesMax + 1, 0xffff_ffff]) {
      const r = await raw(c.port('a'));
      // Only the length: the server cannot wait for the bytes, nor make room for them.
      r.write(lengthPrefix(announced));
      await r.waitClosed(1_000);
      expect(decodeClientHandshake(r.frames[1]!.bytes)).toEqual({
        kind: 'refuse',
        reason: expect.stringContaining(`a frame of ${announced} bytes announced, more than the limit ${clientHandshakeBytesMax}`),
      });
    }
    // At the limit, the frame is read (and refused for what it holds, not its size).
    const atLimit = await raw(c.port('a'));
    atLimit.write(concat([lengthPrefix(clientHandshakeBytesMax), new Uint8Array(clientHandshakeBytesMax)]));
    await atLimit.waitClosed(1_000);
    expect(decodeClientHandshake(atLimit.frames[1]!.bytes)).toEqual({ kind: 'refuse', reason: expect.stringMatching(/bad handshake: .*bad magic/) });
    // After authentication, frameBytesMax holds the same way.
    const r = await raw(c.port('a'));
    expect((await r.handshake({ secret: c.clientSecret })).result).toBe('open');
    r.write(lengthPrefix(4096 + 1));
    await r.waitClosed(1_000);
  });
});

/** A server that knows the cluster's name but not its client secret: it answers every hello with `welcome(proof)`. */
async function impersonator(
  proofFor: (hello: { proof: Uint8Array; context: ProofContext }) => Uint8Array,
): Promise<{ port: number; afterHello: Uint8Array[]; close(): void }> {
  const afterHello: Uint8Array[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    const reader = new FrameReader(1 << 20);
    const nonce = newNonce();
    let welcomed = false;
    socket.write(prefixFrame(encodeClientHandshake({ kind: 'challenge', cluster: 'test-kv', node: 'a', nonce })));
    socket.on('data', (chunk: Buffer) => {
      for (const frame of reader.push(chunk)) {
        if (welcomed) {
          afterHello.push(frame);
          continue;
        }
        const hello = decodeClientHandshake(frame);
        if (hello.kind !== 'hello') throw new Error(`expected a hello, got ${hello.kind}`);
        const context = { cluster: 'test-kv', first: 'a', second: hello.clientId, firstNonce: nonce, secondNonce: hello.nonce };
        socket.write(prefixFrame(encodeClientHandshake({ kind: 'welcome', proof: proofFor({ proof: hello.proof, context }) })));
        welcomed = true;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const fake = {
    port: (server.address() as { port: number }).port,
    afterHello,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
  opened.push(fake);
  return fake;
}

describe('the KV client refuses a server that cannot prove the secret', () => {
  const secret = randomBytes(32);
  it.each([
    ['signs its welcome with another secret', (h: { context: ProofContext }) => proofOf(randomBytes(32), 'server', clientProtocolVersion, h.context)],
    ['reflects the client its own proof', (h: { proof: Uint8Array }) => h.proof],
    ['sends an empty proof, as under TLS', () => new Uint8Array(0)],
  ] as const)('an impersonator that %s: the client never takes its welcome, and its requests fail at once naming why', async (_, proofFor) => {
    const fake = await impersonator(proofFor as Parameters<typeof impersonator>[0]);
    const client = new KvClient({
      endpoints: [{ host: '127.0.0.1', port: fake.port }],
      clusterId: 'test-kv',
      secret,
      requestTimeoutMs: 600_000,
      connectTimeoutMs: 300,
    });
    opened.push({ close: () => void client.close() });
    await refusedSaying(client.put('k', 'secret data'), /127\.0\.0\.1:\d+ failed to prove the client secret/);
    // Nothing went to the impersonator after the hello: not the write, not its value.
    expect(fake.afterHello).toEqual([]);
  });
});

/** Bytes this process holds live (JS heap and buffers), after a full garbage collection. */
function liveBytes(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

describe('the KV server stops reading a client that does not keep up', () => {
  it('requestsInFlightMax: pipelined requests beyond it wait unread; answers come in waves no larger', async () => {
    const inFlightMax = 8;
    const timeoutMs = 250;
    // 'a' of three members, alone: no quorum, so every write stays in flight until it times out.
    cluster = await ServerCluster.start(['a', 'b', 'c'], { started: ['a'], server: () => ({ clientLimits: { requestsInFlightMax: inFlightMax } }) });
    const r = await raw(cluster.port('a'));
    expect((await r.handshake({ secret: cluster.clientSecret })).result).toBe('open');
    const sent = 100;
    r.send(...Array.from({ length: sent }, (_, i) => put(i + 1, `k${i}`, timeoutMs)));
    const answers = () => r.frames.slice(2);
    const deadline = Date.now() + 10_000;
    while (answers().length < 3 * inFlightMax && Date.now() < deadline) await sleep(5);
    const got = answers();
    expect(got.length).toBeGreaterThanOrEqual(3 * inFlightMax);
    for (const f of r.serverFrames()) expect(f).toMatchObject({ kind: 'error', error: { code: 'TIMEOUT' } });
    // Had the server read them all, all would have timed out together. It took at most
    // inFlightMax at a time, each batch read only as the one before timed out: so no
    // window shorter than the timeout holds more than inFlightMax answers.
    const window = timeoutMs * 0.6;
    const largestWave = Math.max(...got.map((f) => got.filter((g) => g.at >= f.at && g.at < f.at + window).length));
    expect(largestWave).toBeGreaterThan(0);
    expect(largestWave).toBeLessThanOrEqual(inFlightMax);
  });

  it('answers a client leaves unread: the server stops reading it once socketBytesHigh queue up, so its memory stays flat', async () => {
    const c = await startOne({ server: () => ({ clientLimits: { socketBytesHigh: 64 * 1024 } }) });
    const r = await raw(c.port('a'));
    expect((await r.handshake({ secret: c.clientSecret })).result).toBe('open');
    r.socket.pause(); // never read an answer again
    // The server runs in this process: its memory is what this process holds live.
    const before = liveBytes();
    // Status requests are answered at once, each answer a few times its request. A server that kept
    // reading would queue answers without bound, however slowly it got through the
    // requests; one that stops reading leaves them in the kernel's buffers, which
    // fill, and then the writer waits for a `drain` that never comes. (The writer
    // outpaces the server, so it waits now and then anyway: only a long wait counts.)
    const batch = concat(Array.from({ length: Math.floor((64 * 1024) / 7) }, (_, i) => prefixFrame(encodeClientRequest({ kind: 'status', id: i + 1 }))));
    const started = Date.now();
    let pushed = 0;
    let stalled = false;
    while (!stalled && Date.now() - started < 3_000) {
      pushed += batch.byteLength;
      if (r.write(batch)) continue;
      stalled = !(await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), 1_000);
        r.socket.once('drain', () => {
          clearTimeout(timer);
          resolve(true);
        });
      }));
    }
    await sleep(300); // whatever the server read, it answered by now
    const grown = liveBytes() - before;
    const report = `${(pushed / 1e6).toFixed(1)} MB of requests sent in ${Date.now() - started} ms; the process grew by ${(grown / 1e6).toFixed(1)} MB`;
    // Without the bound: hundreds of MB (answers queued on the socket), and the writer never stalls for long.
    expect(grown, report).toBeLessThan(16 * 1024 * 1024);
    expect(stalled, report).toBe(true);
    expect(r.closed).toBe(false); // not an offence: it is only not read
    // Meanwhile the server serves an honest client.
    const honest = c.client({ only: ['a'] });
    expect((await honest.status()).node).toBe('a');
  });
});
