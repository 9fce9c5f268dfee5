/**
 * A watch across ranges, on its own: a fake link plays the server's frames. Each range
 * resumes from its own revision, a revision cut across frames is skipped where it was
 * delivered already and nowhere else, a range a split made is taken in, and a slow
 * consumer pauses the subscription rather than buffering without bound.
 */
import { describe, expect, it } from 'vitest';
import type { KeyValue, WatchEvent } from '../../../src/kv/index.js';
import type { RangeRevision } from '../../../src/kv/protocol/client-frames.js';
import { RemoteRangesWatch, type RangesWatchLink } from '../../../src/kv/client/remote-ranges-watch.js';

function put(key: string, revision: number): WatchEvent {
  const kv: KeyValue = { key, value: new Uint8Array(0), version: 1, createRevision: revision, modRevision: revision };
  return { type: 'put', revision, kv };
}

class FakeLink implements RangesWatchLink {
  readonly subscriptions: { id: number; from: readonly RangeRevision[] }[] = [];
  readonly dropped: number[] = [];
  private next = 1;
  subscribeRanges(_watch: RemoteRangesWatch, from: readonly RangeRevision[]): number {
    const id = this.next++;
    this.subscriptions.push({ id, from });
    return id;
  }
  unsubscribe(id: number): void {
    this.dropped.push(id);
  }
  closed(): void {}
  get last(): { id: number; from: readonly RangeRevision[] } {
    return this.subscriptions[this.subscriptions.length - 1]!;
  }
}

async function take(watch: RemoteRangesWatch, n: number): Promise<[string, number, number][]> {
  const out: [string, number, number][] = [];
  for (let i = 0; i < n; i++) {
    const r = await watch.next();
    if (r.done === true) break;
    out.push([r.value.kv.key, r.value.group, r.value.revision]);
  }
  return out;
}

describe('a watch across ranges, client side', () => {
  it('resumes each range from its own revision, skipping only the part of a cut revision it delivered', async () => {
    const link = new FakeLink();
    const watch = new RemoteRangesWatch({ prefix: '' }, { 7: 3 }, link);
    expect(link.last.from).toEqual([{ group: 7, revision: 3 }]);
    watch.started(link.last.id, [
      { group: 7, revision: 3 },
      { group: 9, revision: 20 },
    ]);
    expect(watch.resumeRevisions()).toEqual({ 7: 3, 9: 20 });
    // Range 9's revision 21 is cut across frames: the first frame holds one of its two events.
    watch.events(link.last.id, 9, [put('x', 20), put('y', 21)], 20);
    watch.events(link.last.id, 7, [put('a', 3), put('b', 4)], 4);
    expect(await take(watch, 3)).toEqual([
      ['x', 9, 20],
      ['y', 9, 21],
      ['a', 7, 3],
    ]);
    // Range 7's b is not handed out yet: it resumes there.
    expect(watch.resumeRevisions()).toEqual({ 7: 4, 9: 21 });
    watch.reconnected();
    expect(link.last.from).toEqual([
      { group: 7, revision: 5 },
      { group: 9, revision: 21 },
    ]);
    // The new subscription sends revision 21 whole: y is skipped, z (its other event) is not; a range 7 event at its resume is kept.
    watch.events(link.last.id, 9, [put('y', 21), put('z', 21)], 21);
    watch.events(link.last.id, 7, [put('c', 5)], 5);
    expect(await take(watch, 3)).toEqual([
      ['b', 7, 4],
      ['z', 9, 21],
      ['c', 7, 5],
    ]);
    expect(watch.resumeRevisions()).toEqual({ 7: 6, 9: 22 });
  });

  it('ignores the frames of a subscription it left, and takes in a range a split made', async () => {
    const link = new FakeLink();
    const watch = new RemoteRangesWatch({ prefix: 't' }, {}, link);
    const old = link.last.id;
    watch.started(old, [{ group: 2, revision: 10 }]);
    watch.reconnected();
    watch.events(old, 2, [put('t1', 10)], 10);
    expect(watch.resumeRevisions()).toEqual({ 2: 10 });
    watch.started(link.last.id, [{ group: 2, revision: 10 }]);
    watch.events(link.last.id, 5, [put('tz', 1)], 1);
    expect(await take(watch, 1)).toEqual([['tz', 5, 1]]);
    expect(watch.resumeRevisions()).toEqual({ 2: 10, 5: 2 });
  });

  it('pauses a subscription past 10,000 events unread, and subscribes again from where each range stands once read', async () => {
    const link = new FakeLink();
    const watch = new RemoteRangesWatch({ prefix: '' }, { 1: 1 }, link);
    const first = link.last.id;
    const events = Array.from({ length: 10_001 }, (_, i) => put(`k${i}`, i + 1));
    watch.events(first, 1, events.slice(0, 1000), 1000);
    for (let i = 1000; i < 10_001; i += 1000) watch.events(first, 1, events.slice(i, i + 1000), Math.min(i + 1000, 10_001));
    expect(link.dropped).toEqual([first]);
    expect(watch.subscriptionId).toBeUndefined();
    await take(watch, 5_002);
    expect(link.subscriptions).toHaveLength(2);
    expect(link.last.from).toEqual([{ group: 1, revision: 10_002 }]);
  });

  it('fails with the error of its subscription, after the events it had', async () => {
    const link = new FakeLink();
    const watch = new RemoteRangesWatch({ prefix: '' }, {}, link);
    watch.events(link.last.id, 1, [put('a', 1)], 1);
    watch.failed(link.last.id, new Error('compacted'));
    expect(await take(watch, 1)).toEqual([['a', 1, 1]]);
    await expect(watch.next()).rejects.toThrow('compacted');
    expect(await watch.next()).toEqual({ done: true, value: undefined });
  });
});
