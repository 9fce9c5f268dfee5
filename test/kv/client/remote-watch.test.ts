/**
 * A watch through a server, on its own: a fake link plays the server's frames. A
 * revision cut across frames, with a reconnect between them, is delivered once: the
 * new subscription sends it whole, and the part delivered already is skipped.
 */
import { describe, expect, it } from 'vitest';
import { RemoteWatch, type WatchLink } from '../../../src/kv/client/remote-watch.js';
import type { KeyValue, WatchEvent } from '../../../src/kv/index.js';

function put(key: string, revision: number): WatchEvent {
  const kv: KeyValue = { key, value: new Uint8Array(0), version: 1, createRevision: revision, modRevision: revision };
  return { type: 'put', revision, kv };
}

describe('a remote watch, client side', () => {
  it('delivers a revision cut across frames once, with a reconnect between its frames', async () => {
    const subscriptions: number[] = [];
    const link: WatchLink = {
      subscribe: (_watch, from) => subscriptions.push(from),
      unsubscribe: () => {},
      closed: () => {},
    };
    const watch = new RemoteWatch({ prefix: '' }, 20, link);
    // Revision 21 holds y and z; the first frame ends inside it, after y (complete through 20).
    watch.events(1, [put('x', 20), put('y', 21)], 20);
    expect(watch.deliveredThrough).toBe(19);
    watch.reconnected();
    expect(subscriptions).toEqual([20, 21]);
    watch.events(2, [put('y', 21), put('z', 21), put('w', 22)], 22);
    const keys: string[] = [];
    for (let i = 0; i < 4; i++) keys.push((await watch.next()).value.kv.key);
    expect(keys).toEqual(['x', 'y', 'z', 'w']);
    expect(watch.deliveredThrough).toBe(22);
  });

  it('skips nothing of a revision it had not begun when the subscription moved', async () => {
    let id = 0;
    const watch = new RemoteWatch({ prefix: '' }, 5, { subscribe: () => ++id, unsubscribe: () => {}, closed: () => {} });
    watch.events(1, [put('a', 5), put('b', 6)], 6);
    watch.reconnected();
    watch.events(2, [put('c', 7), put('d', 7)], 7);
    const keys: string[] = [];
    for (let i = 0; i < 4; i++) keys.push((await watch.next()).value.kv.key);
    expect(keys).toEqual(['a', 'b', 'c', 'd']);
  });
});
