/**
 * The ZooKeeper port on a 3-member in-process cluster (MemoryNetwork, MemoryStorage,
 * real sockets for clients): refused input (a wrong session password, a frame over
 * jute.maxbuffer, a malformed frame, an unknown opcode) leaves the server serving;
 * session expiry decided by the leader deletes ephemerals and answers SessionExpired;
 * setWatches after a reconnect fires what the client missed; a watch event comes
 * before the answer that lets the client see its change; sync makes a read current;
 * the leader deletes an emptied container and an expired TTL node through the log,
 * firing their watches.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryNetwork, MemoryStorage } from '../../../src/index.js';
import { type KvNode, createKvNode } from '../../../src/kv/index.js';
import { ZkErrorCode, openAcl } from '../../../src/zk/index.js';
import { ZkExtension, ZkServer } from '../../../src/zk/server/index.js';
import { digestAuthId } from '../../../src/zk/zk-digest.js';
import { encodeRequest } from '../../../src/zk/protocol/zk-request.js';
import { WireClient, dataOf, malformedGetData } from './zk-wire-client.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Cluster {
  readonly nodes: KvNode[];
  readonly servers: ZkServer[];
  readonly ports: number[];
  close(): Promise<void>;
}

let cluster: Cluster | undefined;
const clients: WireClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await cluster?.close();
  cluster = undefined;
});

async function startCluster(bufferedBytesMax?: number): Promise<Cluster> {
  const network = new MemoryNetwork();
  const ids = ['a', 'b', 'c'];
  const extensions = ids.map(() => new ZkExtension());
  const nodes = ids.map((id, i) =>
    createKvNode({
      id,
      members: ids,
      transport: network.transport(id),
      storage: new MemoryStorage(),
      tickMs: 10,
      electionTicks: { min: 20, max: 40 },
      proposeTimeoutMs: 3_000,
      readTimeoutMs: 3_000,
      kv: { extension: extensions[i]! },
    }),
  );
  await Promise.all(nodes.map((n) => n.start()));
  const servers = nodes.map(
    (kv, i) =>
      new ZkServer({
        kv,
        extension: extensions[i]!,
        address: { host: '127.0.0.1', port: 0 },
        sessionTimeoutMsMin: 300,
        sessionTimeoutMsMax: 2_000,
        sessionCheckMs: 50,
        nodeCheckMs: 50,
        limits: { requestBytesMax: 4096, frameCompleteMsMax: 400 },
        ...(bufferedBytesMax === undefined ? {} : { bufferedBytesMax }),
      }),
  );
  const ports = (await Promise.all(servers.map((s) => s.start()))).map((a) => a.port);
  for (let i = 0; i < 200 && !nodes.some((n) => n.node.status().role === 'leader'); i++) await sleep(20);
  cluster = {
    nodes,
    servers,
    ports,
    close: async () => {
      await Promise.all(servers.map((s) => s.close()));
      await Promise.all(nodes.map((n) => n.close()));
    },
  };
  return cluster;
}

async function client(port: number, handshake: Parameters<WireClient['handshake']>[0] = {}): Promise<WireClient> {
  const c = await WireClient.open(port);
  clients.push(c);
  await c.handshake(handshake);
  return c;
}

const create = (path: string, flags = 0, data = '') => ({
  type: 'write' as const,
  request: { op: 'create' as const, path, data: bytes(data), acl: openAcl, flags, withStat: false },
});

describe('ZkServer', () => {
  it('refuses a session id with the wrong password, and accepts the right one on another member', async () => {
    const { ports } = await startCluster();
    const first = await client(ports[0]!);
    expect(first.session.id).toBeGreaterThan(0);
    expect((await first.call(create('/mine', 1))).err).toBe(0);
    const wrong = await WireClient.open(ports[1]!);
    clients.push(wrong);
    const refused = await wrong.handshake({ sessionId: first.session.id, password: new Uint8Array(16).fill(9) });
    expect(refused.timeoutMs).toBe(0);
    expect(await wrong.nextFrame()).toBeUndefined(); // closed
    first.close();
    const moved = await client(ports[2]!, { sessionId: first.session.id, password: first.session.password });
    expect(moved.session.id).toBe(first.session.id);
    expect((await moved.call({ type: 'exists', path: '/mine', watch: false })).err).toBe(0);
  });

  it('closes a connection sending a frame over jute.maxbuffer or a malformed one, answers an unknown opcode with unimplemented, and keeps serving', async () => {
    const { ports } = await startCluster();
    const big = await client(ports[0]!);
    const header = Buffer.alloc(4);
    header.writeInt32BE(4097, 0);
    big.raw(header);
    expect(await big.nextFrame(1_000)).toBeUndefined();
    const bad = await client(ports[0]!);
    bad.send(malformedGetData());
    expect(await bad.nextFrame(1_000)).toBeUndefined();
    const fine = await client(ports[0]!);
    expect((await fine.call({ type: 'unknown', opcode: 999 })).err).toBe(ZkErrorCode.unimplemented);
    expect((await fine.call(create('/still-here'))).err).toBe(0);
    expect((await fine.call({ type: 'getData', path: '/still-here', watch: false })).err).toBe(0);
  });

  it('closes the connection whose bytes would take the total held for all clients over bufferedBytesMax', async () => {
    const { ports } = await startCluster(4_100);
    const slow = await client(ports[0]!);
    const partial = Buffer.alloc(3_004);
    partial.writeInt32BE(4_000, 0);
    slow.raw(partial); // a frame of 4,000 bytes, 3,000 of them sent
    const greedy = await client(ports[0]!);
    const more = Buffer.alloc(2_000);
    more.writeInt32BE(3_000, 0);
    greedy.raw(more); // a frame within requestBytesMax, but the total would go over
    expect(await greedy.nextFrame(1_000)).toBeUndefined(); // at once: well before its session could expire
    slow.close();
    await sleep(50);
    const next = await client(ports[0]!);
    expect((await next.call(create('/fits'))).err).toBe(0);
  });

  it('closes a connection whose frame does not arrive whole within frameCompleteMsMax, and one that never sends its connect request', async () => {
    const { ports } = await startCluster();
    const idle = await client(ports[0]!);
    await sleep(600); // a whole-framed connection may idle (its session's pings keep it)
    expect((await idle.call({ type: 'ping' }, -2)).err).toBe(0);
    const partial = Buffer.alloc(10);
    partial.writeInt32BE(100, 0);
    idle.raw(partial);
    expect(await idle.nextFrame(1_000)).toBeUndefined();
    const silent = await WireClient.open(ports[0]!);
    clients.push(silent);
    expect(await silent.nextFrame(1_000)).toBeUndefined();
  });

  it('expires a silent session through the log: its ephemerals go, a reconnect is told it expired', async () => {
    const { ports } = await startCluster();
    const owner = await client(ports[0]!, { timeoutMs: 300 });
    expect(owner.session.timeoutMs).toBe(300);
    expect((await owner.call(create('/e', 1))).err).toBe(0);
    const watcher = await client(ports[1]!);
    expect((await watcher.call({ type: 'exists', path: '/e', watch: true })).err).toBe(0);
    owner.close(); // no more pings
    expect(await watcher.waitEvents(1, 5_000)).toEqual([[2, '/e']]);
    expect((await watcher.call({ type: 'exists', path: '/e', watch: false })).err).toBe(ZkErrorCode.noNode);
    const again = await WireClient.open(ports[2]!);
    clients.push(again);
    expect((await again.handshake({ sessionId: owner.session.id, password: owner.session.password })).timeoutMs).toBe(0);
  });

  it('closes a session gracefully, as ZooKeeper does: the answers queued before the close, the close answered, then the connection ended at once; the ephemerals gone for the others', async () => {
    const { ports } = await startCluster();
    const owner = await client(ports[0]!);
    const watcher = await client(ports[1]!);
    expect((await watcher.call({ type: 'exists', path: '/e', watch: true })).err).toBe(ZkErrorCode.noNode);
    // Pipelined: a create, the close, and a read the server must not answer after the close.
    owner.send(encodeRequest(10, create('/e', 1)));
    owner.send(encodeRequest(11, { type: 'closeSession' }));
    owner.send(encodeRequest(12, { type: 'exists', path: '/', watch: false }));
    const xids: number[] = [];
    for (let frame = await owner.nextFrame(); frame !== undefined; frame = await owner.nextFrame(1_000))
      xids.push(new DataView(frame.buffer, frame.byteOffset).getInt32(0));
    expect(xids).toEqual([10, 11]);
    expect(await watcher.waitEvents(1)).toEqual([[1, '/e']]);
    await watcher.call({ type: 'sync', path: '/' });
    expect((await watcher.call({ type: 'exists', path: '/e', watch: false })).err).toBe(ZkErrorCode.noNode);
  });

  it('keeps a pinging session alive past its timeout', async () => {
    const { ports } = await startCluster();
    const c = await client(ports[1]!, { timeoutMs: 300 });
    expect((await c.call(create('/alive', 1))).err).toBe(0);
    for (let i = 0; i < 10; i++) {
      await sleep(100);
      expect((await c.call({ type: 'ping' }, -2)).err).toBe(0);
    }
    expect((await c.call({ type: 'exists', path: '/alive', watch: false })).err).toBe(0);
  });

  it('fires at once, after a reconnect, the watches whose change the client missed (setWatches)', async () => {
    const { ports } = await startCluster();
    const c = await client(ports[0]!);
    await c.call(create('/w', 0, 'one'));
    await c.call(create('/p'));
    await c.call({ type: 'getData', path: '/w', watch: true });
    await c.call({ type: 'getChildren', path: '/p', watch: true });
    await c.call({ type: 'exists', path: '/later', watch: true });
    await c.call({ type: 'exists', path: '/unchanged', watch: true });
    const seen = c.lastZxid;
    c.close();
    const other = await client(ports[1]!);
    await other.call({ type: 'write', request: { op: 'setData', path: '/w', data: bytes('two'), version: -1 } });
    await other.call(create('/p/kid'));
    await other.call(create('/later'));
    const back = await WireClient.open(ports[2]!);
    clients.push(back);
    back.lastZxid = seen;
    await back.handshake({ sessionId: c.session.id, password: c.session.password });
    await back.call(
      {
        type: 'setWatches',
        version: 2,
        watches: { relativeZxid: seen, data: ['/w'], exist: ['/later', '/unchanged'], child: ['/p'], persistent: [], persistentRecursive: [] },
      },
      -8,
    );
    expect((await back.waitEvents(3)).sort()).toEqual([
      [1, '/later'],
      [3, '/w'],
      [4, '/p'],
    ]);
    // The unchanged one was registered again: it fires when it changes.
    await other.call(create('/unchanged'));
    expect(await back.waitEvents(4)).toContainEqual([1, '/unchanged']);
  });

  it('sends a watch event before the answer that shows the change, and a one-shot watch once', async () => {
    const { ports } = await startCluster();
    const c = await client(ports[2]!);
    await c.call(create('/x', 0, 'a'));
    await c.call({ type: 'getData', path: '/x', watch: true });
    const reply = await c.call({ type: 'write', request: { op: 'setData', path: '/x', data: bytes('b'), version: 0 } });
    const at = c.frames.indexOf(reply);
    expect(c.frames.slice(0, at).filter((f) => f.xid === -1)).toHaveLength(1);
    await c.call({ type: 'write', request: { op: 'setData', path: '/x', data: bytes('c'), version: 1 } });
    expect(c.events).toEqual([[3, '/x']]);
  });

  it('serves persistent recursive watches without consuming them', async () => {
    const { ports } = await startCluster();
    const c = await client(ports[0]!);
    expect((await c.call({ type: 'addWatch', path: '/tree', mode: 1 })).err).toBe(0);
    const w = await client(ports[1]!);
    await w.call(create('/tree'));
    await w.call(create('/tree/a'));
    await w.call({ type: 'write', request: { op: 'setData', path: '/tree/a', data: bytes('v'), version: -1 } });
    expect(await c.waitEvents(3)).toEqual([
      [1, '/tree'],
      [1, '/tree/a'],
      [3, '/tree/a'],
    ]);
    expect((await c.call({ type: 'removeWatches', path: '/tree', watcherType: 3 })).err).toBe(0);
    expect((await c.call({ type: 'removeWatches', path: '/tree', watcherType: 3 })).err).toBe(ZkErrorCode.noWatcher);
  });

  it('tells a watcher only of nodes it may read, with the ids it holds when the change applies (CVE-2024-23944)', async () => {
    const { ports } = await startCluster();
    const alice = digestAuthId('alice', 'pw');
    const watcher = await client(ports[0]!);
    expect((await watcher.call({ type: 'addWatch', path: '/', mode: 1 })).err).toBe(0);
    const writer = await client(ports[1]!);
    const secret = (path: string) => ({
      type: 'write' as const,
      request: { op: 'create' as const, path, data: bytes(''), acl: [{ perms: 31, id: alice }], flags: 0, withStat: false },
    });
    expect((await writer.call(secret('/secret'))).err).toBe(0);
    expect((await writer.call(create('/open'))).err).toBe(0);
    expect(await watcher.waitEvents(1)).toEqual([[1, '/open']]);
    // Once it holds alice's id, the same watch tells it of her nodes.
    expect((await watcher.call({ type: 'auth', scheme: 'digest', auth: bytes('alice:pw') }, -4)).err).toBe(0);
    expect((await writer.call(secret('/secret2'))).err).toBe(0);
    expect(await watcher.waitEvents(2)).toEqual([
      [1, '/open'],
      [1, '/secret2'],
    ]);
  });

  it('deletes an emptied container and an expired TTL node through the log, firing their watches, on every member', async () => {
    const { ports } = await startCluster();
    const c = await client(ports[1]!);
    const extended = (path: string, kind: 'container' | 'ttl', ttlMs = 0) => ({
      type: 'write' as const,
      request: {
        op: 'create' as const,
        path,
        data: bytes(''),
        acl: openAcl,
        flags: kind === 'ttl' ? 5 : 0,
        withStat: true,
        kind,
        ...(kind === 'ttl' ? { ttlMs } : {}),
      },
    });
    expect((await c.call(extended('/box', 'container'))).err).toBe(0);
    expect((await c.call(create('/box/item'))).err).toBe(0);
    expect((await c.call(extended('/t', 'ttl', 200))).err).toBe(0);
    expect((await c.call(extended('/kept', 'ttl', 600_000))).err).toBe(0);
    expect((await c.call(extended('/unused', 'container'))).err).toBe(0);
    for (const path of ['/box', '/t']) await c.call({ type: 'exists', path, watch: true });
    await c.call({ type: 'getChildren', path: '/', watch: true });
    expect((await c.call({ type: 'write', request: { op: 'delete', path: '/box/item', version: -1 } })).err).toBe(0);
    const exists = async (port: number, path: string) => {
      const other = await client(port);
      return (await other.call({ type: 'exists', path, watch: false })).err === ZkErrorCode.ok;
    };
    for (let i = 0; (await exists(ports[1]!, '/box')) || (await exists(ports[1]!, '/t')); i++) {
      if (i > 100) throw new Error('/box or /t still there after 5 s');
      await sleep(50);
    }
    await c.call({ type: 'sync', path: '/' });
    expect(c.events.sort()).toEqual([
      [2, '/box'],
      [2, '/t'],
      [4, '/'],
    ]);
    for (const port of ports) {
      await (await client(port)).call({ type: 'sync', path: '/' });
      expect([await exists(port, '/box'), await exists(port, '/t'), await exists(port, '/kept'), await exists(port, '/unused')]).toEqual([
        false,
        false,
        true,
        true,
      ]);
    }
  });

  it('makes the next read current with sync', async () => {
    const { ports } = await startCluster();
    const writer = await client(ports[0]!);
    const reader = await client(ports[1]!);
    for (let i = 0; i < 20; i++) {
      await writer.call(create(`/s${i}`, 0, String(i)));
      expect((await reader.call({ type: 'sync', path: `/s${i}` })).err).toBe(0);
      expect(dataOf(await reader.call({ type: 'getData', path: `/s${i}`, watch: false })).data).toBe(String(i));
    }
  });
});
