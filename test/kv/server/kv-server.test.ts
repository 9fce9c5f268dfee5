/**
 * KV servers and clients over TCP on 127.0.0.1: the client protocol end to end,
 * typed errors across the wire, authentication both ways, failover of a client to
 * another server with in-flight writes applied exactly once, and a watch that misses
 * nothing and repeats nothing across the failover.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AuthenticationError, KvRequestError, VersionConflictError, type WatchEvent } from '../../../src/kv/index.js';
import { decodeKvSnapshot } from '../../../src/kv/kv-snapshot.js';
import { kvResultCodec } from '../../../src/kv/kv-codec.js';
import { ResultDroppedError } from '../../../src/runtime/index.js';
import { decodeSnapshot } from '../../../src/runtime/snapshot-format.js';
import { ServerCluster } from './cluster.js';

let cluster: ServerCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const text = (v: Uint8Array | undefined) => (v === undefined ? undefined : new TextDecoder().decode(v));

describe('KV servers and clients', () => {
  it('serve reads and writes from any server, with typed refusals', async () => {
    cluster = await ServerCluster.start();
    const [a, b] = [cluster.client({ only: ['a'] }), cluster.client({ only: ['b'] })];
    const put = await a.put('k', 'v1');
    expect(put).toMatchObject({ key: 'k', version: 1 });
    const got = await b.get('k');
    expect(text(got?.value)).toBe('v1');
    expect(got?.version).toBe(1);
    await expect(b.put('k', 'v2', { expectedVersion: 5 })).rejects.toBeInstanceOf(VersionConflictError);
    await expect(b.put('k', 'v2', { expectedVersion: 5 })).rejects.toMatchObject({ currentVersion: 1 });
    expect(await b.put('k', 'v2', { expectedVersion: 1 })).toMatchObject({ version: 2 });
    const range = await a.range({ prefix: '' });
    expect(range.kvs.map((kv) => text(kv.value))).toEqual(['v2']);
    expect((await a.txn({ compare: [{ key: 'k', target: 'version', op: '==', value: 2 }], success: [{ op: 'delete', key: 'k' }] })).succeeded).toBe(true);
    expect(await b.get('k')).toBeUndefined();
    const status = await a.status();
    expect(status.members).toEqual(['a', 'b', 'c']);
    expect(status.revision).toBeGreaterThanOrEqual(3);
  }, 30_000);

  it('refuse the retry of a write whose result was too large to keep with ResultDroppedError, remotely too', async () => {
    const node = { tickMs: 10, electionTicks: { min: 10, max: 20 }, sessionCheckMs: 20, dedup: { resultBytesPerClientMax: 1024, resultBytesMax: 64 * 1024 } };
    cluster = await ServerCluster.start(['a', 'b', 'c'], { server: () => ({ node }) });
    const client = cluster.client();
    await client.put('big', new Uint8Array(4096));
    // A write whose answer (the 4 KiB value it reads) is over the 1 KiB a client's results may keep.
    const txn = {
      compare: [],
      success: [
        { op: 'put' as const, key: 'once', value: new TextEncoder().encode('first') },
        { op: 'range' as const, range: { key: 'big' } },
      ],
    };
    const request = { clientId: 'remote-1', seq: 1, ackedBelow: 0 };
    expect((await client.txn(txn, { request })).succeeded).toBe(true);
    const onB = cluster.client({ only: ['b'] });
    // A linearizable read on b first: b has applied the write, so it answers the retry from its table.
    expect((await onB.get('once'))?.version).toBe(1);
    const retry = onB.txn(txn, { request });
    await expect(retry).rejects.toBeInstanceOf(ResultDroppedError);
    await expect(retry).rejects.toMatchObject({ clientId: 'remote-1', seq: 1 });
    expect((await client.get('once'))?.version).toBe(1);
  }, 30_000);

  it('refuse a client with the wrong secret or cluster: its requests fail with AuthenticationError, saying why', async () => {
    cluster = await ServerCluster.start();
    const wrong = cluster.client({ secret: 'x'.repeat(32), requestTimeoutMs: 1_000 });
    await expect(wrong.put('k', 'v')).rejects.toBeInstanceOf(AuthenticationError);
    await expect(wrong.get('k')).rejects.toThrow(/authentication failed|refused/);
    const otherCluster = cluster.client({ clusterId: 'other', requestTimeoutMs: 1_000 });
    await expect(otherCluster.get('k')).rejects.toThrow(/cluster test-kv, not other/);
    expect(await cluster.client().get('k')).toBeUndefined();
  }, 30_000);

  it('list the live sessions with the keys each owns, and revoke one: its ephemeral keys go, and its holder learns it expired', async () => {
    cluster = await ServerCluster.start(['a']);
    const holder = cluster.client();
    const locked = await holder.createSession({ ttlMs: 60_000, keepAliveMs: 100 });
    await holder.put('lock', 'me', { session: locked.id });
    await holder.put('member', 'me', { session: locked.id });
    const idle = await holder.createSession({ ttlMs: 30_000 });
    const operator = cluster.client();
    const before = await operator.listSessions();
    expect(before.sessions.map(({ id, ttlMs, keys }) => ({ id, ttlMs, keys }))).toEqual([
      { id: locked.id, ttlMs: 60_000, keys: 2 },
      { id: idle.id, ttlMs: 30_000, keys: 0 },
    ]);
    expect(before.count).toBe(2);
    const revoked = await operator.revokeSession(locked.id);
    expect(revoked).toMatchObject({ revoked: true, keysDeleted: 2 });
    expect(await operator.get('lock')).toBeUndefined();
    expect(await locked.ended).toBe('expired');
    expect(await operator.revokeSession(locked.id)).toEqual({ revoked: false, keysDeleted: 0, revision: 0 });
    expect((await operator.listSessions({ consistency: 'serializable' })).sessions.map((x) => x.id)).toEqual([idle.id]);
    await expect(operator.revokeSession(0)).rejects.toBeInstanceOf(KvRequestError);
  }, 30_000);

  it('fail a client over to another server: in-flight writes apply once, a watch misses and repeats nothing', async () => {
    cluster = await ServerCluster.start();
    const writer = cluster.client({ only: ['a', 'b', 'c'] });
    const watcher = cluster.client();
    await writer.put('n', '0');
    const watch = watcher.watch({ key: 'n' }, { fromRevision: 1 });
    const seen: WatchEvent[] = [];
    const watching = (async () => {
      for await (const e of watch) seen.push(e);
    })();
    // Writes keep going while every server but one takes a turn being stopped.
    let acknowledged = 1;
    const writes = (async () => {
      for (let i = 1; i <= 60; i++) {
        await writer.put('n', String(i));
        acknowledged++;
      }
    })();
    for (const id of ['a', 'b']) {
      await new Promise((r) => setTimeout(r, 150));
      await cluster.stopServer(id);
      await new Promise((r) => setTimeout(r, 300));
      await cluster.startServer(id);
    }
    await writes;
    const final = await writer.get('n');
    // Exactly once: every acknowledged put moved the version by one, no retry added another.
    expect(final?.version).toBe(acknowledged);
    expect(text(final?.value)).toBe('60');
    const deadline = Date.now() + 10_000;
    while (seen.length < acknowledged && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    watch.close();
    await watching;
    expect(seen.map((e) => e.kv.version)).toEqual(Array.from({ length: acknowledged }, (_, i) => i + 1));
    expect(new Set(seen.map((e) => e.revision)).size).toBe(seen.length);
  }, 60_000);

  it('send a snapshot larger than a frame in pieces, from any server, one at a time, holding every write acknowledged before', async () => {
    cluster = await ServerCluster.start();
    const writer = cluster.client({ only: ['a'] });
    const big = (i: number) => new Uint8Array(700 * 1024).fill(i);
    for (let i = 1; i <= 3; i++) await writer.put(`big/${i}`, big(i));
    await writer.put('small', 'last');
    const leader = (await writer.status()).leader!;
    const follower = ['a', 'b', 'c'].find((id) => id !== leader)!;
    // Two at once, from the leader and from a follower: each server sends one snapshot at a time, the other waits.
    const [fromLeader, fromFollower, again] = await Promise.all([
      cluster.client({ only: [leader] }).snapshot(),
      cluster.client({ only: [follower] }).snapshot(),
      cluster.client({ only: [follower] }).snapshot(),
    ]);
    for (const snapshot of [fromLeader, fromFollower, again]) {
      expect(snapshot.data.byteLength).toBeGreaterThan(2 * 1024 * 1024);
      const { machine } = decodeSnapshot(snapshot.data, kvResultCodec);
      const { store } = decodeKvSnapshot(machine);
      expect(text(store.latest('small')?.value ?? undefined)).toBe('last');
      // Compared as bytes: toEqual on 700 KiB arrays takes seconds.
      for (let i = 1; i <= 3; i++) expect(Buffer.compare(store.latest(`big/${i}`)!.value!, big(i))).toBe(0);
    }
  }, 30_000);
});
