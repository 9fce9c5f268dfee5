/**
 * What one client connection can make a KV server hold, against a real server on
 * 127.0.0.1 driven by a hand-written client: answers it never reads, watches it floods
 * (set up concurrently, or under one id), frames it starts and never finishes, alone
 * or with other connections; and what it is told when it sends garbage. Every bound
 * is small here so each case runs in a moment; none asserts on speed.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeClientRequest } from '../../../src/kv/protocol/client-codec.js';
import type { ClientRequest, ServerFrame } from '../../../src/kv/protocol/client-frames.js';
import { ConfigError } from '../../../src/index.js';
import { KvServer } from '../../../src/kv/server/index.js';
import { prefixFrame } from '../../../src/encoding/frame-reader.js';
import { ServerCluster, type ServerClusterOptions } from './cluster.js';
import { concat, RawClient, sleep } from './raw-client.js';

let cluster: ServerCluster | undefined;
const opened: RawClient[] = [];
afterEach(async () => {
  for (const o of opened.splice(0)) o.close();
  await cluster?.close();
  cluster = undefined;
});

async function startOne(options: ServerClusterOptions = {}): Promise<ServerCluster> {
  cluster = await ServerCluster.start(['a'], options);
  return cluster;
}

/** A raw client of `c`'s member 'a', past the handshake. */
async function authenticated(c: ServerCluster): Promise<RawClient> {
  const r = await RawClient.connect(c.port('a'));
  opened.push(r);
  expect((await r.handshake({ secret: c.clientSecret })).result).toBe('open');
  return r;
}

/** Waits until `ready()` holds; throws after `timeoutMs` with `what`. */
async function until(what: string, ready: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`still not ${what} after ${timeoutMs} ms`);
    await sleep(5);
  }
}

/** The next `n` server frames (after the handshake). */
async function frames(r: RawClient, n: number): Promise<ServerFrame[]> {
  await until(`${n} frames received`, () => r.frames.length >= 2 + n);
  return r.serverFrames().slice(0, n);
}

/** Listeners on the state machine's revisions: every server watch holds one while subscribed. */
const subscribers = (server: KvServer): number => (server.kv.machine as unknown as { listeners: Set<unknown> }).listeners.size;

const lengthPrefix = (n: number): Uint8Array => {
  const prefix = new Uint8Array(4);
  new DataView(prefix.buffer).setUint32(0, n, true);
  return prefix;
};

/** What this process (and so the server in it) holds live, after a full collection. */
function liveBytes(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return heapUsed + arrayBuffers;
}

const watch = (id: number, fromRevision = 0): ClientRequest => ({ kind: 'watch', id, range: { prefix: 'w/' }, fromRevision });

describe('answers a client does not read', () => {
  it('pipelined large reads: the server stops reading once socketBytesHigh of answers are outstanding, encodes no more than that, and frees it all when the client leaves', async () => {
    const socketBytesHigh = 256 * 1024;
    const c = await startOne({ server: () => ({ clientLimits: { socketBytesHigh } }) });
    const server = c.server('a');
    const honest = c.client({ only: ['a'] });
    const value = new Uint8Array(64 * 1024).fill(7);
    for (let i = 0; i < 10; i++) await honest.put(`big/${i}`, value);
    const answerBytes = 10 * value.byteLength + 4096; // one answer: ten values and their keys
    const r = await authenticated(c);
    r.socket.pause(); // reads nothing from now on
    const before = liveBytes();
    // 100 requests of a few bytes ask for 64 MB of answers.
    const reads = 100;
    r.send(
      ...Array.from(
        { length: reads },
        (_, i): ClientRequest => ({ kind: 'range', id: i + 1, range: { prefix: 'big/' }, limit: 0, revision: 0, linearizable: false }),
      ),
    );
    let queuedMax = 0;
    for (let i = 0; i < 50; i++) {
      await sleep(10);
      queuedMax = Math.max(queuedMax, server.metrics().clients.answerBytesQueued);
    }
    const grown = liveBytes() - before;
    const report = `the process grew by ${(grown / 1e6).toFixed(1)} MB; at most ${(queuedMax / 1e6).toFixed(1)} MB of answers queued`;
    // Without the bound the server answers all 100 at once: 64 MB queued for a client that reads none.
    // Unbounded, the answers held grew 61 to 72 MB; bounded, a few MB plus what a busy
    // machine's collector leaves (18 MB seen once under load): 32 MB tells the two apart.
    expect(grown, report).toBeLessThan(32 * 1024 * 1024);
    expect(queuedMax, report).toBeLessThanOrEqual(socketBytesHigh + answerBytes);
    expect(server.metrics().trips.answerPauses).toBeGreaterThan(0);
    expect(r.closed).toBe(false); // not an offence: it is only slow
    expect((await honest.status()).node).toBe('a');
    // Once it reads, every answer comes, whole.
    r.socket.resume();
    const answers = await frames(r, reads);
    expect(answers.map((f) => f.id).sort((x, y) => x - y)).toEqual(Array.from({ length: reads }, (_, i) => i + 1));
    for (const f of answers) expect(f).toMatchObject({ kind: 'range', result: { count: 10 } });
    // A client that leaves with answers outstanding leaves nothing behind.
    const again = await authenticated(c);
    again.socket.pause();
    again.send(
      ...Array.from(
        { length: reads },
        (_, i): ClientRequest => ({ kind: 'range', id: i + 1, range: { prefix: 'big/' }, limit: 0, revision: 0, linearizable: false }),
      ),
    );
    await until('paused', () => server.metrics().clients.answerBytesQueued > socketBytesHigh);
    again.close();
    r.close();
    await until('every connection gone', () => server.metrics().clients.connections === 1); // the honest client's
    expect(server.metrics().clients.answerBytesQueued).toBe(0);
  });
});

describe('watches', () => {
  it('watchesMax holds for watches requested together: exactly watchesMax open, the rest refused', async () => {
    const c = await startOne({ server: () => ({ clientLimits: { watchesMax: 4 } }) });
    const server = c.server('a');
    const r = await authenticated(c);
    r.send(...Array.from({ length: 20 }, (_, i) => watch(i + 1)));
    const got = await frames(r, 20);
    expect(got.filter((f) => f.kind === 'watching')).toHaveLength(4);
    const refused = got.filter((f) => f.kind === 'error');
    expect(refused).toHaveLength(16);
    for (const f of refused) expect(f).toMatchObject({ error: { code: 'KV_REQUEST', message: expect.stringContaining('at most 4 watches') } });
    expect(server.metrics().clients.watches).toBe(4);
    expect(server.metrics().trips.watchesRefused).toBe(16);
  });

  it('a watch id already open is refused with a typed error; the first watch keeps running', async () => {
    const c = await startOne();
    const server = c.server('a');
    const r = await authenticated(c);
    r.send(watch(7), watch(7)); // the second arrives while the first is open
    const got = await frames(r, 2);
    expect(got.filter((f) => f.kind === 'watching')).toEqual([{ kind: 'watching', id: 7, fromRevision: expect.any(Number) }]);
    expect(got.filter((f) => f.kind === 'error')).toEqual([
      { kind: 'error', id: 7, error: expect.objectContaining({ code: 'KV_REQUEST', message: expect.stringContaining('watch 7 is already open') }) },
    ]);
    r.send(watch(7, 1)); // and once it runs
    expect((await frames(r, 3))[2]).toMatchObject({ kind: 'error', id: 7, error: { code: 'KV_REQUEST' } });
    expect(server.metrics().clients.watches).toBe(1);
    expect(server.metrics().trips.watchIdsRefused).toBe(2);
    await c.client({ only: ['a'] }).put('w/x', 'v');
    await until('the event sent', () => r.serverFrames().some((f) => f.kind === 'events'));
    expect(r.serverFrames().filter((f) => f.kind === 'events')).toEqual([
      expect.objectContaining({ id: 7, events: [expect.objectContaining({ type: 'put' })] }),
    ]);
  });

  it('a closed connection stops all its watches: none stays subscribed to the state machine', async () => {
    const c = await startOne();
    const server = c.server('a');
    const baseline = subscribers(server);
    const r = await authenticated(c);
    r.send(watch(1), watch(1), watch(1), watch(1), watch(2), watch(3));
    await frames(r, 6);
    r.close();
    await until('the connection gone', () => server.metrics().clients.connections === 0);
    expect(server.metrics().clients.watches).toBe(0);
    expect(subscribers(server)).toBe(baseline);
  });

  it("a watch from revision 0 starts at its replica's next revision as it arrives: a write sent after it on the connection is never missed, at a follower too", async () => {
    cluster = await ServerCluster.start(['a', 'b', 'c'], { server: () => ({ node: { tickMs: 10, electionTicks: { min: 10, max: 20 } } }) });
    const c = cluster;
    await c.client().put('w/warm', 'v');
    const follower = ['a', 'b', 'c'].find((id) => c.server(id).kv.node.status().role === 'follower')!;
    const r = await RawClient.connect(c.port(follower));
    opened.push(r);
    expect((await r.handshake({ secret: c.clientSecret })).result).toBe('open');
    const rounds = 20;
    for (let i = 1; i <= rounds; i++) {
      // The put goes to the leader while the watch is set up here: a read point taken now could come after it.
      r.send(
        { kind: 'watch', id: i, range: { key: `w/${i}` }, fromRevision: 0 },
        {
          kind: 'command',
          id: 1_000 + i,
          command: { type: 'put', key: `w/${i}`, value: new Uint8Array([i]) },
          request: undefined,
          timeoutMs: 0,
        },
      );
    }
    await until('every watch saw its put', () => new Set(r.serverFrames().flatMap((f) => (f.kind === 'events' ? [f.id] : []))).size === rounds, 10_000);
    for (const f of r.serverFrames()) if (f.kind === 'events') expect(f.events.map((e) => e.kv.key)).toEqual([`w/${f.id}`]);
  });
});

describe('frames a client starts and does not finish', () => {
  it('frameCompleteMsMax: a frame still incomplete that long after its first byte closes the connection, with an error frame saying why', async () => {
    const c = await startOne({ server: () => ({ clientLimits: { frameCompleteMsMax: 200 } }) });
    const server = c.server('a');
    const r = await authenticated(c);
    // Whole frames are served however long the connection lives...
    r.send({ kind: 'status', id: 1 });
    await frames(r, 1);
    await sleep(300);
    r.send({ kind: 'status', id: 2 });
    expect((await frames(r, 2))[1]).toMatchObject({ kind: 'status', id: 2 });
    // ...but a frame whose first bytes came and whose rest never does is not waited for.
    r.write(concat([lengthPrefix(1000), new Uint8Array(10)]));
    await r.waitClosed(5_000);
    expect(r.serverFrames().at(-1)).toEqual({
      kind: 'error',
      id: 0,
      error: {
        code: 'CLOSED',
        message: expect.stringMatching(/a frame was not whole within frameCompleteMsMax \(200 ms\) of its first byte \(14 bytes of it came\)/),
      },
    });
    expect(server.metrics().trips.frameTimeouts).toBe(1);
  });

  it('partialFrameBytesMax: the connection whose bytes would take the partial frames of all clients over it is closed, saying why; the others finish theirs', async () => {
    const frameBytesMax = 256 * 1024;
    const c = await startOne({ server: () => ({ clientLimits: { frameBytesMax }, partialFrameBytesMax: 512 * 1024 }) });
    const server = c.server('a');
    const put = (id: number): Uint8Array =>
      prefixFrame(
        encodeClientRequest({
          kind: 'command',
          id,
          command: { type: 'put', key: `p/${id}`, value: new Uint8Array(200 * 1024) },
          request: undefined,
          timeoutMs: 0,
        }),
      );
    const first = put(1);
    const partial = first.byteLength - 1_000;
    const [r1, r2, r3] = [await authenticated(c), await authenticated(c), await authenticated(c)];
    r1.write(first.subarray(0, partial));
    r2.write(put(2).subarray(0, partial));
    await until('two partial frames held', () => server.metrics().clients.partialFrameBytes === 2 * partial);
    r3.write(put(3).subarray(0, partial));
    await r3.waitClosed(5_000);
    expect(r3.serverFrames().at(-1)).toEqual({ kind: 'error', id: 0, error: { code: 'CLOSED', message: expect.stringContaining('partialFrameBytesMax') } });
    expect(server.metrics().trips.partialFrameCloses).toBe(1);
    r1.write(first.subarray(partial));
    r2.write(put(2).subarray(partial));
    expect(await frames(r1, 1)).toMatchObject([{ kind: 'result', id: 1 }]);
    expect(await frames(r2, 1)).toMatchObject([{ kind: 'result', id: 2 }]);
    expect(r1.closed || r2.closed).toBe(false);
    expect(server.metrics().clients.partialFrameBytes).toBe(0);
  });
});

describe('the bounds are checked when the server is made', () => {
  it('partialFrameBytesMax below one frame of frameBytesMax, or a frameCompleteMsMax that is not a positive integer: ConfigError', () => {
    const base = {
      id: 'a',
      clusterId: 'c',
      members: { a: { peer: { host: '127.0.0.1', port: 1 }, client: { host: '127.0.0.1', port: 2 } } },
      dataDir: '/tmp/never',
      secret: 'x'.repeat(32),
      clientSecret: 'y'.repeat(32),
    };
    expect(() => new KvServer({ ...base, clientLimits: { frameBytesMax: 1024 }, partialFrameBytesMax: 1024 })).toThrow(ConfigError);
    expect(() => new KvServer({ ...base, clientLimits: { frameBytesMax: 1024 }, partialFrameBytesMax: 1028 })).not.toThrow();
    expect(() => new KvServer({ ...base, clientLimits: { frameCompleteMsMax: 0 } })).toThrow(/frameCompleteMsMax/);
  });
});

describe('malformed frames after the handshake', () => {
  it('are answered with a CODEC error frame (with the request id when it can be read) so the client need not wait for its timeout', async () => {
    const c = await startOne();
    const server = c.server('a');
    const r = await authenticated(c);
    const good = encodeClientRequest({ kind: 'status', id: 41 });
    // A status request with a byte too many: its id is readable.
    r.write(prefixFrame(concat([good, new Uint8Array([0])])));
    expect((await frames(r, 1))[0]).toEqual({ kind: 'error', id: 41, error: { code: 'CODEC', message: expect.stringContaining('malformed frame') } });
    // Another version: nothing in it can be trusted, the id neither.
    r.write(prefixFrame(new Uint8Array([7, 5, 42])));
    expect((await frames(r, 2))[1]).toEqual({ kind: 'error', id: 0, error: { code: 'CODEC', message: expect.stringContaining('client protocol version 7') } });
    expect(server.metrics().trips.badFrames).toBe(2);
    expect(r.closed).toBe(false);
  });
});
