/**
 * Range splits on three members in one process: the keys from the point moved to a new
 * group on every member with their versions, the map's next generation adopted
 * everywhere, the old range's copy released; a split the range refuses abandoned with
 * nothing moved; a split whose member stopped finished by another; a split with a
 * member down finished by the others (their first starts in the new group on record), a
 * wiped member's empty storage still guarded; a read racing a release refused; a watch
 * across the split following it into the new range (and ending with CompactedError when
 * read too late to); and a split under load losing nothing, every key's history linearizable.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryNetwork } from '../../../src/index.js';
import { SharedFileLog } from '../../../src/storage/file/index.js';
import { CompactedError, KvRequestError, type ShardedKv, WrongRangeError } from '../../../src/kv/index.js';
import { MvccStore } from '../../../src/kv/mvcc-store.js';
import { beginSplit, readMetaState, splitPoint } from '../../../src/kv/shard/range-split.js';
import { boundsHold } from '../../../src/kv/key-bounds.js';
import { creationOf } from '../../../src/kv/shard/range-map.js';
import { Prng, checkLinearizability, versionedKvModel } from '../../../src/testing/index.js';
import { randomKvInput } from '../random-kv-input.js';
import { type KvHistory, kvRecorder } from './kv-history-recorder.js';
import { cluster, members, started, text } from './sharded-cluster.js';

const open: ShardedKv[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((kv) => kv.close()));
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every member's replica of every range holds only that range's keys, and no range holds frozen keys. */
function expectTidy(kvs: readonly ShardedKv[]): void {
  for (const kv of kvs) {
    for (const range of kv.rangeMap.ranges) {
      const machine = kv.shard(range.group)!.machine;
      expect(machine.frozen, `group ${range.group} on ${kv.host.id}`).toBeUndefined();
      expect(machine.awaitingSeed).toBe(false);
      for (const { key } of machine.view.range({ prefix: '' }, 10_000).kvs)
        expect(boundsHold(range, key), `${key} in group ${range.group} on ${kv.host.id}`).toBe(true);
    }
  }
}

/** Three members, zebra written, the range split at t on every member's map, then c stopped: its storage kept, to restart on. */
async function splitThenStopC() {
  const made = cluster(open);
  const kvs = members.map((id) => made.member(id));
  await Promise.all(kvs.map((kv) => kv.start()));
  await kvs[0]!.put('zebra', 'stripes');
  await kvs[0]!.splitRange('t');
  await expect.poll(() => kvs.map((kv) => kv.rangeMap.generation), { timeout: 5_000 }).toEqual([1, 1, 1]);
  await kvs[2]!.close();
  return made;
}

describe('ShardedKv.splitRange', () => {
  it('moves the keys from the point to a new group on every member, each with its version and revisions', async () => {
    const kvs = await started(open);
    const [a, b, c] = kvs as [ShardedKv, ShardedKv, ShardedKv];
    for (const key of ['pear', 'quince', 'tangerine', 'zebra']) await a.put(key, `${key}-1`);
    await b.put('zebra', 'zebra-2');
    await b.put('u/', 'first', { sequential: true });
    const before = await c.get('zebra');
    expect(before).toMatchObject({ version: 2 });

    const map = await a.splitRange('t');
    expect(map.generation).toBe(1);
    expect(map.rangeOf('zebra')).toMatchObject({ group: 4, start: 't' });
    expect(map.rangeOf('quince')).toMatchObject({ group: 3, start: 'p', end: 't' });
    // Every member routes by the new map, hosts the new group, and its old range let the keys go.
    await expect.poll(() => kvs.map((kv) => kv.rangeMap.generation), { timeout: 5_000 }).toEqual([1, 1, 1]);
    await expect.poll(() => kvs.map((kv) => kv.shard(3)!.machine.frozen), { timeout: 5_000 }).toEqual([undefined, undefined, undefined]);
    expectTidy(kvs);

    for (const kv of kvs) {
      // The same record: value, version, creation and modification revisions.
      expect(await kv.get('zebra')).toEqual(before);
      expect(text((await kv.get('tangerine'))?.value)).toBe('tangerine-1');
      expect(text((await kv.get('pear'))?.value)).toBe('pear-1');
    }
    // A compare-and-set with the version read before the split holds after it.
    expect(await c.put('zebra', 'zebra-3', { expectedVersion: 2 })).toMatchObject({ version: 3 });
    // The new range's revisions go on from the old range's at the freeze.
    expect((await a.put('tangerine', 'tangerine-2')).revision).toBeGreaterThan(before!.modRevision);
    // A sequential prefix's counter moved with its keys.
    expect((await b.put('u/', 'second', { sequential: true })).key).toBe('u/0000000001');
    // Reads across the point merge both ranges.
    expect((await a.range({ prefix: '' })).kvs.map((kv) => kv.key)).toEqual(['pear', 'quince', 'tangerine', 'u/0000000000', 'u/0000000001', 'zebra']);
  });

  it("frees an abandoned split's group: its ledger of first starts in the meta group, and its storage on each member (dropStorage)", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'synod-split-'));
    const logs = await Promise.all(members.map((id) => SharedFileLog.open(join(dir, id))));
    try {
      const { member } = cluster(open);
      const kvs = members.map((id, i) => member(id, { storage: (g) => logs[i]!.group(g), dropStorage: (g) => logs[i]!.dropGroup(g) }));
      await Promise.all(kvs.map((kv) => kv.start()));
      const [a, b] = kvs as [ShardedKv, ShardedKv];
      const session = await b.createSession({ ttlMs: 10_000 });
      await b.put('walrus', 'mine', { session: session.id });
      // Wait for group 4's first starts to be on record, so the abandonment has some to delete.
      const meta = a.shard(0)!;
      const state = await readMetaState(meta);
      expect(await beginSplit(meta, state!, 't')).toBeDefined();
      await expect.poll(async () => (await meta.range({ prefix: 'births/4' })).kvs.length, { timeout: 5_000 }).toBe(4);
      await expect(a.splitRange('t')).rejects.toThrow(/abandoned/);
      expect((await meta.range({ prefix: 'births/' })).kvs).toEqual([]);
      await expect.poll(() => logs.map((log) => log.groupIds.includes(4)), { timeout: 5_000 }).toEqual([false, false, false]);
      expect(logs.map((log) => log.groupIds.includes(3))).toEqual([true, true, true]);
      await session.close();
    } finally {
      await Promise.all(open.splice(0).map((kv) => kv.close()));
      await Promise.all(logs.map((log) => log.close()));
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('returns the map as it is for a point where a range starts, and refuses a key that is not one', async () => {
    const [a] = await started(open);
    expect((await a!.splitRange('p')).generation).toBe(0);
    await expect(a!.splitRange('')).rejects.toThrow(KvRequestError);
  });

  it("abandons a split the range refuses (a session owns a key past the point): nothing moves, and the new group's id is not used again", async () => {
    const kvs = await started(open);
    const [a, b] = kvs as [ShardedKv, ShardedKv];
    const session = await b.createSession({ ttlMs: 10_000 });
    await b.put('walrus', 'mine', { session: session.id });
    await a.put('zebra', 'stripes');
    await expect(a.splitRange('t')).rejects.toThrow(/abandoned: range-freeze: key walrus belongs to session/);
    expect(a.rangeMap.generation).toBe(0);
    expect((await readMetaState(a.shard(0)!))?.intent).toBeUndefined();
    // No member keeps running the abandoned group.
    await expect.poll(() => kvs.map((kv) => kv.host.groups()), { timeout: 5_000 }).toEqual(members.map(() => [0, 1, 2, 3]));
    expect(text((await b.get('zebra'))?.value)).toBe('stripes');
    // A split elsewhere takes the next id.
    expect((await a.splitRange('h')).rangeOf('house')).toMatchObject({ group: 5, start: 'h', end: 'p' });
  });

  it('is finished by the meta group’s leader when the member that began it stopped', async () => {
    const kvs = await started(open);
    const [a, b] = kvs as [ShardedKv, ShardedKv];
    await a.put('zebra', 'stripes');
    // Begun (the intent recorded), and never run on: as if its member had stopped there.
    const meta = a.shard(0)!;
    const state = await readMetaState(meta);
    expect(await beginSplit(meta, state!, 't')).toBeDefined();
    await expect.poll(() => kvs.map((kv) => kv.rangeMap.generation), { timeout: 10_000 }).toEqual([1, 1, 1]);
    expect(b.rangeMap.rangeOf('zebra').group).toBe(4);
    expect(text((await b.get('zebra'))?.value)).toBe('stripes');
    await expect.poll(() => kvs.map((kv) => kv.shard(3)!.machine.frozen), { timeout: 5_000 }).toEqual([undefined, undefined, undefined]);
    expectTidy(kvs);
  });

  it('completes with a member down: the others put their first start in the new group on record and elect it; the member back votes in it at once', async () => {
    const { member, network } = cluster(open);
    const kvs = members.map((id) => member(id));
    await Promise.all(kvs.map((kv) => kv.start()));
    const [a, b, c] = kvs as [ShardedKv, ShardedKv, ShardedKv];
    await a.put('zebra', 'stripes');
    network.isolate('c');
    const map = await a.splitRange('t');
    expect(map.rangeOf('zebra').group).toBe(4);
    expect(a.shard(4)!.node.status().rejoining).toBeUndefined();
    expect((await b.put('zebra', 'spots')).version).toBe(2);
    expect(c.shard(4)).toBeUndefined();
    await expect.poll(() => a.shard(3)!.machine.frozen, { timeout: 5_000 }).toBeUndefined();
    // c comes back as a is cut off: the new group's only majority is b and c, so it
    // writes only if c, which never ran the group, votes without hearing from a.
    network.heal();
    network.isolate('a');
    await expect.poll(() => c.rangeMap.generation, { timeout: 10_000 }).toBe(1);
    expect((await b.put('zebra', 'dots')).version).toBe(3);
    expect(c.shard(4)!.node.status().rejoining).toBeUndefined();
    expect(text((await c.get('zebra'))?.value)).toBe('dots');
  }, 20_000);

  it('runs the amnesia guard for a member whose storage of a split group was wiped after its first start: it votes only once every member answered', async () => {
    const { member, network, wipe } = await splitThenStopC();
    wipe('c', 4);
    // With a cut off, c cannot hear from every member: it must not vote in group 4.
    network.isolate('a');
    const again = member('c');
    await again.start();
    expect(again.shard(4)!.node.status().rejoining).toBe('probing');
    await sleep(300);
    expect(again.shard(4)!.node.status().rejoining).toBe('probing');
    network.heal();
    await expect.poll(() => again.shard(4)!.node.status().rejoining, { timeout: 10_000 }).toBeUndefined();
    expect(text((await again.get('zebra'))?.value)).toBe('stripes');
  }, 20_000);

  it('refuses a read whose read point is past the release of its key (WrongRangeError), rather than answer it absent', async () => {
    // No balance checks: they would split off the keys this test freezes and releases by hand.
    const { member, network } = cluster(open, { leaders: 'elected', balanceMs: 600_000 });
    const kvs = members.map((id) => member(id));
    await Promise.all(kvs.map((kv) => kv.start()));
    const [a, , c] = kvs as [ShardedKv, ShardedKv, ShardedKv];
    await a.put('zebra', 'stripes');
    await expect.poll(() => c.shard(3)!.machine.view.latest('zebra')?.version).toBe(1);
    // c's replica of the range still holds zebra when the read starts; its read point is past the keys' release.
    network.isolate('c');
    await expect.poll(() => a.shard(3)!.node.status().leader !== 'c' && a.shard(3)!.node.status().leader !== undefined, { timeout: 5_000 }).toBe(true);
    expect(await a.shard(3)!.node.propose({ type: 'range-freeze', at: 't' })).toMatchObject({ type: 'range-frozen' });
    expect(await a.shard(3)!.node.propose({ type: 'range-release', at: 't' })).toMatchObject({ type: 'range-released' });
    const read = c.shard(3)!.get('zebra');
    network.heal();
    await expect(read).rejects.toThrow(WrongRangeError);
    expect(c.shard(3)!.machine.view.latest('zebra')?.value ?? undefined).toBeUndefined();
  });

  it('splits off keys frozen with no split under way (a split abandoned while another copy froze them), so they are not refused for good', async () => {
    const kvs = await started(open);
    const [a, b] = kvs as [ShardedKv, ShardedKv];
    await a.put('zebra', 'stripes');
    // Frozen, and no intent: what a second copy's freeze leaves after the first copy abandoned the split.
    expect(await a.shard(3)!.node.propose({ type: 'range-freeze', at: 't' })).toMatchObject({ type: 'range-frozen' });
    await expect.poll(() => kvs.map((kv) => kv.rangeMap.rangeOf('zebra').start), { timeout: 10_000 }).toEqual(['t', 't', 't']);
    expect(text((await b.get('zebra'))?.value)).toBe('stripes');
    expect((await b.put('zebra', 'spots')).version).toBe(2);
  });

  it('follows a split: a watch across the point gets the moved keys’ changes from the old range up to the split, then from the new one, none missed or repeated', async () => {
    const [a, b] = await started(open);
    const watch = b!.watch({ prefix: '' }, { fromRevisions: { 1: 1, 2: 1, 3: 1 } });
    const seen: string[] = [];
    const consumed = (async () => {
      for await (const event of watch) seen.push(`${event.group}:${event.kv.key}=${text(event.kv.value)}`);
    })().then(
      () => 'ended',
      (error: unknown) => error,
    );
    await a!.put('zebra', '1');
    await a!.put('apple', '1');
    await a!.put('pear', '1');
    await expect.poll(() => seen.length).toBe(3);
    await a!.splitRange('t');
    // Written right after the split, before b's watch can have seen its map switch.
    await a!.put('zebra', '2');
    await a!.put('pear', '2');
    await a!.put('apple', '2');
    await expect.poll(() => [...seen].sort(), { timeout: 5_000 }).toEqual(['1:apple=1', '1:apple=2', '3:pear=1', '3:pear=2', '3:zebra=1', '4:zebra=2']);
    expect(watch.groups).toEqual([1, 2, 3, 4]);
    // Where to resume names the new range: a watch resumed from it repeats nothing.
    expect(watch.resumeRevisions()[4]).toBe(b!.shard(4)!.machine.revision + 1);
    watch.close();
    expect(await consumed).toBe('ended');
  }, 15_000);

  it('ends a watch read too late with CompactedError: a split released keys whose changes it had not read, and their history went with them', async () => {
    const kvs = await started(open);
    const [a, b] = kvs as [ShardedKv, ShardedKv];
    const watch = b.watch({ prefix: 'z' });
    // A watch of the old range alone, on its node, is told the same.
    const plain = b.shard(3)!.watch({ prefix: 'z' });
    // One of keys the range kept misses nothing, read as late.
    const kept = b.watch({ prefix: 'p' });
    await a.put('pear', '1');
    await a.put('zebra', '1');
    await a.splitRange('t');
    // Read only once b's replica of the old range released zebra, history and all.
    await expect.poll(() => b.shard(3)!.machine.releases.length, { timeout: 5_000 }).toBe(1);
    await expect(watch.next()).rejects.toThrow(CompactedError);
    await expect(plain.next()).rejects.toThrow(CompactedError);
    expect((await kept.next()).value).toMatchObject({ group: 3, type: 'put', kv: { key: 'pear' } });
    kept.close();
  });

  it('resumes a watch across a split only from past it: a range the split made, if not named, starts at its first own change when the range it was cut from is named from past the split, else CompactedError', async () => {
    const [a, b] = (await started(open)) as [ShardedKv, ShardedKv];
    await a.put('zebra', '1');
    await a.splitRange('t');
    await expect.poll(() => b.rangeMap.generation, { timeout: 5_000 }).toBe(1);
    const seed = creationOf(b.rangeMap.rangeOfGroup(4)!).seedRevision!;
    // From before the split: zebra's changes between then and the split are gone from group 3.
    expect(() => b.watch({ prefix: '' }, { fromRevisions: { 3: seed } })).toThrow(CompactedError);
    const resumed = b.watch({ prefix: '' }, { fromRevisions: { 3: seed + 1 } });
    expect(resumed.groups).toEqual([1, 2, 3, 4]);
    await a.put('zebra', '2');
    expect((await resumed.next()).value).toMatchObject({ group: 4, revision: seed + 1, kv: { key: 'zebra', version: 2 } });
    resumed.close();
  });

  it('leaves a member restarted after the split serving the new range from its own log', async () => {
    const { member } = await splitThenStopC();
    const again = member('c');
    await again.start();
    expect(again.rangeMap.rangeOf('zebra').group).toBe(4);
    expect(text((await again.get('zebra', { consistency: 'serializable' }))?.value ?? (await again.get('zebra'))?.value)).toBe('stripes');
    await expect.poll(() => again.shard(4)!.machine.awaitingSeed, { timeout: 5_000 }).toBe(false);
  });
});

describe('automatic splits', () => {
  it('picks the key that halves the live values, strictly inside the range', () => {
    const store = new MvccStore();
    let revision = 0;
    const write = (key: string, bytes: number) => store.write(key, new Uint8Array(bytes), undefined, ++revision);
    for (const [key, bytes] of [
      ['p', 100],
      ['q', 100],
      ['r', 100],
      ['s', 100],
    ] as const)
      write(key, bytes);
    expect(splitPoint(store, { start: 'p' })).toBe('r');
    // Before the point: half of the bytes or more; a deleted key counts for nothing.
    write('t', 400);
    expect(splitPoint(store, { start: 'p' })).toBe('t');
    store.write('t', null, undefined, ++revision);
    expect(splitPoint(store, { start: 'p', end: 't' })).toBe('r');
    // The first key holding most of the bytes: the next key is the point, never the range's start.
    write('a', 1_000);
    write('b', 1);
    expect(splitPoint(store, { start: 'a', end: 'c' })).toBe('b');
    expect(splitPoint(store, { start: 'a', end: 'b' })).toBeUndefined();
  });

  it('splits a range by itself once its values pass splitAtBytes, until each range holds less', async () => {
    const kvs = await started(open, { splitAtBytes: 4_000 });
    const keys = Array.from({ length: 16 }, (_, i) => `q${String(i).padStart(2, '0')}`);
    for (const key of keys) await kvs[writerOf(key)]!.put(key, `${key}:${'v'.repeat(995)}`);
    await expect
      .poll(() => kvs[0]!.rangeMap.ranges.map((range) => kvs[0]!.shard(range.group)?.machine.view.size.valueBytes ?? Number.POSITIVE_INFINITY), {
        timeout: 20_000,
        interval: 100,
      })
      .toSatisfy((sizes: number[]) => sizes.every((bytes) => bytes <= 4_000));
    expect(kvs[0]!.rangeMap.generation).toBeGreaterThanOrEqual(3);
    for (const key of keys) expect(text((await kvs[1]!.get(key))?.value)).toBe(`${key}:${'v'.repeat(995)}`);
    await expect.poll(() => kvs.map((kv) => kv.rangeMap.generation), { timeout: 5_000 }).toEqual(kvs.map(() => kvs[0]!.rangeMap.generation));
  }, 30_000);
});

/** Which member writes `key`: spread over the three. */
const writerOf = (key: string): number => key.charCodeAt(key.length - 1) % 3;

describe('a split under load', () => {
  const seed = Number(process.env['SYNOD_SPLIT_SEED'] ?? 11);

  /**
   * Three members with ranges [, k3), [k3, k6), [k6, ∞) and six clients on keys k0 to
   * k8 through random members; `finish()` stops them, reads every key, and checks that
   * every key's history is linearizable and every member ends on the same map, tidy.
   */
  async function underLoad(random: Prng) {
    const network = new MemoryNetwork({ delayMs: { min: 0, max: 3 }, random: () => random.next() });
    const { member } = cluster(
      open,
      { splitKeys: ['k3', 'k6'], node: { tickMs: 10, electionTicks: { min: 10, max: 20 }, readTimeoutMs: 500 }, balanceMs: 100 },
      network,
    );
    const kvs = members.map((id) => member(id));
    await Promise.all(kvs.map((kv) => kv.start()));
    const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6', 'k7', 'k8'];
    const history: KvHistory = [];
    const started = performance.now();
    const operate = kvRecorder(history, () => performance.now() - started);
    let stop = false;
    const client = async (name: string): Promise<void> => {
      const versions = new Map<string, number>();
      for (let seq = 0; !stop; seq++) {
        const key = keys[random.int(keys.length)]!;
        const before = history.length;
        await operate(name, kvs[random.int(kvs.length)]!, key, randomKvInput(random, versions.get(key), `${name}-${seq}`));
        const done = history[before];
        if (done?.outcome === 'ok' && (done.output?.type === 'value' || done.output?.type === 'written')) versions.set(key, done.output.version);
        await sleep(random.int(3));
      }
    };
    const running = Array.from({ length: 6 }, (_, i) => client(`c${i + 1}`));
    const finish = async (generation: number, groups: readonly number[]): Promise<void> => {
      network.setConditions({ dropRate: 0, duplicateRate: 0 });
      await expect.poll(() => kvs.map((kv) => kv.rangeMap.generation), { timeout: 10_000 }).toEqual([generation, generation, generation]);
      stop = true;
      await Promise.all(running);
      for (const key of keys) await operate('final', kvs[2]!, key, { op: 'get' });
      const ok = history.filter((o) => o.outcome === 'ok');
      expect(ok.length).toBeGreaterThan(100);
      // Writes reached the keys that moved, in the ranges that took them.
      const final = kvs[0]!.rangeMap;
      expect(new Set(ok.filter((o) => o.input.op !== 'get').map((o) => final.rangeOf(o.key).group))).toEqual(new Set(groups));
      const verdict = checkLinearizability(history, versionedKvModel, { timeBudgetMs: 20_000 });
      expect(verdict.result, JSON.stringify(verdict).slice(0, 2_000)).toBe('linearizable');
      await expect
        .poll(() => kvs.flatMap((kv) => kv.rangeMap.ranges.map((range) => kv.shard(range.group)!.machine.frozen)), { timeout: 5_000 })
        .toEqual(kvs.flatMap((kv) => kv.rangeMap.ranges.map(() => undefined)));
      expectTidy(kvs);
    };
    return { kvs, network, finish };
  }

  it(`loses nothing: every key's history is linearizable across two splits, with messages lost and duplicated (seed ${seed})`, async () => {
    const random = new Prng(seed);
    const { kvs, network, finish } = await underLoad(random);
    network.setConditions({ dropRate: 0.03, duplicateRate: 0.02 });
    await sleep(300);
    // Two splits, from two members, while the clients run: the last range at k7, the first at k1.
    expect((await kvs[0]!.splitRange('k7')).rangeOf('k8').group).toBe(4);
    await sleep(200);
    expect((await kvs[1]!.splitRange('k1')).rangeOf('k2').group).toBe(5);
    await sleep(300);
    await finish(2, [1, 2, 3, 4, 5]);
  }, 60_000);

  it(`loses nothing when the member that began a split stops, and a member is cut off while another finishes it (seed ${seed})`, async () => {
    const random = new Prng(seed + 1);
    const { kvs, network, finish } = await underLoad(random);
    await sleep(200);
    // Begun by a (the intent recorded), which runs no further: as if it had stopped there.
    const meta = kvs[0]!.shard(0)!;
    expect(await beginSplit(meta, (await readMetaState(meta))!, 'k7')).toBeDefined();
    // Once the new group has its first leader, a is cut off: the split goes on without
    // it, finished by the meta group's leader among b and c.
    await expect.poll(() => kvs.some((kv) => kv.shard(4)?.node.status().role === 'leader'), { timeout: 5_000 }).toBe(true);
    network.isolate('a');
    await expect.poll(() => [kvs[1]!.rangeMap.generation, kvs[2]!.rangeMap.generation], { timeout: 10_000 }).toEqual([1, 1]);
    network.heal();
    await sleep(300);
    await finish(1, [1, 2, 3, 4]);
  }, 60_000);
});
