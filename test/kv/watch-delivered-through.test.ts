/**
 * `Watch.deliveredThrough`: once it reaches the revision of the event just taken, that
 * revision's changes are all in hand. Checked on an embedded watch (a transaction of
 * three puts) and on a remote one over a revision the server cuts across frames (a
 * session's 1,100 ephemeral keys deleted at once, more than one frame holds).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InProcessKvCluster } from '../../examples/kv-recipes/in-process-cluster.js';
import type { Watch, WatchEvent } from '../../src/kv/index.js';
import { eventsPerFrameMax } from '../../src/kv/protocol/client-codec.js';
import { ServerCluster } from './server/cluster.js';

const bytes = (s: string) => new TextEncoder().encode(s);

let closing: (() => Promise<void>) | undefined;
afterEach(async () => {
  await closing?.();
  closing = undefined;
});

/** Takes `count` events, noting after each whether the watch called its revision complete. */
async function take(watch: Watch, count: number): Promise<{ event: WatchEvent; complete: boolean }[]> {
  const out: { event: WatchEvent; complete: boolean }[] = [];
  for (let i = 0; i < count; i++) {
    const step = await watch.next();
    if (step.done === true) throw new Error('the watch ended');
    out.push({ event: step.value, complete: watch.deliveredThrough >= step.value.revision });
  }
  return out;
}

describe('Watch.deliveredThrough', () => {
  it('embedded: a transaction of three puts is complete only at its third event, and the next revision at its one', async () => {
    const cluster = await InProcessKvCluster.start();
    closing = () => cluster.close();
    const kv = cluster.kv(cluster.leader()!);
    const before = await kv.put('other', 'x');
    const watch = kv.watch({ prefix: 'w/' }, { fromRevision: before.revision + 1 });
    expect(watch.deliveredThrough).toBe(before.revision);
    const txn = await kv.txn({ compare: [], success: ['a', 'b', 'c'].map((k) => ({ op: 'put' as const, key: `w/${k}`, value: bytes(k) })), failure: [] });
    const single = await kv.put('w/d', 'd');
    const seen = await take(watch, 4);
    expect(seen.map((s) => s.event.revision)).toEqual([txn.revision, txn.revision, txn.revision, single.revision]);
    expect(seen.map((s) => s.complete)).toEqual([false, false, true, true]);
    watch.close();
  }, 30_000);

  it(`remote: a revision of ${eventsPerFrameMax + 76} deletes, cut across frames, is complete only at its last event`, async () => {
    const cluster = await ServerCluster.start();
    closing = () => cluster.close();
    const client = cluster.client();
    const session = await client.createSession({ ttlMs: 60_000 });
    const count = eventsPerFrameMax + 76;
    await Promise.all(Array.from({ length: count }, (_, i) => client.put(`e/${String(i).padStart(5, '0')}`, 'v', { session: session.id })));
    const start = await client.put('marker', 'm');
    const watch = client.watch({ prefix: 'e/' }, { fromRevision: start.revision + 1 });
    await session.close();
    const seen = await take(watch, count);
    const revision = seen[0]!.event.revision;
    expect(seen.every((s) => s.event.revision === revision && s.event.type === 'delete')).toBe(true);
    expect(seen.findIndex((s) => s.complete)).toBe(count - 1);
    watch.close();
  }, 60_000);
});
