/**
 * The four-letter words operators script against (`srvr`, `stat`, `mntr`, `cons`,
 * `crst`, `srst`, `wchs`, `wchc`, `wchp`, `dump`, `envi`), answered by a synod member
 * serving two sessions with watches and an ephemeral node: checked field by field, and
 * compared in shape with a real ZooKeeper's answers to the same sessions (skipped where
 * ZooKeeper is not installed).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryNetwork, MemoryStorage } from '../../../src/index.js';
import { systemClock } from '../../../src/runtime/index.js';
import { type KvNode, createKvNode } from '../../../src/kv/index.js';
import { openAcl } from '../../../src/zk/index.js';
import { ZkExtension, ZkServer } from '../../../src/zk/server/index.js';
import { type ZkRequest, encodeRequest } from '../../../src/zk/protocol/zk-request.js';
import { type RealZooKeeper, startZooKeeper, zookeeperMissing } from '../real-zookeeper.js';
import { fourLetterWord } from '../four-letter-word.js';
import { WireClient } from './zk-wire-client.js';

/** Every reading of synod's clock is 5 ms after the one before it at least: every request's latency is 5 ms or more. */
const latencyStepMs = 5;
let steps = 0;
const steppingClock = { ...systemClock, now: () => systemClock.now() + (steps += latencyStepMs) };

const bytes = (s: string) => new TextEncoder().encode(s);
const create = (path: string, flags: number): ZkRequest => ({
  type: 'write',
  request: { op: 'create', path, data: bytes('x'), acl: openAcl, flags, withStat: false },
});
/** A session id as ZooKeeper prints it (`Long.toHexString`). */
const sid = (c: WireClient) => `0x${BigInt(`0x${c.sessionHex}`).toString(16)}`;

/** Two sessions on `port`: A owns ephemeral /e1 and watches /'s children; B made /p and watches /p and /e1's data. */
async function scenario(port: number): Promise<{ a: WireClient; b: WireClient; lastZxidA: number; lastZxidB: number }> {
  const a = await WireClient.open(port);
  await a.handshake();
  const b = await WireClient.open(port);
  await b.handshake();
  expect((await a.call(create('/e1', 1))).err).toBe(0);
  expect((await b.call(create('/p', 0))).err).toBe(0);
  expect((await b.call({ type: 'getData', path: '/p', watch: true })).err).toBe(0);
  const lastB = await b.call({ type: 'exists', path: '/e1', watch: true });
  const lastA = await a.call({ type: 'getChildren', path: '/', watch: true });
  return { a, b, lastZxidA: lastA.zxid, lastZxidB: lastB.zxid };
}

/** A `cons` line's fields, by name. */
function consFields(text: string, remotePort: number): Record<string, string> {
  const line = text.split('\n').find((l) => l.includes(`:${remotePort}[`));
  expect(line, `a cons line for port ${remotePort} in ${text}`).toBeDefined();
  const m = /^ \/[\d.]+:\d+\[(\d)\]\((.*)\)$/.exec(line!);
  expect(m, line).not.toBeNull();
  return { interest: m![1]!, ...Object.fromEntries(m![2]!.split(',').map((kv) => kv.split('=') as [string, string])) };
}

const localPort = (c: WireClient) => (c as unknown as { socket: { localPort: number } }).socket.localPort;

let kv: KvNode | undefined;
let server: ZkServer | undefined;
let port = 0;
let synod: Awaited<ReturnType<typeof scenario>>;
let real: RealZooKeeper | undefined;
let realDir = '';
let dataDir = '';
let realRun: Awaited<ReturnType<typeof scenario>> | undefined;
const startedAt = Date.now();

beforeAll(async () => {
  const realStart =
    zookeeperMissing === undefined
      ? mkdtemp(join(tmpdir(), 'zk-4lw-')).then(async (dir) => ((realDir = dir), (real = await startZooKeeper(dir, 1))))
      : Promise.resolve(undefined);
  const extension = new ZkExtension();
  kv = createKvNode({
    id: 'a',
    members: ['a'],
    transport: new MemoryNetwork().transport('a'),
    storage: new MemoryStorage(),
    tickMs: 10,
    electionTicks: { min: 20, max: 40 },
    kv: { extension },
  });
  await kv.start();
  dataDir = await mkdtemp(join(tmpdir(), 'zk-4lw-data-'));
  await writeFile(join(dataDir, 'wal'), Buffer.alloc(4_321));
  server = new ZkServer({ kv, extension, address: { host: '127.0.0.1', port: 0 }, clock: steppingClock, dataDir });
  port = (await server.start()).port;
  for (let i = 0; i < 200 && kv.node.status().role !== 'leader'; i++) await new Promise((r) => setTimeout(r, 10));
  synod = await scenario(port);
  await realStart;
  if (real !== undefined) realRun = await scenario(real.ports[0]!);
}, 40_000);

afterAll(async () => {
  for (const run of [synod, realRun]) {
    run?.a.close();
    run?.b.close();
  }
  await server?.close();
  await kv?.close();
  await real?.stop();
  for (const dir of [realDir, dataDir]) if (dir !== '') await rm(dir, { recursive: true, force: true });
});

const realIt = zookeeperMissing === undefined ? it : it.skip;

describe('four-letter words on a synod member', () => {
  // The words that reset figures come last in this file: these read the scenario's figures first.
  it('srvr and mntr report the latency, packets and outstanding requests of the requests answered', async () => {
    const srvr = await fourLetterWord(port, 'srvr');
    const latency = /^Latency min\/avg\/max: (\d+)\/(\d+\.\d+)\/(\d+)$/m.exec(srvr);
    expect(latency, srvr).not.toBeNull();
    const [min, avg, max] = [Number(latency![1]), Number(latency![2]), Number(latency![3])];
    // Seven requests answered (two handshakes, two creates, three reads), each taking a clock step at least.
    expect(min).toBeGreaterThanOrEqual(latencyStepMs);
    expect(max).toBeGreaterThanOrEqual(avg);
    expect(avg).toBeGreaterThanOrEqual(min);
    // Received: the seven requests and this word; sent: the seven answers.
    expect(srvr).toMatch(/^Received: 8$/m);
    expect(srvr).toMatch(/^Sent: 7$/m);
    expect(srvr).toMatch(/^Connections: 3$/m);
    expect(srvr).toMatch(/^Outstanding: 0$/m);
    const mntr = Object.fromEntries(
      (await fourLetterWord(port, 'mntr'))
        .trim()
        .split('\n')
        .map((l) => l.split('\t') as [string, string]),
    );
    expect(Number(mntr['zk_min_latency'])).toBe(min);
    expect(Number(mntr['zk_max_latency'])).toBe(max);
    expect(Number(mntr['zk_avg_latency'])).toBe(avg);
    expect(mntr['zk_avg_latency']).toMatch(/^\d+\.\d{1,4}$/);
    expect(mntr['zk_outstanding_requests']).toBe('0');
    expect(mntr['zk_watch_count']).toBe('3');
    expect(mntr['zk_ephemerals_count']).toBe('1');
    expect(mntr['zk_global_sessions']).toBe('2');
  });

  it('cons prints each connection and its session, field by field', async () => {
    const before = Date.now();
    const text = await fourLetterWord(port, 'cons');
    expect(text.endsWith(')\n\n')).toBe(true);
    expect(text.split('\n').filter((l) => l.startsWith(' /'))).toHaveLength(3);
    for (const [client, op, recved, lastZxid] of [
      [synod.a, 'GETC', 3, synod.lastZxidA],
      [synod.b, 'EXIS', 4, synod.lastZxidB],
    ] as const) {
      const f = consFields(text, localPort(client));
      expect(Object.keys(f)).toEqual([
        'interest',
        'queued',
        'recved',
        'sent',
        'sid',
        'lop',
        'est',
        'to',
        'lcxid',
        'lzxid',
        'lresp',
        'llat',
        'minlat',
        'avglat',
        'maxlat',
      ]);
      expect(f).toMatchObject({
        interest: '1',
        queued: '0',
        recved: String(recved),
        sent: String(recved),
        sid: sid(client),
        lop: op,
        to: String(client.session.timeoutMs),
        lcxid: `0x${(recved - 1).toString(16)}`,
        lzxid: `0x${lastZxid.toString(16)}`,
      });
      expect(Number(f['est'])).toBeGreaterThanOrEqual(startedAt);
      expect(Number(f['est'])).toBeLessThanOrEqual(before);
      expect(Number(f['lresp'])).toBeGreaterThan(0);
      expect(Number(f['minlat'])).toBeGreaterThanOrEqual(latencyStepMs);
      expect(Number(f['llat'])).toBeGreaterThanOrEqual(Number(f['minlat']));
      expect(Number(f['maxlat'])).toBeGreaterThanOrEqual(Number(f['avglat']));
      expect(Number(f['avglat'])).toBeGreaterThanOrEqual(Number(f['minlat']));
    }
    // The connection asking carries no session: the brief form, not being read.
    expect(text).toMatch(/^ \/127\.0\.0\.1:\d+\[0\]\(queued=0,recved=1,sent=0\)$/m);
    expect(await fourLetterWord(port, 'stat')).toContain(` /127.0.0.1:${localPort(synod.b)}[1](queued=0,recved=4,sent=4)\n`);
  });

  it('wchs, wchc and wchp list the data, exist and persistent watches by session and by path', async () => {
    const b = sid(synod.b);
    expect(await fourLetterWord(port, 'wchs')).toBe('1 connections watching 2 paths\nTotal watches:2\n');
    expect(await fourLetterWord(port, 'wchc')).toBe(`${b}\n\t/p\n\t/e1\n\n`);
    expect(await fourLetterWord(port, 'wchp')).toBe(`/p\n\t${b}\n/e1\n\t${b}\n\n`);
  });

  it('dump lists the sessions by when the leader expects to expire them, the ephemeral nodes by session, and the connections', async () => {
    const text = await fourLetterWord(port, 'dump');
    const [a, b] = [synod.a, synod.b];
    const sets = /^SessionTracker dump:\nSession Sets \((\d+)\)\/\(2\):\n((?:\d+ expire at .+:\n(?:\t0x[0-9a-f]+\n)+)+)ephemeral nodes dump:\n/.exec(text);
    expect(sets, text).not.toBeNull();
    const groups = [...sets![2]!.matchAll(/(\d+) expire at (\w{3} \w{3} \d\d \d\d:\d\d:\d\d UTC \d{4}):\n((?:\t0x[0-9a-f]+\n)+)/g)];
    expect(groups).toHaveLength(Number(sets![1]));
    expect(groups.flatMap((g) => g[3]!.trim().split('\n\t')).sort()).toEqual([sid(a), sid(b)].sort());
    for (const g of groups) {
      expect(g[3]!.trim().split('\n')).toHaveLength(Number(g[1]));
      // A timeout after the session was last heard from (in this test), to the second.
      const at = Date.parse(g[2]!.replace(/^\w{3} (\w{3}) (\d\d) (\S+) UTC (\d{4})$/, '$1 $2 $4 $3 UTC'));
      expect(at).toBeGreaterThanOrEqual(startedAt + a.session.timeoutMs - 1_000);
      expect(at).toBeLessThanOrEqual(Date.now() + a.session.timeoutMs + 1_000);
    }
    expect(text).toContain(`ephemeral nodes dump:\nSessions with Ephemerals (1):\n${sid(a)}:\n\t/e1\nConnections dump:\nConnections (3):\n`);
    expect(text).toContain(`\tip: /127.0.0.1:${localPort(a)} sessionId: ${sid(a)}\n`);
    expect(text).toContain(`\tip: /127.0.0.1:${localPort(b)} sessionId: ${sid(b)}\n`);
  });

  it('envi reports the version and this process, with node.* keys where ZooKeeper has java.*', async () => {
    const lines = (await fourLetterWord(port, 'envi')).split('\n');
    expect(lines.slice(0, 3)).toEqual(['Environment:', 'zookeeper.version=3.8.0-synod, built on synod', `host.name=${hostname()}`]);
    expect(lines).toContain(`node.version=${process.version}`);
    expect(lines).toContain(`user.dir=${process.cwd()}`);
    expect(lines.filter((l) => l.startsWith('java.'))).toEqual([]);
  });

  it('dirs counts the bytes of the data directory', async () => {
    expect(await fourLetterWord(port, 'dirs')).toBe('datadir_size: 4321\nlogdir_size: 4321\n');
  });

  realIt('answers in the shape a real ZooKeeper does for the same sessions', async () => {
    const zkPort = real!.ports[0]!;
    const run = realRun!;
    const label = (text: string, pairs: [WireClient, string][]) => pairs.reduce((t, [c, name]) => t.replaceAll(sid(c), name), text);
    for (const word of ['wchs', 'wchc', 'wchp']) {
      const ours = label(await fourLetterWord(port, word), [
        [synod.a, 'A'],
        [synod.b, 'B'],
      ]);
      const theirs = label(await fourLetterWord(zkPort, word), [
        [run.a, 'A'],
        [run.b, 'B'],
      ]);
      // ZooKeeper's order is a hash map's: the same lines, maybe in another order.
      expect(ours.split('\n').sort(), word).toEqual(theirs.split('\n').sort());
    }
    const keys = (text: string) => text.split('\n').map((l) => /^[A-Za-z ]+:/.exec(l)?.[0] ?? l.replace(/[\d.]+/g, 'N'));
    const srvrOurs = keys(await fourLetterWord(port, 'srvr'));
    expect(srvrOurs).toEqual(keys(await fourLetterWord(zkPort, 'srvr')));
    const consNames = async (p: number, c: WireClient) => Object.keys(consFields(await fourLetterWord(p, 'cons'), localPort(c)));
    expect(await consNames(port, synod.b)).toEqual(await consNames(zkPort, run.b));
    // The kinds of line, not how many: how sessions fall into expiry sets depends on when each was last heard from.
    const sessionSets = (text: string) =>
      [
        ...new Set(
          text
            .slice(0, text.indexOf('ephemeral nodes dump:'))
            .replace(/0x[0-9a-f]+/g, 'ID')
            .replace(/\d+/g, 'N')
            .replace(/[A-Z][a-z]{2} [A-Z][a-z]{2} N N:N:N UTC N/g, 'DATE')
            .split('\n'),
        ),
      ].sort();
    // A standalone ZooKeeper prints its sessions as a leader does.
    expect(sessionSets(await fourLetterWord(port, 'dump'))).toEqual(sessionSets(await fourLetterWord(zkPort, 'dump')));
    const ephemerals = (text: string) => text.slice(text.indexOf('ephemeral nodes dump:'), text.indexOf('Connections dump:'));
    expect(label(ephemerals(await fourLetterWord(port, 'dump')), [[synod.a, 'A']])).toBe(
      label(ephemerals(await fourLetterWord(zkPort, 'dump')), [[run.a, 'A']]),
    );
    const mntrKeys = (text: string) =>
      new Set(
        text
          .trim()
          .split('\n')
          .map((l) => l.split('\t')[0]),
      );
    const theirMntr = mntrKeys(await fourLetterWord(zkPort, 'mntr'));
    // zk_last_zxid is synod's own (ZooKeeper 3.8 prints the zxid in srvr only).
    for (const k of mntrKeys(await fourLetterWord(port, 'mntr'))) if (k !== 'zk_last_zxid') expect(theirMntr.has(k), k).toBe(true);
    const enviKeys = (text: string) =>
      text
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => l.slice(0, l.indexOf('=')));
    const theirEnvi = enviKeys(await fourLetterWord(zkPort, 'envi'));
    expect(enviKeys(await fourLetterWord(port, 'envi')).filter((k) => !theirEnvi.includes(k))).toEqual(['node.version', 'node.exec.path']);
    expect((await fourLetterWord(zkPort, 'dirs')).replace(/\d+/g, 'N')).toBe((await fourLetterWord(port, 'dirs')).replace(/\d+/g, 'N'));
    for (const word of ['crst', 'srst']) expect(await fourLetterWord(port, word)).toBe(await fourLetterWord(zkPort, word));
  });

  it('srvr, mntr and cons count the requests read and not yet answered', async () => {
    // Twenty creates sent at once are answered one after another, each through the log: the word comes while some wait.
    for (let i = 0; i < 20; i++) synod.b.send(encodeRequest(100 + i, create(`/q${i}`, 0)));
    const srvr = await fourLetterWord(port, 'srvr');
    const cons = consFields(await fourLetterWord(port, 'cons'), localPort(synod.b));
    const outstanding = Number(/^Outstanding: (\d+)$/m.exec(srvr)?.[1]);
    expect(outstanding).toBeGreaterThan(0);
    expect(outstanding).toBeLessThanOrEqual(20);
    expect(Number(cons['queued'])).toBeGreaterThan(0);
    // Every one is answered; then none is outstanding.
    expect((await synod.b.call({ type: 'exists', path: '/q19', watch: false })).err).toBe(0);
    expect(await fourLetterWord(port, 'mntr')).toMatch(/^zk_outstanding_requests\t0$/m);
  });

  it('crst resets every connection figure and srst the server figures, as ZooKeeper does', async () => {
    expect(await fourLetterWord(port, 'crst')).toBe('Connection stats reset.\n');
    const f = consFields(await fourLetterWord(port, 'cons'), localPort(synod.a));
    expect(f).toMatchObject({
      recved: '0',
      sent: '0',
      sid: sid(synod.a),
      lop: 'NA',
      lzxid: '0xffffffffffffffff',
      lresp: '0',
      llat: '0',
      minlat: '0',
      avglat: '0',
      maxlat: '0',
    });
    expect(f['lcxid']).toBeUndefined();
    expect(await fourLetterWord(port, 'srst')).toBe('Server stats reset.\n');
    const srvr = await fourLetterWord(port, 'srvr');
    expect(srvr).toMatch(/^Latency min\/avg\/max: 0\/0\.0\/0$/m);
    expect(srvr).toMatch(/^Received: 1$/m);
    expect(srvr).toMatch(/^Sent: 0$/m);
    // A request after the reset is counted again.
    expect((await synod.a.call({ type: 'exists', path: '/p', watch: false })).err).toBe(0);
    expect(await fourLetterWord(port, 'srvr')).toMatch(/^Latency min\/avg\/max: (\d+)\/\1\.0\/\1$/m);
    expect(consFields(await fourLetterWord(port, 'cons'), localPort(synod.a))).toMatchObject({ recved: '1', sent: '1', lop: 'EXIS', lcxid: '0x3' });
  });
});
