/**
 * An observer started by `synod serve --join --observer --zk HOST:PORT` answers
 * ZooKeeper clients, as ZooKeeper's observers do: three `synod serve` members carrying
 * the tree, and a fourth joining as an observer with its own ZooKeeper port. A client
 * of the observer writes (through consensus), reads its own write, is told by a watch
 * of a write made through a voter, and reads it after a sync; the four-letter words
 * say `observer`; the session moves to a voter. `--zk` for a cluster that carries no
 * tree is refused.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort, writeLocalCluster } from '../../src/cli/cluster-up.js';
import { ZkCreateMode, openAcl } from '../../src/zk/index.js';
import { ServerProcesses, synod, until } from '../cli/cli-processes.js';
import { fourLetterWord } from './four-letter-word.js';
import { WireClient, dataOf } from './server/zk-wire-client.js';
import { writeZkCluster } from './zk-cluster-file.js';

const bytes = (s: string) => new TextEncoder().encode(s);

const servers = new ServerProcesses();
const clients: WireClient[] = [];
let dir = '';
let config = '';
let zkPorts: Record<string, number> = {};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'synod-zk-observer-'));
  ({ config, zkPorts } = await writeZkCluster(dir, 3));
  for (const id of Object.keys(zkPorts)) servers.serve(config, id, ['--tick-ms', '20']);
  await until('a leader', 20_000, async () =>
    /Mode: leader/.test((await Promise.all(['a', 'b', 'c'].map((id) => fourLetterWord(zkPorts[id]!, 'srvr')))).join()),
  );
}, 30_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await servers.killAll();
  await rm(dir, { recursive: true, force: true });
});

it('an observer joined with serve --join --observer --zk serves ZooKeeper clients: writes, reads, watches, sync, its mode; the session moves to a voter', async () => {
  zkPorts['o'] = await freePort();
  const [peer, client] = [await freePort(), await freePort()];
  const observer = servers.serve(config, 'o', [
    '--tick-ms',
    '20',
    '--join',
    '--observer',
    '--peer',
    `127.0.0.1:${peer}`,
    '--client',
    `127.0.0.1:${client}`,
    '--zk',
    `127.0.0.1:${zkPorts['o']}`,
    '--data-dir',
    join(dir, 'o'),
  ]);
  await until('o an observer', 20_000, async () =>
    (JSON.parse((await synod(config, 'member', 'list', '--json')).stdout) as { observers: string[] }).observers.includes('o'),
  );
  expect(servers.describe(observer)).toMatch(/ZooKeeper clients on 127\.0\.0\.1:\d+/);

  const onObserver = await WireClient.open(zkPorts['o']!);
  clients.push(onObserver);
  await onObserver.handshake();
  expect(onObserver.session.id).toBeGreaterThan(0);
  expect(
    (await onObserver.call({ type: 'write', request: { op: 'create', path: '/app', data: bytes('v1'), acl: openAcl, flags: 0, withStat: false } })).err,
  ).toBe(0);
  expect(dataOf(await onObserver.call({ type: 'getData', path: '/app', watch: true })).data).toBe('v1');
  expect(
    (
      await onObserver.call({
        type: 'write',
        request: { op: 'create', path: '/app/alive', data: bytes(''), acl: openAcl, flags: ZkCreateMode.ephemeral, withStat: false },
      })
    ).err,
  ).toBe(0);

  // A write through a voter: the observer's client is told, and reads it after a sync.
  const onVoter = await WireClient.open(zkPorts['a']!);
  clients.push(onVoter);
  await onVoter.handshake();
  expect((await onVoter.call({ type: 'write', request: { op: 'setData', path: '/app', data: bytes('v2'), version: 0 } })).err).toBe(0);
  expect(await onObserver.waitEvents(1)).toEqual([[3, '/app']]);
  expect((await onObserver.call({ type: 'sync', path: '/app' })).err).toBe(0);
  expect(dataOf(await onObserver.call({ type: 'getData', path: '/app', watch: false })).data).toBe('v2');

  expect(await fourLetterWord(zkPorts['o']!, 'srvr')).toMatch(/^Mode: observer$/m);
  expect(await fourLetterWord(zkPorts['o']!, 'mntr')).toMatch(/^zk_server_state\tobserver$/m);
  expect(await fourLetterWord(zkPorts['o']!, 'isro')).toBe('rw');

  // The session moves from the observer to a voter with its id and password, its ephemeral there.
  onObserver.close();
  const moved = await WireClient.open(zkPorts['b']!);
  clients.push(moved);
  await moved.handshake({ sessionId: onObserver.session.id, password: onObserver.session.password });
  expect(moved.session.id).toBe(onObserver.session.id);
  expect((await moved.call({ type: 'exists', path: '/app/alive', watch: false })).err).toBe(0);
}, 40_000);

it('refuses --zk for a member of the cluster file, and for a cluster that carries no tree', async () => {
  const plain = await writeLocalCluster(join(dir, 'plain'), 1);
  const [peer, client, zk] = [await freePort(), await freePort(), await freePort()];
  const noTree = await synod(
    plain,
    'serve',
    '--id',
    'o',
    '--join',
    '--peer',
    `127.0.0.1:${peer}`,
    '--client',
    `127.0.0.1:${client}`,
    '--zk',
    `127.0.0.1:${zk}`,
    '--data-dir',
    join(dir, 'plain-o'),
  );
  expect(noTree.code).not.toBe(0);
  expect(noTree.stderr).toMatch(/--zk.*needs a cluster that carries the ZooKeeper tree/);
  const member = await synod(config, 'serve', '--id', 'a', '--zk', `127.0.0.1:${zk}`);
  expect(member.code).not.toBe(0);
  expect(member.stderr).toMatch(/--zk.*is for a member that joins/);
});
