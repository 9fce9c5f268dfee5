/**
 * The sharded KV over three members in one process: routing by key, reads merged
 * across ranges in key order, transactions kept within one range, the map kept by the
 * meta group (a member with other split keys is refused), leaders spread over the
 * members, and a range's replicas refusing keys outside it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, MemoryNetwork, MemoryStorage } from '../../../src/index.js';
import {
  CompactedError,
  CrossShardError,
  KvRequestError,
  type ShardedKv,
  type ShardedKvOptions,
  type ShardedWatch,
  WrongRangeError,
  createShardedKv,
} from '../../../src/kv/index.js';
import { members, cluster as shardedCluster, started as startedCluster, text } from './sharded-cluster.js';

const open: ShardedKv[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((kv) => kv.close()));
});

const cluster = (options: Partial<ShardedKvOptions> = {}, network?: MemoryNetwork) => shardedCluster(open, options, network);
const started = (options: Partial<ShardedKvOptions> = {}) => startedCluster(open, options);

describe('ShardedKv', () => {
  it('routes each key to its range, and every member reads every range', async () => {
    const [a, b, c] = await started();
    await a!.put('apple', 'red');
    await b!.put('grape', 'purple');
    await c!.put('zucchini', 'green');
    await a!.put('orange', 'orange');
    for (const kv of [a!, b!, c!]) {
      expect(text((await kv.get('apple'))?.value)).toBe('red');
      expect(text((await kv.get('zucchini'))?.value)).toBe('green');
      expect(await kv.get('missing')).toBeUndefined();
    }
    // Each key is in its own range's store, and only there.
    const holds = (group: number) => [
      ...a!
        .shard(group)!
        .machine.view.range({ prefix: '' }, 100)
        .kvs.map((kv) => kv.key),
    ];
    expect(holds(1)).toEqual(['apple']);
    expect(holds(2)).toEqual(['grape', 'orange']);
    expect(holds(3)).toEqual(['zucchini']);
    expect(a!.rangeMap.ranges.map((r) => [r.group, r.start, r.end])).toEqual([
      [1, '', 'g'],
      [2, 'g', 'p'],
      [3, 'p', undefined],
    ]);
  });

  it('merges a read across ranges in key order, with the limit across their boundaries and each part revision', async () => {
    const [a] = await started();
    const keys = ['a1', 'f9', 'g', 'h2', 'o~', 'p', 'q', 'z'];
    for (const key of [...keys].reverse()) await a!.put(key, key);
    const all = await a!.range({ prefix: '' });
    expect(all.kvs.map((kv) => kv.key)).toEqual(keys);
    expect(all).toMatchObject({ count: 8, more: false });
    expect(all.parts.map((p) => p.group)).toEqual([1, 2, 3]);
    expect(all.parts.map((p) => p.revision)).toEqual([2, 3, 3]);

    const limited = await a!.range({ start: 'b', end: 'x' }, { limit: 3 });
    expect(limited.kvs.map((kv) => kv.key)).toEqual(['f9', 'g', 'h2']);
    expect(limited).toMatchObject({ count: 6, more: true });

    const within = await a!.range({ prefix: 'h' });
    expect(within.kvs.map((kv) => kv.key)).toEqual(['h2']);
    expect(within.parts.map((p) => p.group)).toEqual([2]);
    expect((await a!.range({ start: 'q', end: 'c' })).kvs).toEqual([]);
    await expect(a!.range({ prefix: '' }, { revision: 1 })).rejects.toThrow(KvRequestError);
    expect((await a!.range({ prefix: 'z' }, { revision: 3 })).kvs.map((kv) => kv.key)).toEqual(['z']);
  });

  it('runs a transaction within one range, and refuses one spanning ranges, naming them, before sending anything', async () => {
    const [a, b] = await started();
    const value = new TextEncoder().encode('v');
    const inOne = await a!.txn({
      compare: [{ key: 'h', target: 'version', op: '==', value: 0 }],
      success: [
        { op: 'put', key: 'h', value },
        { op: 'put', key: 'i', value },
      ],
      failure: [],
    });
    expect(inOne.succeeded).toBe(true);
    const spanning = b!.txn({ compare: [{ key: 'a', target: 'version', op: '==', value: 0 }], success: [{ op: 'put', key: 'z', value }], failure: [] });
    await expect(spanning).rejects.toThrow(CrossShardError);
    await expect(spanning).rejects.toMatchObject({ groups: [1, 3] });
    // A range operation spanning ranges is as much a cross-range transaction.
    await expect(b!.txn({ compare: [], success: [{ op: 'range', range: { start: 'f', end: 'h' } }], failure: [] })).rejects.toMatchObject({ groups: [1, 2] });
    expect(await a!.get('z')).toBeUndefined();
    expect((await a!.range({ prefix: '' })).count).toBe(2);
  });

  it("hands each group's leadership to its member, spreading the leaders", async () => {
    const kvs = await started();
    const leaders = (): (string | undefined)[] => [0, 1, 2, 3].map((g) => kvs.find((kv) => kv.shard(g)?.node.status().role === 'leader')?.shard(g)?.node.id);
    for (let i = 0; i < 400 && leaders().join() !== 'a,b,c,a'; i++) await new Promise((r) => setTimeout(r, 10));
    expect(leaders()).toEqual(['a', 'b', 'c', 'a']);
  });

  it('hands no leadership to a member that is down, again and again: a transfer stops the range until it ends', async () => {
    const kvs = await started();
    const [a, b, c] = kvs;
    // Every group elected (a new group's voters vote once every voter answered) and spread: b leads group 1.
    const leaders = (): (string | undefined)[] => [0, 1, 2, 3].map((g) => kvs.find((kv) => kv.shard(g)?.node.status().role === 'leader')?.shard(g)?.node.id);
    for (let i = 0; i < 400 && leaders().join() !== 'a,b,c,a'; i++) await new Promise((r) => setTimeout(r, 10));
    await b!.close();
    // Group 1 prefers b: whoever leads it now must not try to hand it over.
    const transfers: string[] = [];
    for (const kv of [a!, c!]) {
      const node = kv.shard(1)!.node;
      const transfer = node.transferLeadership.bind(node);
      node.transferLeadership = (to, options) => {
        transfers.push(to);
        return transfer(to, options);
      };
    }
    await a!.put('apple', 'still served');
    await new Promise((r) => setTimeout(r, 1_000));
    await a!.put('apple', 'still served');
    // Twenty checks: at most the first, while b's last words were fresh, may try (each try stops the range up to 200 ms).
    expect(transfers.filter((to) => to === 'b').length).toBeLessThanOrEqual(1);
    expect([a!, c!].some((kv) => kv.shard(1)!.node.status().role === 'leader')).toBe(true);
  });

  it("a range's replicas refuse a key outside it, and change nothing", async () => {
    const [a] = await started();
    const range2 = a!.shard(2)!;
    await expect(range2.put('apple', 'x')).rejects.toThrow(WrongRangeError);
    await expect(range2.put('apple', 'x')).rejects.toMatchObject({ key: 'apple', start: 'g', end: 'p' });
    await expect(range2.put('p', 'x', { sequential: true })).rejects.toThrow(WrongRangeError);
    await expect(range2.get('zebra')).rejects.toThrow(WrongRangeError);
    await expect(range2.range({ prefix: '' })).rejects.toThrow(WrongRangeError);
    expect(range2.machine.revision).toBe(0);
    // A sequential key made inside the range is taken.
    expect((await range2.put('h/', 'x', { sequential: true })).key).toBe('h/0000000000');
  });

  it('keeps the map in the meta group: a restarted member reads it, a member with other split keys is refused', async () => {
    const { member } = cluster();
    const kvs = members.map((id) => member(id));
    await Promise.all(kvs.map((kv) => kv.start()));
    await kvs[0]!.put('zebra', 'stripes');
    await kvs[2]!.close();
    const again = member('c');
    await again.start();
    expect(again.rangeMap.sameRanges(kvs[0]!.rangeMap)).toBe(true);
    expect(text((await again.get('zebra'))?.value)).toBe('stripes');
    await again.close();
    const other = member('c', { splitKeys: ['m'] });
    await expect(other.start()).rejects.toThrow(ConfigError);
  });

  it("a member restarted on a map a split changed builds each range's group as it was created: its log replays the same", async () => {
    // No balance checks: range 3's leader would release the keys this test freezes by hand (the map no longer routes them to it).
    const { member } = cluster({ balanceMs: 600_000 });
    const kvs = members.map((id) => member(id));
    await Promise.all(kvs.map((kv) => kv.start()));
    await kvs[0]!.put('zebra', 'stripes');
    await kvs[0]!.put('pear', 'green');
    // The first steps of a split of range 3, ['p', ∞), at 't': its keys from 't' frozen, then the map's next generation.
    expect(await kvs[0]!.shard(3)!.node.propose({ type: 'range-freeze', at: 't' })).toMatchObject({ type: 'range-frozen', at: 't' });
    const found = await kvs[0]!.shard(0)!.get('range-map');
    await kvs[0]!.shard(0)!.put('range-map', kvs[0]!.rangeMap.split('t', 4).encode(), { expectedVersion: found!.version });
    await kvs[2]!.close();
    const again = member('c');
    await again.start();
    expect(again.rangeMap.rangeOf('zebra')).toEqual({ group: 4, start: 't', creation: { start: 't', seeded: true, seedRevision: 0 } });
    // Range 3 was created for ['p', ∞): replayed so, its log narrows it at the freeze and keeps the frozen key.
    const three = again.shard(3)!.machine;
    await expect.poll(() => three.keyBounds).toEqual({ start: 'p', end: 't' });
    expect(text(three.view.latest('zebra')?.value ?? undefined)).toBe('stripes');
    expect(text(three.view.latest('pear')?.value ?? undefined)).toBe('green');
    // Range 4, made by the split, awaits its keys.
    expect(again.shard(4)!.machine.awaitingSeed).toBe(true);
    expect(again.shard(4)!.machine.keyBounds).toEqual({ start: 't' });
  });

  it('watches across ranges: every change once, each naming its range and its revision there; resumes per range', async () => {
    const [a, b] = await started();
    // From each range's first revision: a default start is a read point, which a write through another member may precede.
    const watch = a!.watch({ prefix: '' }, { fromRevisions: { 1: 1, 2: 1, 3: 1 } });
    expect(watch.groups).toEqual([1, 2, 3]);
    const seen: string[] = [];
    const take = async (w: ShardedWatch, n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const { value, done } = await w.next();
        expect(done).toBe(false);
        seen.push(`${value!.group}:${value!.revision}:${value!.type} ${value!.kv.key}`);
      }
    };
    await b!.put('apple', '1');
    await b!.put('zebra', '1');
    await b!.put('grape', '1');
    await b!.delete('apple');
    await take(watch, 4);
    // Per range, in that range's revision order; across ranges, as seen.
    expect(seen.filter((e) => e.startsWith('1:'))).toEqual(['1:1:put apple', '1:2:delete apple']);
    expect(seen.filter((e) => !e.startsWith('1:')).sort()).toEqual(['2:1:put grape', '3:1:put zebra']);
    expect([1, 2, 3].map((g) => watch.deliveredThrough(g))).toEqual([2, 1, 1]);
    const resume = watch.resumeRevisions();
    expect(resume).toEqual({ 1: 3, 2: 2, 3: 2 });
    watch.close();
    expect((await watch.next()).done).toBe(true);

    await b!.put('kiwi', '2');
    await b!.put('banana', '2');
    const again = a!.watch({ prefix: '' }, { fromRevisions: resume });
    seen.length = 0;
    await take(again, 2);
    expect(seen.sort()).toEqual(['1:3:put banana', '2:2:put kiwi']);
    again.close();

    // Within one range, one part; a group it does not span is refused.
    expect(a!.watch({ prefix: 'h' }).groups).toEqual([2]);
    expect(() => a!.watch({ prefix: 'h' }, { fromRevisions: { 1: 1 } })).toThrow(KvRequestError);
  });

  it('counts an event taken from its range but not yet handed out as not delivered', async () => {
    const [a] = await started();
    await a!.put('apple', '1');
    await a!.put('zebra', '1');
    const watch = a!.watch({ prefix: '' }, { fromRevisions: { 1: 1, 3: 1 } });
    const first = (await watch.next()).value!;
    const other = first.group === 1 ? 3 : 1;
    // Both ranges' events were ready: the other one may be fetched already, but it is not delivered.
    await new Promise((r) => setTimeout(r, 10));
    expect(watch.deliveredThrough(first.group)).toBe(1);
    expect(watch.deliveredThrough(other)).toBe(0);
    expect(watch.resumeRevisions()).toMatchObject({ [first.group]: 2, [other]: 1 });
    expect((await watch.next()).value!.group).toBe(other);
    expect(watch.deliveredThrough(other)).toBe(1);
    watch.close();
  });

  it("a range's compacted history fails the watch with CompactedError, and ends its other parts", async () => {
    const [a] = await started({ kv: { historyRevisionsMax: 2 } });
    for (let i = 0; i < 5; i++) await a!.put(`zz${i}`, 'x');
    const watch = a!.watch({ prefix: '' }, { fromRevisions: { 3: 1 } });
    await expect(watch.next()).rejects.toThrow(CompactedError);
    expect((await watch.next()).done).toBe(true);
  });

  it('a session spans ranges: opened in each range it puts a key in, and closing it deletes them all', async () => {
    const [a, b] = await started();
    const session = await a!.createSession({ ttlMs: 5_000 });
    expect(session.groups).toEqual([]);
    await a!.put('apple', 'mine', { session: session.id });
    await a!.put('zebra', 'mine', { session: session.id, expectedVersion: 0 });
    await a!.txn({ compare: [], success: [{ op: 'put', key: 'zoo', value: new Uint8Array([1]), session: session.id }], failure: [] });
    expect(session.groups).toEqual([1, 3]);
    expect((await b!.get('apple'))?.session).toBeGreaterThan(0);
    expect((await b!.get('zoo'))?.session).toBe((await b!.get('zebra'))?.session);
    await session.close();
    expect(await session.ended).toBe('closed');
    for (const key of ['apple', 'zebra', 'zoo']) expect(await b!.get(key)).toBeUndefined();
    await expect(a!.put('grape', 'x', { session: session.id })).rejects.toThrow(KvRequestError);
    await expect(b!.put('grape', 'x', { session: 999 })).rejects.toThrow(KvRequestError);
    await expect(a!.createSession({ ttlMs: 1 })).rejects.toThrow(KvRequestError);
  });

  it("when one range's session expires, the session ends and its keys in the other ranges go too", async () => {
    const [a, b] = await started();
    const session = await a!.createSession({ ttlMs: 5_000 });
    await a!.put('apple', 'mine', { session: session.id });
    await a!.put('zebra', 'mine', { session: session.id });
    // Range 1's session ends behind the session's back (an operator revokes it).
    const [inRange1] = (await b!.shard(1)!.listSessions()).sessions;
    expect((await b!.shard(1)!.revokeSession(inRange1!.id)).revoked).toBe(true);
    expect(await session.ended).toBe('expired');
    for (let i = 0; i < 200 && (await b!.get('zebra')) !== undefined; i++) await new Promise((r) => setTimeout(r, 10));
    expect(await b!.get('zebra')).toBeUndefined();
    expect(await b!.get('apple')).toBeUndefined();
    await expect(a!.put('grape', 'x', { session: session.id })).rejects.toThrow(KvRequestError);
  });

  it('refuses what it cannot serve with typed errors', async () => {
    expect(() => createShardedKv({ id: 'd', members, transport: new MemoryNetwork().transport('d'), storage: () => new MemoryStorage() })).toThrow(ConfigError);
    expect(() =>
      createShardedKv({ id: 'a', members, transport: new MemoryNetwork().transport('a'), storage: () => new MemoryStorage(), splitKeys: ['p', 'g'] }),
    ).toThrow(KvRequestError);
    const [a] = await started();
    await expect(a!.get('')).rejects.toThrow(KvRequestError);
    await a!.close();
    await expect(a!.get('k')).rejects.toThrow('closed');
  });
});
