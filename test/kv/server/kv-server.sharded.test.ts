/**
 * Sharded KV servers over TCP: the keyspace in ranges, each its own group, served to
 * remote clients by any member, routed by key on the server; the ranges listed with
 * their leaders and sizes; what a sharded cluster does not serve yet refused with a
 * typed error; and what it acknowledged kept across restarts and automatic splits.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CrossShardError, KvRequestError } from '../../../src/kv/index.js';
import type { KvClient } from '../../../src/kv/client/index.js';
import { ServerCluster } from './cluster.js';

let cluster: ServerCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (v: Uint8Array | undefined) => (v === undefined ? undefined : new TextDecoder().decode(v));

async function eventually(check: () => Promise<void>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

describe('sharded KV servers', () => {
  it('route reads and writes by key from any server, merge range reads in key order, and list the ranges', async () => {
    cluster = await ServerCluster.start(['a', 'b', 'c'], { server: () => ({ shards: { splitKeys: ['g', 'p'] } }) });
    const [a, b] = [cluster.client({ only: ['a'] }), cluster.client({ only: ['b'] })];
    for (const key of ['zebra', 'apple', 'hat']) expect(await a.put(key, `${key}-1`)).toMatchObject({ key, version: 1 });
    expect(text((await b.get('hat'))?.value)).toBe('hat-1');
    expect(await b.put('zebra', 'zebra-2', { expectedVersion: 1 })).toMatchObject({ version: 2 });
    const all = await b.range({ prefix: '' });
    expect(all.kvs.map((kv) => [kv.key, text(kv.value)])).toEqual([
      ['apple', 'apple-1'],
      ['hat', 'hat-1'],
      ['zebra', 'zebra-2'],
    ]);
    expect(all.count).toBe(3);
    // Three ranges' revisions: none of them is the read's.
    expect(all.revision).toBe(0);
    // A read within one range has that range's revision.
    expect((await b.range({ prefix: 'ze' })).revision).toBeGreaterThan(0);
    await eventually(async () => {
      const ranges = await b.ranges();
      expect(ranges.map((r) => [r.start, r.end])).toEqual([
        ['', 'g'],
        ['g', 'p'],
        ['p', undefined],
      ]);
      expect(ranges.map((r) => r.keys)).toEqual([1, 1, 1]);
      expect(new Set(ranges.map((r) => r.group)).size).toBe(3);
      for (const r of ranges) expect(['a', 'b', 'c']).toContain(r.leader);
      // The versions it keeps: zebra's two.
      expect(ranges[2]!.valueBytes).toBe('zebra-1'.length + 'zebra-2'.length);
    });
    // A transaction is atomic within one range: within one it runs, across two it is refused, naming them.
    const within = await a.txn({ compare: [{ key: 'zebra', target: 'version', op: '==', value: 2 }], success: [{ op: 'put', key: 'zoo', value: bytes('z') }] });
    expect(within.succeeded).toBe(true);
    const across = a.txn({
      compare: [],
      success: [
        { op: 'put', key: 'apple', value: bytes('x') },
        { op: 'put', key: 'zoo', value: bytes('x') },
      ],
    });
    await expect(across).rejects.toBeInstanceOf(CrossShardError);
    const groups = (await cluster.client().ranges()).map((r) => r.group);
    await expect(across).rejects.toMatchObject({ groups: [groups[0], groups[2]] });
    expect(text((await a.get('apple'))?.value)).toBe('apple-1');
    // Status is the meta group's, seen from the server asked.
    expect(await a.status()).toMatchObject({ node: 'a', members: ['a', 'b', 'c'] });
  }, 60_000);

  it('refuse with KvRequestError what they do not serve yet, and go on serving', async () => {
    cluster = await ServerCluster.start(['a', 'b', 'c'], { server: () => ({ shards: { splitKeys: ['m'] } }) });
    const client = cluster.client();
    await expect(client.createSession({ ttlMs: 5_000 })).rejects.toThrow(KvRequestError);
    await expect(client.createSession({ ttlMs: 5_000 })).rejects.toThrow(/not served by a sharded cluster/);
    await expect(client.listSessions()).rejects.toBeInstanceOf(KvRequestError);
    await expect(client.snapshot()).rejects.toBeInstanceOf(KvRequestError);
    await expect(client.changeMembers({ type: 'remove', id: 'c' })).rejects.toThrow(/membership changes are not served by a sharded cluster/);
    await expect(client.compact(1)).rejects.toThrow(/compaction/);
    const watch = client.watch({ prefix: '' });
    await expect(watch.next()).rejects.toThrow(/watch it range by range \(watchRanges\)/);
    // The members are listed (the meta group's), and the keys served as before.
    expect((await client.members()).configuration.voters).toEqual(['a', 'b', 'c']);
    expect(await client.put('k', 'v')).toMatchObject({ version: 1 });
  }, 60_000);

  it('keep every acknowledged write across a restart of every server, and split a range that grows past its size', async () => {
    const shards = { splitKeys: ['m'], splitAtBytes: 4_000 };
    cluster = await ServerCluster.start(['a', 'b', 'c'], { server: () => ({ shards }) });
    const client = cluster.client();
    const value = 'v'.repeat(200);
    const keys = Array.from({ length: 40 }, (_, i) => `t/${String(i).padStart(3, '0')}`);
    for (const key of keys) await client.put(key, value);
    // 8,000 bytes in the range past 'm': its leader splits it at a balance check.
    await eventually(async () => expect((await client.ranges()).length).toBeGreaterThan(2), 30_000);
    for (const id of ['a', 'b', 'c']) await cluster.stopServer(id);
    await Promise.all(['a', 'b', 'c'].map((id) => cluster!.startServer(id)));
    const after = cluster.client();
    const read = await after.range({ prefix: 't/' });
    expect(read.kvs.map((kv) => kv.key)).toEqual(keys);
    expect(read.kvs.every((kv) => text(kv.value) === value && kv.version === 1)).toBe(true);
    expect((await after.ranges()).length).toBeGreaterThan(2);
  }, 90_000);

  it('lose no write a client makes while a range splits: the server reroutes what the old range refuses', async () => {
    cluster = await ServerCluster.start(['a', 'b', 'c'], { server: () => ({ shards: { splitKeys: ['m'], splitAtBytes: false } }) });
    const client = cluster.client({ only: ['b'] });
    const written = new Map<string, number>();
    let running = true;
    const writer = (async () => {
      for (let i = 0; running; i++) {
        const key = `t/${String(i % 50).padStart(3, '0')}`;
        const { version } = await client.put(key, `${i}`);
        written.set(key, version);
      }
    })();
    await eventually(async () => expect(written.size).toBe(50));
    // Split by a member the client is not connected to: b learns the new map from the meta group.
    const map = await cluster.server('a').sharded!.splitRange('t/025');
    expect(map.ranges).toHaveLength(3);
    const after = written.get('t/049')!;
    await eventually(async () => expect(written.get('t/049')!).toBeGreaterThan(after + 2));
    running = false;
    await writer;
    const read = await cluster.client({ only: ['c'] }).range({ prefix: 't/' });
    expect(read.kvs.map((kv) => [kv.key, kv.version])).toEqual([...written].sort(([x], [y]) => (x < y ? -1 : 1)));
    expect((await client.ranges()).map((r) => r.start)).toEqual(['', 'm', 't/025']);
  }, 90_000);

  it("route a key's requests to its range's leader from a client that asks to (routeToLeaders): no member forwards them", async () => {
    cluster = await ServerCluster.start(['a', 'b', 'c'], { server: () => ({ shards: { splitKeys: ['g', 'p'], splitAtBytes: false } }) });
    const probe = cluster.client();
    // Leaders spread: each member leads one range.
    await eventually(async () => expect(new Set((await probe.ranges()).map((r) => r.leader ?? '-'))).toEqual(new Set(['a', 'b', 'c'])), 30_000);
    const groups = (await probe.ranges()).map((r) => r.group);
    // Proposals a member sent on to its range's leader, over every member and range.
    const forwarded = () =>
      ['a', 'b', 'c'].reduce((sum, id) => sum + groups.reduce((n, g) => n + cluster!.server(id).sharded!.shard(g)!.node.metrics().proposals.forwarded, 0), 0);
    const writes = async (client: KvClient, round: number) => {
      for (let i = 0; i < 10; i++) {
        for (const key of ['apple', 'hat', 'zebra']) await client.put(key, `${round}-${i}`);
        expect(text((await client.get('hat'))?.value)).toBe(`${round}-${i}`);
      }
    };
    const plain = cluster.client({ only: ['a'] });
    let before = forwarded();
    await writes(plain, 1);
    // Through a: the writes of the two ranges b and c lead are forwarded.
    expect(forwarded() - before).toBeGreaterThanOrEqual(20);
    const routed = cluster.client({ endpoints: ['a', 'b', 'c'].map((id) => cluster!.members[id]!.client), routeToLeaders: true });
    // The first request reads the map; once it is read, requests go to the leaders.
    await routed.put('warm', 'up');
    await eventually(async () => {
      before = forwarded();
      await writes(routed, 2);
      expect(forwarded() - before).toBe(0);
    });
    const read = await probe.range({ prefix: '' });
    expect(read.kvs.map((kv) => [kv.key, text(kv.value)])).toEqual([
      ['apple', '2-9'],
      ['hat', '2-9'],
      ['warm', 'up'],
      ['zebra', '2-9'],
    ]);
  }, 90_000);

  it('route writes to the one leader of a cluster that is not sharded, too', async () => {
    cluster = await ServerCluster.start(['a', 'b', 'c']);
    const probe = cluster.client();
    await probe.put('k', '0');
    const leader = (await probe.status()).leader!;
    const follower = ['a', 'b', 'c'].find((id) => id !== leader)!;
    const forwarded = () => cluster!.server(follower).kv.node.metrics().proposals.forwarded;
    const routed = cluster.client({ endpoints: [follower, leader].map((id) => cluster!.members[id]!.client), routeToLeaders: true });
    await routed.put('k', 'warm');
    await eventually(async () => {
      const before = forwarded();
      for (let i = 0; i < 10; i++) await routed.put('k', `${i}`);
      expect(forwarded() - before).toBe(0);
    });
    expect(text((await probe.get('k'))?.value)).toBe('9');
  }, 60_000);

  it('refuse a data directory of the other kind at start: a sharded one unsharded, and the other way', async () => {
    cluster = await ServerCluster.start(['a']);
    await cluster.client().put('k', 'v');
    await cluster.stopServer('a');
    const asSharded = cluster.startServer('a', { shards: { splitKeys: ['m'] } });
    await expect(asSharded).rejects.toThrow(/sharded/);
    // Unharmed: served again as it was made.
    await cluster.startServer('a');
    expect(text((await cluster.client().get('k'))?.value)).toBe('v');
    await cluster.close();
    let sharded = true;
    cluster = await ServerCluster.start(['a'], { server: () => (sharded ? { shards: { splitKeys: ['m'] } } : {}) });
    await cluster.client().put('k', 'v');
    await cluster.stopServer('a');
    sharded = false;
    await expect(cluster.startServer('a')).rejects.toThrow(/holds a sharded member's data/);
    sharded = true;
    await cluster.startServer('a');
    expect(text((await cluster.client().get('k'))?.value)).toBe('v');
  }, 60_000);

  it('answer a cluster that is not sharded with one range, and refuse it a watch across ranges', async () => {
    cluster = await ServerCluster.start(['a']);
    const client = cluster.client();
    await client.put('k', 'v');
    const ranges = await client.ranges();
    expect(ranges).toEqual([{ group: 0, start: '', leader: 'a', revision: 1, keys: 1, valueBytes: 1 }]);
    await expect(client.watchRanges({ prefix: '' }).next()).rejects.toThrow(/not sharded: watch it with one revision/);
  }, 30_000);

  it('watch across ranges: each event names its range, and each range resumes where it was across a failover and follows a split', async () => {
    cluster = await ServerCluster.start(['a', 'b', 'c'], { server: () => ({ shards: { splitKeys: ['m'], splitAtBytes: false } }) });
    const watcher = cluster.client({ only: ['a', 'b'] });
    const writer = cluster.client({ only: ['c'] });
    const watch = watcher.watchRanges({ prefix: '' });
    const seen: { key: string; version: number; group: number; value: string }[] = [];
    const reading = (async () => {
      for await (const e of watch) {
        seen.push({ key: e.kv.key, version: e.kv.version, group: e.group, value: text(e.kv.value)! });
        if (e.kv.key === 'tuna') break;
      }
    })();
    // The watch is open once the server says where it starts in each range.
    await eventually(async () => expect(Object.keys(watch.resumeRevisions())).toHaveLength(2));
    await writer.put('apple', 'a1');
    await writer.put('zebra', 'z1');
    await eventually(async () => expect(seen).toHaveLength(2));
    const [first, second] = (await writer.ranges()).map((r) => r.group);
    expect(seen.map((e) => [e.key, e.group])).toEqual([
      ['apple', first],
      ['zebra', second],
    ]);
    // Its server goes: the watch moves to b, and each range goes on from where it was.
    await cluster.stopServer('a');
    await writer.put('apple', 'a2');
    await writer.put('zebra', 'z2');
    await writer.put('tomato', 't1');
    // A split while a member is down: the keys from 't' on move to a new range, and the watch follows them.
    const map = await cluster.server('b').sharded!.splitRange('t');
    const made = map.rangeOf('tomato').group;
    expect([first, second]).not.toContain(made);
    await writer.put('tomato', 't2');
    await writer.put('tuna', 'u1');
    await reading;
    const versions = (key: string) => seen.filter((e) => e.key === key).map((e) => e.value);
    expect(versions('apple')).toEqual(['a1', 'a2']);
    expect(versions('zebra')).toEqual(['z1', 'z2']);
    expect(versions('tomato')).toEqual(['t1', 't2']);
    expect(versions('tuna')).toEqual(['u1']);
    expect(seen.find((e) => e.value === 't1')?.group).toBe(second);
    expect(seen.find((e) => e.value === 't2')?.group).toBe(made);
    expect(seen.find((e) => e.value === 'u1')?.group).toBe(made);
    const resume = watch.resumeRevisions();
    expect(
      Object.keys(resume)
        .map(Number)
        .sort((x, y) => x - y),
    ).toEqual([first, second, made].sort((x, y) => x! - y!));
    // Written while no watch is open: a new watch on another server, from where the last one stood, sees them and nothing before.
    await writer.put('apple', 'a3');
    await writer.put('tuna', 'u2');
    const later: string[] = [];
    const resumed = cluster.client({ only: ['c'] }).watchRanges({ prefix: '' }, { fromRevisions: resume });
    // A watch that missed them would wait for ever: give up after a while, and say what came.
    const giveUp = setTimeout(() => resumed.close(), 10_000);
    for await (const e of resumed) {
      later.push(text(e.kv.value)!);
      if (later.length === 2) break;
    }
    clearTimeout(giveUp);
    expect(later.sort()).toEqual(['a3', 'u2']);
  }, 90_000);
});
