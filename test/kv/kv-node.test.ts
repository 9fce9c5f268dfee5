/**
 * The KV node on a three-node in-process cluster (MemoryNetwork, MemoryStorage, real
 * timers with 10 ms ticks): versions and revisions, compare-and-set, transactions,
 * ranges and compaction, sequential keys, sessions and their expiry, watches across a
 * leader change, exactly-once requests, and refused input.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ClosedError, type NodeId, SynodError, TimeoutError } from '../../src/index.js';
import { InProcessKvCluster } from '../../examples/kv-recipes/in-process-cluster.js';
import {
  CompactedError,
  type KeyValue,
  type KvNodeOptions,
  KvRequestError,
  type KvWatch,
  SessionExpiredError,
  VersionConflictError,
  type WatchEvent,
  kvLimits,
  sequentialKey,
} from '../../src/kv/index.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const bytes = (s: string): Uint8Array => encoder.encode(s);
const text = (kv: KeyValue | undefined): string | undefined => (kv === undefined ? undefined : decoder.decode(kv.value));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let current: InProcessKvCluster | undefined;

afterEach(async () => {
  await current?.close();
  current = undefined;
});

/** A started cluster (the recipes' in-process cluster, with 5 s timeouts), closed after the test. */
async function startCluster(options: Partial<KvNodeOptions> = {}): Promise<InProcessKvCluster> {
  current = await InProcessKvCluster.start({ node: { proposeTimeoutMs: 5_000, readTimeoutMs: 5_000, ...options } });
  return current;
}

/** Waits for a leader; returns it and the live nodes that follow it. */
async function waitForLeader(c: InProcessKvCluster): Promise<{ leader: NodeId; followers: NodeId[] }> {
  await c.waitFor(() => c.leader() !== undefined, 'a leader');
  const leader = c.leader()!;
  return { leader, followers: c.live.filter((id) => id !== leader) };
}

/** The next `count` events of `watch`; fails (closing the watch) if they do not come within `ms`. */
async function nextEvents(watch: KvWatch, count: number, ms = 5_000): Promise<WatchEvent[]> {
  const timer = setTimeout(() => watch.close(), ms);
  try {
    const events: WatchEvent[] = [];
    while (events.length < count) {
      const step = await watch.next();
      if (step.done === true) throw new Error(`watch ended after ${events.length} of ${count} events: ${JSON.stringify(events.map((e) => e.revision))}`);
      events.push(step.value);
    }
    return events;
  } finally {
    clearTimeout(timer);
  }
}

/** What `promise` rejected with; fails if it resolved. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );
}

describe('put, get and delete', () => {
  it('versions count writes since the create; revisions grow by one per write', async () => {
    const c = await startCluster();
    const { leader, followers } = await waitForLeader(c);
    const [f1, f2] = followers as [NodeId, NodeId];
    const r0 = (await c.kv(f1).range({ prefix: '' })).revision;

    expect(await c.kv(f1).put('k', 'v1')).toEqual({ key: 'k', version: 1, revision: r0 + 1 });
    expect(await c.kv(f2).put('k', 'v2')).toEqual({ key: 'k', version: 2, revision: r0 + 2 });
    expect(await c.kv(leader).put('k', bytes('v3'))).toEqual({ key: 'k', version: 3, revision: r0 + 3 });
    expect(await c.kv(f2).put('other', 'x')).toEqual({ key: 'other', version: 1, revision: r0 + 4 });
    for (const id of c.ids) {
      const kv = await c.kv(id).get('k');
      expect(text(kv), id).toBe('v3');
      expect(kv, id).toMatchObject({ key: 'k', version: 3, createRevision: r0 + 1, modRevision: r0 + 3 });
      expect(kv?.session, id).toBeUndefined();
    }

    expect(await c.kv(f1).delete('k')).toEqual({ deleted: true, revision: r0 + 5 });
    for (const id of c.ids) expect(await c.kv(id).get('k'), id).toBeUndefined();
    expect(await c.kv(f2).delete('k')).toEqual({ deleted: false, revision: r0 + 5 });

    // A create after a delete starts again at version 1.
    expect(await c.kv(leader).put('k', 'again')).toEqual({ key: 'k', version: 1, revision: r0 + 6 });
    expect(await c.kv(f1).get('k')).toMatchObject({ version: 1, createRevision: r0 + 6, modRevision: r0 + 6 });
    // The history stays readable at older revisions.
    const old = await c.kv(f2).range({ key: 'k' }, { revision: r0 + 3 });
    expect(old.revision).toBe(r0 + 3);
    expect(text(old.kvs[0])).toBe('v3');
    expect((await c.kv(f2).range({ key: 'k' }, { revision: r0 + 5 })).kvs).toEqual([]);
    expect((await c.kv(f2).range({ prefix: '' })).revision).toBe(r0 + 6);
  });

  it('a linearizable get on any node sees a write acknowledged on another', async () => {
    const c = await startCluster();
    await waitForLeader(c);
    for (let i = 0; i < 12; i++) {
      const writer = c.ids[i % 3]!;
      const reader = c.ids[(i + 1) % 3]!;
      const { revision } = await c.kv(writer).put('lin', `v${i}`);
      const seen = await c.kv(reader).get('lin');
      expect(text(seen), `write ${i} on ${writer}, read on ${reader}`).toBe(`v${i}`);
      expect(seen?.modRevision).toBe(revision);
    }
  });

  it('a serializable get answers from the local copy, even cut off from the leader', async () => {
    const c = await startCluster();
    const { leader, followers } = await waitForLeader(c);
    const cutOff = followers[0]!;
    await c.kv(leader).put('s', 'old');
    await c.kv(cutOff).get('s'); // caught up
    c.network.isolate(cutOff);
    await c.kv(leader).put('s', 'new');

    expect(text(await c.kv(cutOff).get('s', { consistency: 'serializable' }))).toBe('old');
    expect(await rejection(c.kv(cutOff).get('s', { timeoutMs: 300 }))).toBeInstanceOf(TimeoutError);

    c.network.heal();
    expect(text(await c.kv(cutOff).get('s'))).toBe('new');
    expect(text(await c.kv(cutOff).get('s', { consistency: 'serializable' }))).toBe('new');
  });
});

describe('compare-and-set', () => {
  it('expectedVersion 0 creates only if absent; a stale version rejects and changes nothing', async () => {
    const c = await startCluster();
    const { leader, followers } = await waitForLeader(c);
    const kv = c.kv(followers[0]!);

    const created = await kv.put('cas', 'one', { expectedVersion: 0 });
    expect(created.version).toBe(1);
    const again = await rejection(c.kv(leader).put('cas', 'two', { expectedVersion: 0 }));
    expect(again).toBeInstanceOf(VersionConflictError);
    expect(again).toBeInstanceOf(SynodError);
    expect(again).toMatchObject({ code: 'VERSION_CONFLICT', key: 'cas', currentVersion: 1, revision: created.revision });

    const second = await kv.put('cas', 'two', { expectedVersion: 1 });
    expect(second).toEqual({ key: 'cas', version: 2, revision: created.revision + 1 });
    const stale = await rejection(c.kv(followers[1]!).put('cas', 'three', { expectedVersion: 1 }));
    expect(stale).toBeInstanceOf(VersionConflictError);
    expect((stale as VersionConflictError).currentVersion).toBe(2);

    // Deletes too: a stale version rejects; the right one deletes.
    const staleDelete = await rejection(kv.delete('cas', { expectedVersion: 1 }));
    expect(staleDelete).toBeInstanceOf(VersionConflictError);
    expect((staleDelete as VersionConflictError).currentVersion).toBe(2);
    for (const id of c.ids) {
      const now = await c.kv(id).get('cas');
      expect(text(now), id).toBe('two');
      expect(now?.version, id).toBe(2);
      expect((await c.kv(id).range({ prefix: '' })).revision, `${id}: the refusals wrote nothing`).toBe(second.revision);
    }
    expect(await kv.delete('cas', { expectedVersion: 2 })).toEqual({ deleted: true, revision: second.revision + 1 });

    // Absent again: version 0 creates; any other version conflicts with current version 0.
    const missing = await rejection(kv.put('cas', 'x', { expectedVersion: 2 }));
    expect(missing).toBeInstanceOf(VersionConflictError);
    expect((missing as VersionConflictError).currentVersion).toBe(0);
    expect(await kv.put('cas', 'reborn', { expectedVersion: 0 })).toEqual({ key: 'cas', version: 1, revision: second.revision + 2 });
  });
});

describe('transactions', () => {
  it('compares on version, value and modRevision; the success branch writes at one revision', async () => {
    const c = await startCluster();
    const { followers } = await waitForLeader(c);
    const kv = c.kv(followers[0]!);
    await kv.put('t/a', '1');
    const b = await kv.put('t/b', '2');

    const done = await c.kv(followers[1]!).txn({
      compare: [
        { key: 't/a', target: 'version', op: '==', value: 1 },
        { key: 't/b', target: 'value', op: '==', value: bytes('2') },
        { key: 't/b', target: 'modRevision', op: '==', value: b.revision },
        { key: 't/none', target: 'version', op: '<', value: 1 },
      ],
      success: [
        { op: 'range', range: { prefix: 't/' } },
        { op: 'put', key: 't/a', value: bytes('10') },
        { op: 'put', key: 't/c', value: bytes('30') },
        { op: 'delete', key: 't/b' },
        { op: 'delete', key: 't/none' },
      ],
      failure: [{ op: 'put', key: 't/failed', value: bytes('!') }],
    });
    expect(done.succeeded).toBe(true);
    expect(done.revision).toBe(b.revision + 1);
    expect(done.results).toHaveLength(5);
    const [range, ...writes] = done.results;
    expect(range).toMatchObject({ op: 'range', more: false, count: 2 });
    if (range?.op !== 'range') throw new Error('not a range result');
    expect(range.kvs.map((kv) => [kv.key, text(kv)])).toEqual([
      ['t/a', '1'],
      ['t/b', '2'],
    ]);
    expect(writes).toEqual([
      { op: 'put', key: 't/a', version: 2 },
      { op: 'put', key: 't/c', version: 1 },
      { op: 'delete', key: 't/b', deleted: true },
      { op: 'delete', key: 't/none', deleted: false },
    ]);

    // Atomic: every write at the one revision, nothing of it visible just before.
    for (const id of c.ids) {
      const now = await c.kv(id).range({ prefix: 't/' });
      expect(
        now.kvs.map((kv) => [kv.key, text(kv), kv.modRevision]),
        id,
      ).toEqual([
        ['t/a', '10', done.revision],
        ['t/c', '30', done.revision],
      ]);
      const before = await c.kv(id).range({ prefix: 't/' }, { revision: done.revision - 1 });
      expect(
        before.kvs.map((kv) => [kv.key, text(kv)]),
        id,
      ).toEqual([
        ['t/a', '1'],
        ['t/b', '2'],
      ]);
    }
    const events = await nextEvents(kv.watch({ prefix: 't/' }, { fromRevision: done.revision }), 3);
    expect(events.map((e) => [e.type, e.kv.key, e.revision])).toEqual([
      ['put', 't/a', done.revision],
      ['delete', 't/b', done.revision],
      ['put', 't/c', done.revision],
    ]);
  });

  it('a failed compare runs the failure branch; the success branch writes nothing', async () => {
    const c = await startCluster();
    const { leader } = await waitForLeader(c);
    const kv = c.kv(leader);
    const a = await kv.put('f/a', 'x');
    await kv.put('f/a', 'y');

    for (const compare of [
      { key: 'f/a', target: 'version', op: '==', value: 1 },
      { key: 'f/a', target: 'value', op: '==', value: bytes('x') },
      { key: 'f/a', target: 'modRevision', op: '==', value: a.revision },
      { key: 'f/a', target: 'modRevision', op: '<', value: a.revision + 1 },
      { key: 'f/absent', target: 'value', op: '!=', value: bytes('x') },
    ] as const) {
      const before = (await kv.range({ prefix: '' })).revision;
      const r = await kv.txn({
        compare: [compare],
        success: [{ op: 'put', key: 'f/never', value: bytes('!') }],
        failure: [{ op: 'range', range: { key: 'f/a' } }],
      });
      expect(r.succeeded, JSON.stringify(compare)).toBe(false);
      expect(r.revision, 'a read-only branch leaves the revision').toBe(before);
      expect(r.results).toHaveLength(1);
      expect(r.results[0]).toMatchObject({ op: 'range', count: 1, more: false });
    }
    const failed = await kv.txn({
      compare: [{ key: 'f/a', target: 'version', op: '>', value: 5 }],
      success: [{ op: 'delete', key: 'f/a' }],
      failure: [{ op: 'put', key: 'f/b', value: bytes('b') }],
    });
    expect(failed.succeeded).toBe(false);
    expect(failed.results).toEqual([{ op: 'put', key: 'f/b', version: 1 }]);
    for (const id of c.ids) {
      expect(await c.kv(id).get('f/never'), id).toBeUndefined();
      expect(text(await c.kv(id).get('f/a')), id).toBe('y');
      expect(await c.kv(id).get('f/b'), id).toMatchObject({ version: 1, modRevision: failed.revision });
    }
  });
});

describe('range', () => {
  it('reads a prefix, a span, with a limit, and at an older revision; compaction cuts history', async () => {
    const c = await startCluster();
    const { leader, followers } = await waitForLeader(c);
    const kv = c.kv(followers[0]!);
    const revisions = new Map<string, number>();
    for (const key of ['r/b', 'r/a', 'rx', 'r/d', 'r/c', 's']) revisions.set(key, (await c.kv(leader).put(key, `${key}@1`)).revision);
    const keysOf = (r: { kvs: readonly KeyValue[] }) => r.kvs.map((e) => e.key);

    const prefix = await kv.range({ prefix: 'r/' });
    expect(keysOf(prefix)).toEqual(['r/a', 'r/b', 'r/c', 'r/d']);
    expect(prefix).toMatchObject({ more: false, count: 4, revision: revisions.get('s') });
    expect(keysOf(await kv.range({ start: 'r/b', end: 'r/d' }))).toEqual(['r/b', 'r/c']);
    expect(keysOf(await kv.range({ start: 'r/', end: 'r0' }))).toEqual(['r/a', 'r/b', 'r/c', 'r/d']);
    expect(keysOf(await kv.range({ prefix: 'r' }))).toEqual(['r/a', 'r/b', 'r/c', 'r/d', 'rx']);
    const limited = await kv.range({ prefix: 'r/' }, { limit: 2 });
    expect(keysOf(limited)).toEqual(['r/a', 'r/b']);
    expect(limited).toMatchObject({ more: true, count: 4 });
    expect(await kv.range({ prefix: 'r/' }, { limit: 4 })).toMatchObject({ more: false, count: 4 });

    const snapshotAt = (await kv.range({ prefix: '' })).revision;
    await kv.put('r/a', 'r/a@2');
    await kv.delete('r/b');
    await kv.put('r/e', 'r/e@1');
    expect((await kv.range({ prefix: 'r/' })).kvs.map((e) => [e.key, text(e)])).toEqual([
      ['r/a', 'r/a@2'],
      ['r/c', 'r/c@1'],
      ['r/d', 'r/d@1'],
      ['r/e', 'r/e@1'],
    ]);
    const old = await kv.range({ prefix: 'r/' }, { revision: snapshotAt });
    expect(old.revision).toBe(snapshotAt);
    expect(old.kvs.map((e) => [e.key, text(e), e.modRevision])).toEqual([
      ['r/a', 'r/a@1', revisions.get('r/a')],
      ['r/b', 'r/b@1', revisions.get('r/b')],
      ['r/c', 'r/c@1', revisions.get('r/c')],
      ['r/d', 'r/d@1', revisions.get('r/d')],
    ]);
    expect(keysOf(await kv.range({ prefix: 'r/' }, { revision: revisions.get('r/a')! }))).toEqual(['r/a', 'r/b']);

    // Compaction: revisions below it are gone on every replica; it itself stays readable.
    await c.kv(followers[1]!).compact(snapshotAt);
    for (const id of c.ids) {
      const below = await rejection(c.kv(id).range({ prefix: 'r/' }, { revision: snapshotAt - 1 }));
      expect(below, id).toBeInstanceOf(CompactedError);
      expect(below, id).toMatchObject({ code: 'COMPACTED', revision: snapshotAt - 1, compactRevision: snapshotAt });
      expect(keysOf(await c.kv(id).range({ prefix: 'r/' }, { revision: snapshotAt })), id).toEqual(['r/a', 'r/b', 'r/c', 'r/d']);
    }
    expect(await rejection(kv.compact(snapshotAt - 1))).toBeInstanceOf(CompactedError);
  });
});

describe('sequential keys', () => {
  it('concurrent sequential creates under one prefix get distinct, increasing, zero-padded keys', async () => {
    const c = await startCluster();
    await waitForLeader(c);
    const results = await Promise.all(Array.from({ length: 15 }, (_, i) => c.kv(c.ids[i % 3]!).put('queue/job-', `job ${i}`, { sequential: true })));
    const byRevision = [...results].sort((x, y) => x.revision - y.revision);
    expect(new Set(results.map((r) => r.revision)).size).toBe(15);
    expect(byRevision.map((r) => r.key)).toEqual(Array.from({ length: 15 }, (_, i) => sequentialKey('queue/job-', i)));
    expect(byRevision[0]!.key).toBe('queue/job-0000000000');
    expect(byRevision[14]!.key).toBe('queue/job-0000000014');
    expect(results.every((r) => r.version === 1)).toBe(true);
    const stored = await c.kv('c').range({ prefix: 'queue/job-' });
    expect(stored.kvs.map((kv) => kv.key)).toEqual(byRevision.map((r) => r.key));
    // Each key holds what its own put wrote.
    results.forEach((r, i) => expect(text(stored.kvs.find((kv) => kv.key === r.key))).toBe(`job ${i}`));

    // A counter is never reused, even after its key is deleted.
    await c.kv('a').delete(sequentialKey('queue/job-', 14));
    expect((await c.kv('b').put('queue/job-', 'later', { sequential: true })).key).toBe('queue/job-0000000015');
    expect((await c.kv('b').put('other/', 'first', { sequential: true })).key).toBe('other/0000000000');
  });
});

describe('sessions', () => {
  it('keepalives hold a session past its TTL; close deletes its ephemeral keys everywhere', async () => {
    const c = await startCluster();
    const { followers } = await waitForLeader(c);
    const kv = c.kv(followers[0]!);
    const session = await kv.createSession({ ttlMs: 200 });
    await kv.put('svc/one', 'addr-1', { session: session.id });
    await kv.put('svc/plain', 'stays');
    expect(await c.kv(followers[1]!).get('svc/one')).toMatchObject({ session: session.id, version: 1 });

    await sleep(700); // several TTLs: only keepalives keep it
    for (const id of c.ids) expect(text(await c.kv(id).get('svc/one')), id).toBe('addr-1');
    expect(session.isOver).toBe(false);

    await session.close();
    expect(await session.ended).toBe('closed');
    for (const id of c.ids) {
      expect(await c.kv(id).get('svc/one'), id).toBeUndefined();
      expect(text(await c.kv(id).get('svc/plain')), id).toBe('stays');
    }
    const dead = await rejection(c.kv(followers[1]!).put('svc/two', 'x', { session: session.id }));
    expect(dead).toBeInstanceOf(SessionExpiredError);
    expect(dead).toMatchObject({ code: 'SESSION_EXPIRED', session: session.id });
    expect(await c.kv(followers[1]!).get('svc/two')).toBeUndefined();
  });

  it('a close that cannot reach the cluster yet does not end the session until it is applied', async () => {
    const c = await startCluster();
    const { followers } = await waitForLeader(c);
    const owner = followers[0]!;
    const session = await c.kv(owner).createSession({ ttlMs: 5_000 });
    await c.kv(owner).put('pending/1', 'one', { session: session.id });
    let ended: string | undefined;
    void session.ended.then((how) => (ended = how));

    c.network.isolate(owner);
    const closing = session.close();
    await sleep(100);
    expect(ended, 'ended before the close was applied').toBeUndefined();
    expect(text(await c.kv(followers[1]!).get('pending/1'))).toBe('one');

    c.network.heal();
    await closing;
    expect(ended).toBe('closed');
    expect(await session.ended).toBe('closed');
    for (const id of c.ids) expect(await c.kv(id).get('pending/1'), id).toBeUndefined();
  });

  it('a close that times out stops the keepalives: the session expires, and ended says so', async () => {
    const c = await startCluster({ proposeTimeoutMs: 300 });
    const { leader, followers } = await waitForLeader(c);
    const owner = followers[0]!;
    const session = await c.kv(owner).createSession({ ttlMs: 250 });
    await c.kv(owner).put('timeout/1', 'one', { session: session.id });

    c.network.isolate(owner);
    expect(await rejection(session.close())).toBeInstanceOf(TimeoutError);
    expect(session.isOver).toBe(false);
    await c.waitFor(() => c.kv(leader).machine.view.latest('timeout/1') === undefined, 'the session to expire on the majority');
    c.network.heal();
    expect(await Promise.race([session.ended, sleep(5_000).then(() => 'still running')])).toBe('expired');
    for (const id of c.ids) expect(await c.kv(id).get('timeout/1'), id).toBeUndefined();
  });

  it('when the node keeping a session alive closes, the leader expires it after its TTL on every replica at one revision', async () => {
    const c = await startCluster();
    const { leader, followers } = await waitForLeader(c);
    const owner = followers[0]!;
    const witness = followers[1]!;
    const session = await c.kv(owner).createSession({ ttlMs: 300 });
    await c.kv(owner).put('eph/1', 'one', { session: session.id });
    await c.kv(owner).put('eph/2', 'two', { session: session.id });
    await c.kv(owner).put('eph/keep', 'not ephemeral');
    const start = (await c.kv(leader).range({ prefix: '' })).revision;

    await c.closeNode(owner);
    expect(text(await c.kv(leader).get('eph/1')), 'not expired at once').toBe('one');
    await c.waitFor(() => c.kv(leader).machine.view.latest('eph/1') === undefined, 'the session to expire on the leader');
    await c.kv(witness).get('eph/1'); // caught up

    // Both ephemeral keys go in one write, at the same revision on every live replica.
    const deletions = new Map<NodeId, WatchEvent[]>();
    for (const id of [leader, witness]) {
      expect(
        (await c.kv(id).range({ prefix: 'eph/' })).kvs.map((e) => e.key),
        id,
      ).toEqual(['eph/keep']);
      const watch = c.kv(id).watch({ prefix: 'eph/' }, { fromRevision: start + 1 });
      deletions.set(id, await nextEvents(watch, 2));
      watch.close();
    }
    const onLeader = deletions.get(leader)!;
    expect(onLeader.map((e) => [e.type, e.kv.key])).toEqual([
      ['delete', 'eph/1'],
      ['delete', 'eph/2'],
    ]);
    const expiredAt = onLeader[0]!.revision;
    expect(onLeader[1]!.revision, 'both keys deleted at one revision').toBe(expiredAt);
    expect(deletions.get(witness)!.map((e) => [e.type, e.kv.key, e.revision])).toEqual(onLeader.map((e) => [e.type, e.kv.key, e.revision]));
    expect((await c.kv(witness).range({ prefix: 'eph/' }, { revision: expiredAt - 1 })).kvs.map((e) => e.key)).toEqual(['eph/1', 'eph/2', 'eph/keep']);

    const dead = await rejection(c.kv(witness).put('eph/3', 'x', { session: session.id }));
    expect(dead).toBeInstanceOf(SessionExpiredError);
    expect(c.kv(leader).machine.sessionTable.get(session.id)).toBeUndefined();
  });

  it('a session cut off from the cluster for longer than its TTL ends as expired', async () => {
    const c = await startCluster();
    const { leader, followers } = await waitForLeader(c);
    const owner = followers[0]!;
    const session = await c.kv(owner).createSession({ ttlMs: 250 });
    await c.kv(owner).put('cut/1', 'one', { session: session.id });

    c.network.isolate(owner);
    await c.waitFor(() => c.kv(leader).machine.view.latest('cut/1') === undefined, 'the session to expire on the majority');
    expect(session.isOver, 'the owner cannot know yet').toBe(false);
    c.network.heal();

    const how = await Promise.race([session.ended, sleep(5_000).then(() => 'still running')]);
    expect(how).toBe('expired');
    expect(await c.kv(owner).get('cut/1')).toBeUndefined();
    expect(await rejection(c.kv(owner).put('cut/2', 'x', { session: session.id }))).toBeInstanceOf(SessionExpiredError);
  });
});

describe('watch', () => {
  it('replays past events from a revision, then live ones; resuming at last + 1 neither repeats nor skips', async () => {
    const c = await startCluster();
    const { leader, followers } = await waitForLeader(c);
    const writers = [leader, ...followers];
    const written: { key: string; type: 'put' | 'delete'; revision: number }[] = [];
    const write = async (i: number): Promise<void> => {
      const kv = c.kv(writers[i % 3]!);
      if (i % 4 === 3) {
        const { revision } = await kv.delete(`w/${i - 1}`);
        written.push({ key: `w/${i - 1}`, type: 'delete', revision });
      } else {
        const { revision } = await kv.put(`w/${i}`, `${i}`);
        written.push({ key: `w/${i}`, type: 'put', revision });
      }
      await kv.put(`x/${i}`, 'outside the prefix');
    };
    for (let i = 0; i < 8; i++) await write(i);

    const watch = c.kv(followers[0]!).watch({ prefix: 'w/' }, { fromRevision: written[0]!.revision });
    const past = await nextEvents(watch, 8);
    expect(past.map((e) => ({ key: e.kv.key, type: e.type, revision: e.revision }))).toEqual(written);
    expect(past.filter((e) => e.type === 'put').every((e) => text(e.kv) === e.kv.key.slice(2))).toBe(true);

    const live = nextEvents(watch, 8);
    for (let i = 8; i < 16; i++) await write(i);
    const seen = [...past, ...(await live)];
    expect(seen.map((e) => e.revision)).toEqual(written.map((w) => w.revision));

    // Resume from the middle: no duplicates, no gaps.
    const cut = seen[5]!.revision;
    watch.close();
    const resumed = c.kv(followers[1]!).watch({ prefix: 'w/' }, { fromRevision: cut + 1 });
    const rest = await nextEvents(resumed, 10);
    expect([...seen.slice(0, 6), ...rest].map((e) => e.revision)).toEqual(written.map((w) => w.revision));
    resumed.close();
  });

  it('misses nothing across a leader change', async () => {
    const c = await startCluster();
    const { leader, followers } = await waitForLeader(c);
    const [watcher, other] = followers as [NodeId, NodeId];
    const from = (await c.kv(watcher).range({ prefix: '' })).revision + 1;
    const watch = c.kv(watcher).watch({ prefix: 'lc/' }, { fromRevision: from });
    const revisions: number[] = [];
    for (let i = 0; i < 30; i++) {
      if (i === 10) await c.closeNode(leader);
      const kv = c.kv(i % 2 === 0 ? watcher : other);
      revisions.push((await kv.put(`lc/${i % 7}`, `${i}`)).revision);
      if (i % 3 === 0) await kv.put(`elsewhere/${i}`, 'not watched');
    }
    const { leader: second } = await waitForLeader(c);
    expect(second).not.toBe(leader);
    const events = await nextEvents(watch, 30);
    expect(events.map((e) => e.revision)).toEqual(revisions);
    expect(events.map((e) => text(e.kv))).toEqual(revisions.map((_, i) => `${i}`));
    watch.close();
  });

  it('misses nothing on a deposed leader: cut off, then healed, it delivers every change in order', async () => {
    const c = await startCluster();
    const { leader, followers } = await waitForLeader(c);
    const watcher = c.kv(leader);
    const watch = watcher.watch({ prefix: 'dp/' }, { fromRevision: watcher.revision + 1 });
    const revisions: number[] = [];
    for (let i = 0; i < 5; i++) revisions.push((await c.kv(followers[i % 2]!).put(`dp/${i}`, `${i}`)).revision);

    c.network.isolate(leader);
    const stranded = watcher.put('dp/stranded', 'proposed on the cut-off leader');
    for (let i = 5; i < 15; i++) revisions.push((await c.kv(followers[i % 2]!).put(`dp/${i % 4}`, `${i}`)).revision);
    c.network.heal();
    revisions.push((await stranded).revision);
    for (let i = 15; i < 20; i++) revisions.push((await watcher.put(`dp/${i}`, `${i}`)).revision);

    const events = await nextEvents(watch, revisions.length);
    expect(events.map((e) => e.revision)).toEqual([...revisions].sort((x, y) => x - y));
    expect(events.filter((e) => e.kv.key === 'dp/stranded')).toHaveLength(1);
    watch.close();
  });

  it('misses nothing on a follower that catches up by snapshot', async () => {
    const c = await startCluster({ snapshot: { everySlots: 20, trailingSlots: 5 } });
    const { leader, followers } = await waitForLeader(c);
    const [lagging, other] = followers as [NodeId, NodeId];
    const session = await c.kv(other).createSession({ ttlMs: 5_000 });
    const revisions = [(await c.kv(other).put('snap/ephemeral', 'e', { session: session.id })).revision];
    const watch = c.kv(lagging).watch({ prefix: 'snap/' }, { fromRevision: revisions[0]! });
    expect((await nextEvents(watch, 1)).map((e) => e.revision)).toEqual(revisions);

    c.network.isolate(lagging);
    for (let i = 0; i < 100; i++) revisions.push((await c.kv(leader).put(`snap/${i % 10}`, `${i}`)).revision);
    await c.kv(leader).put('seq/', 'first', { sequential: true });
    c.network.heal();

    const rest = await nextEvents(watch, 100);
    expect(rest.map((e) => e.revision)).toEqual(revisions.slice(1));
    watch.close();
    expect(c.kv(lagging).node.metrics().snapshots.installed, 'caught up by snapshot').toBeGreaterThan(0);
    // The installed state carries the sessions and sequence counters too.
    expect((await c.kv(lagging).put('seq/', 'second', { sequential: true })).key).toBe('seq/0000000001');
    await session.close();
    expect(await c.kv(lagging).get('snap/ephemeral')).toBeUndefined();
  });

  it('rejects a fromRevision at or below the compacted revision', async () => {
    const c = await startCluster();
    const { leader } = await waitForLeader(c);
    const kv = c.kv(leader);
    const revisions: number[] = [];
    for (let i = 0; i < 5; i++) revisions.push((await kv.put(`cw/${i}`, `${i}`)).revision);
    const compactAt = revisions[2]!;
    await kv.compact(compactAt);
    for (const id of c.ids) {
      await c.kv(id).get('cw/0'); // caught up with the compaction
      for (const fromRevision of [compactAt, compactAt - 1, 1]) {
        const error = await rejection(c.kv(id).watch({ prefix: 'cw/' }, { fromRevision }).next());
        expect(error, `${id} from ${fromRevision}`).toBeInstanceOf(CompactedError);
        expect(error).toMatchObject({ revision: fromRevision, compactRevision: compactAt });
      }
      const after = await nextEvents(c.kv(id).watch({ prefix: 'cw/' }, { fromRevision: compactAt + 1 }), 2);
      expect(
        after.map((e) => e.revision),
        id,
      ).toEqual(revisions.slice(3));
    }
  });

  it('closing the node ends its watches: the for-await loops exit', async () => {
    const c = await startCluster();
    const { leader, followers } = await waitForLeader(c);
    const kv = c.kv(followers[0]!);
    const seen: WatchEvent[] = [];
    const waiting = kv.watch({ prefix: 'end/' }, { fromRevision: kv.revision + 1 });
    const drain = async (watch: KvWatch): Promise<string> => {
      try {
        for await (const event of watch) seen.push(event);
        return 'ended';
      } catch (error) {
        return `threw ${String(error)}`;
      }
    };
    const loop = drain(waiting);
    await c.kv(leader).put('end/1', 'one');
    await c.waitFor(() => seen.length === 1, 'the live event');

    // A watch without fromRevision waits for a read point first; cut off, it cannot get one.
    const isolated = c.kv(followers[1]!);
    c.network.isolate(followers[1]!);
    const starting = isolated.watch({ prefix: 'end/' });
    const startingLoop = drain(starting);
    await sleep(50);

    await Promise.all([c.closeNode(followers[0]!), c.closeNode(followers[1]!)]);
    expect(await Promise.race([loop, sleep(2_000).then(() => 'still waiting')])).toBe('ended');
    expect(await Promise.race([startingLoop, sleep(2_000).then(() => 'still waiting')])).toBe('ended');
    expect(seen.map((e) => e.kv.key)).toEqual(['end/1']);
    expect(() => kv.watch({ prefix: 'end/' })).toThrow(ClosedError);
  });
});

describe('exactly-once', () => {
  it('a request proposed again, on another node, applies once and answers the first result', async () => {
    const c = await startCluster();
    const { leader, followers } = await waitForLeader(c);
    const request = { clientId: 'client-7', seq: 1 };
    const first = await c.kv(followers[0]!).put('once', 'first', { request });
    const retry = await c.kv(followers[1]!).put('once', 'second', { request });
    expect(retry).toEqual(first);
    for (const id of c.ids) {
      const now = await c.kv(id).get('once');
      expect(text(now), id).toBe('first');
      expect(now?.version, id).toBe(1);
    }
    expect((await c.kv(leader).range({ prefix: '' })).revision).toBe(first.revision);

    // Concurrently on every node: one apply.
    const next = { clientId: 'client-7', seq: 2 };
    const all = await Promise.all(c.ids.map((id) => c.kv(id).put('once', `from ${id}`, { request: next })));
    expect(new Set(all.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(all[0]).toMatchObject({ version: 2, revision: first.revision + 1 });
    expect((await c.kv(leader).get('once'))?.version).toBe(2);

    // A retried delete answers its first outcome too, though the key is gone since.
    const del = await c.kv(leader).delete('once', { request: { clientId: 'client-7', seq: 3 } });
    expect(del.deleted).toBe(true);
    await c.kv(leader).put('once', 'back');
    expect(await c.kv(followers[0]!).delete('once', { request: { clientId: 'client-7', seq: 3 } })).toEqual(del);
    expect(text(await c.kv(followers[0]!).get('once'))).toBe('back');
  });
});

describe('bad input', () => {
  it('refuses an empty or too long key and a too large value with KvRequestError, writing nothing', async () => {
    const c = await startCluster();
    const { leader, followers } = await waitForLeader(c);
    const kv = c.kv(followers[0]!);
    await kv.put('fine', 'ok');
    const before = (await kv.range({ prefix: '' })).revision;

    const refusals: [string, () => Promise<unknown>][] = [
      ['put of an empty key', () => kv.put('', 'x')],
      ['delete of an empty key', () => kv.delete('')],
      ['get of an empty key', () => kv.get('')],
      ['put of a too long key', () => kv.put('k'.repeat(kvLimits.keyBytesMax + 1), 'x')],
      ['put of a too large value', () => kv.put('big', new Uint8Array(kvLimits.valueBytesMax + 1))],
      ['txn putting an empty key', () => c.kv(leader).txn({ compare: [], success: [{ op: 'put', key: '', value: bytes('x') }] })],
      [
        'txn putting a too large value',
        () => c.kv(leader).txn({ compare: [], success: [{ op: 'put', key: 'big', value: new Uint8Array(kvLimits.valueBytesMax + 1) }] }),
      ],
      ['put of a key with a lone surrogate', () => kv.put('half\ud800', 'x')],
      ['put with a negative expectedVersion', () => kv.put('fine', 'x', { expectedVersion: -1 })],
      [
        'txn with too many operations',
        () => c.kv(leader).txn({ compare: [], success: Array.from({ length: kvLimits.txnOpsMax + 1 }, (_, i) => ({ op: 'delete', key: `d/${i}` }) as const) }),
      ],
      ['range with limit 0', () => kv.range({ prefix: '' }, { limit: 0 })],
      ['a session TTL below the minimum', () => kv.createSession({ ttlMs: kvLimits.sessionTtlMsMin - 1 })],
    ];
    for (const [what, call] of refusals) {
      const error = await rejection(call());
      expect(error, what).toBeInstanceOf(KvRequestError);
      expect(error, what).toMatchObject({ code: 'KV_REQUEST' });
    }
    for (const id of c.ids) {
      const all = await c.kv(id).range({ prefix: '' });
      expect(all.revision, id).toBe(before);
      expect(
        all.kvs.map((e) => e.key),
        id,
      ).toEqual(['fine']);
    }
  });

  it('takes a key and a value at their limits', async () => {
    const c = await startCluster();
    const { followers } = await waitForLeader(c);
    const key = 'k'.repeat(kvLimits.keyBytesMax);
    const value = new Uint8Array(kvLimits.valueBytesMax).fill(7);
    const written = await c.kv(followers[0]!).put(key, value);
    expect(written.version).toBe(1);
    const read = await c.kv(followers[1]!).get(key);
    expect(read?.value.byteLength).toBe(kvLimits.valueBytesMax);
    expect(read?.value.every((b) => b === 7)).toBe(true);
  });
});
