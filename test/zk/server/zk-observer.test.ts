/**
 * An observer's ZooKeeper port (ZooKeeper's observers: members that serve clients
 * without voting): three voters and one observer in process (MemoryNetwork, real
 * sockets for the clients). The observer opens sessions and answers reads from its own
 * copy, forwards writes through consensus, fires watches as changes apply on it, makes
 * a read current with sync, and its sessions live and end through the log like any
 * member's: they move to a voter with their ephemerals, and expire by the leader's
 * decision. Its four-letter words say it is an observer, as ZooKeeper's do.
 */
import { afterEach, expect, it } from 'vitest';
import { MemoryNetwork, MemoryStorage } from '../../../src/index.js';
import { type KvNode, createKvNode } from '../../../src/kv/index.js';
import { ZkCreateMode, ZkErrorCode, openAcl } from '../../../src/zk/index.js';
import { JuteReader } from '../../../src/zk/protocol/jute-reader.js';
import { ZkExtension, ZkServer } from '../../../src/zk/server/index.js';
import { fourLetterWord } from '../four-letter-word.js';
import { WireClient, dataOf } from './zk-wire-client.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const nodes: KvNode[] = [];
const servers: ZkServer[] = [];
const clients: WireClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(nodes.splice(0).map((n) => n.close()));
});

/** Three voters and observer `o`, each with a ZooKeeper port; the ports by id. */
async function startCluster(): Promise<{ ports: Record<string, number>; byId: Record<string, KvNode> }> {
  const network = new MemoryNetwork({ delayMs: { min: 0, max: 1 } });
  const voters = ['a', 'b', 'c'];
  const ports: Record<string, number> = {};
  const byId: Record<string, KvNode> = {};
  for (const id of [...voters, 'o']) {
    const extension = new ZkExtension();
    const kv = createKvNode({
      id,
      members: voters,
      observers: ['o'],
      transport: network.transport(id),
      storage: new MemoryStorage(),
      tickMs: 10,
      electionTicks: { min: 20, max: 40 },
      kv: { extension },
    });
    nodes.push(kv);
    byId[id] = kv;
    await kv.start();
    const server = new ZkServer({
      kv,
      extension,
      address: { host: '127.0.0.1', port: 0 },
      sessionTimeoutMsMin: 300,
      sessionTimeoutMsMax: 2_000,
      sessionCheckMs: 50,
    });
    servers.push(server);
    ports[id] = (await server.start()).port;
  }
  for (let i = 0; i < 200 && !nodes.some((n) => n.node.status().role === 'leader'); i++) await sleep(20);
  return { ports, byId };
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
const setData = (path: string, data: string, version = -1) => ({
  type: 'write' as const,
  request: { op: 'setData' as const, path, data: bytes(data), version },
});

it('serves sessions, reads from its own copy, writes through consensus, watches and sync, without voting', async () => {
  const { ports, byId } = await startCluster();
  expect(byId['o']!.node.status().role).toBe('observer');
  const onObserver = await client(ports['o']!);
  expect(onObserver.session.id).toBeGreaterThan(0);

  // A write through the observer is chosen by the voters and applied everywhere.
  expect((await onObserver.call(create('/config', 0, 'v1'))).err).toBe(0);
  const onVoter = await client(ports['a']!);
  expect((await onVoter.call({ type: 'sync', path: '/config' })).err).toBe(0);
  expect(dataOf(await onVoter.call({ type: 'getData', path: '/config', watch: false })).data).toBe('v1');
  // Read your own write on the observer, at once (answered only once applied there).
  expect(dataOf(await onObserver.call({ type: 'getData', path: '/config', watch: true })).data).toBe('v1');

  // A watch set on the observer fires when a voter's client changes the node, before the answer that shows it.
  expect((await onVoter.call(setData('/config', 'v2', 0))).err).toBe(0);
  expect(await onObserver.waitEvents(1)).toEqual([[3, '/config']]);
  expect((await onObserver.call({ type: 'sync', path: '/config' })).err).toBe(0);
  const read = dataOf(await onObserver.call({ type: 'getData', path: '/config', watch: false }));
  expect([read.data, read.stat.version]).toEqual(['v2', 1]);

  // A versioned write through the observer is checked against the chosen version.
  expect((await onObserver.call(setData('/config', 'stale', 0))).err).toBe(ZkErrorCode.badVersion);
  expect((await onObserver.call(setData('/config', 'v3', 1))).err).toBe(0);

  // Sequential numbers come from the log, whichever member the create went through.
  const seq = async (c: WireClient) => new JuteReader((await c.call(create('/config/job-', ZkCreateMode.persistentSequential))).body).string('path', 4096);
  expect([await seq(onObserver), await seq(onVoter), await seq(onObserver)]).toEqual([
    '/config/job-0000000000',
    '/config/job-0000000001',
    '/config/job-0000000002',
  ]);

  // The observer never voted: still an observer, not among the voters.
  const configuration = byId['o']!.node.status().configuration!;
  expect(configuration.observers).toEqual(['o']);
  expect(configuration.voters).not.toContain('o');
});

it('keeps an observer session alive with its pings; moves it to a voter with its ephemeral; the leader expires it once silent', async () => {
  const { ports } = await startCluster();
  const first = await client(ports['o']!, { timeoutMs: 600 });
  expect((await first.call(create('/alive', ZkCreateMode.ephemeral))).err).toBe(0);
  // Pinged through the observer past its timeout: alive.
  for (let i = 0; i < 8; i++) {
    await sleep(150);
    expect((await first.call({ type: 'ping' }, -2)).err).toBe(0);
  }
  // The session moves to a voter with its id and password; its ephemeral is there.
  first.close();
  const moved = await client(ports['b']!, { sessionId: first.session.id, password: first.session.password, timeoutMs: 600 });
  expect(moved.session.id).toBe(first.session.id);
  expect((await moved.call({ type: 'exists', path: '/alive', watch: false })).err).toBe(0);
  // Back to the observer, then silent: the leader expires it, the ephemeral goes on every member.
  moved.close();
  const back = await client(ports['o']!, { sessionId: first.session.id, password: first.session.password, timeoutMs: 600 });
  expect(back.session.id).toBe(first.session.id);
  back.close();
  const other = await client(ports['o']!);
  for (let i = 0; i < 100 && (await other.call({ type: 'exists', path: '/alive', watch: false })).err === 0; i++) await sleep(50);
  expect((await other.call({ type: 'exists', path: '/alive', watch: false })).err).toBe(ZkErrorCode.noNode);
  const again = await WireClient.open(ports['o']!);
  clients.push(again);
  expect((await again.handshake({ sessionId: first.session.id, password: first.session.password })).timeoutMs).toBe(0);
});

it('reports its mode as observer in srvr, stat and mntr, and rw in isro, as a ZooKeeper observer does', async () => {
  const { ports } = await startCluster();
  expect(await fourLetterWord(ports['o']!, 'srvr')).toMatch(/^Mode: observer$/m);
  expect(await fourLetterWord(ports['o']!, 'stat')).toMatch(/^Mode: observer$/m);
  expect(await fourLetterWord(ports['o']!, 'mntr')).toMatch(/^zk_server_state\tobserver$/m);
  // isro says whether the server is in read-only mode; an observer serving with the quorum is not.
  expect(await fourLetterWord(ports['o']!, 'isro')).toBe('rw');
  expect(await fourLetterWord(ports['a']!, 'srvr')).toMatch(/^Mode: (leader|follower)$/m);
});
