/**
 * The lock recipe (src/recipes/lock.ts) on a three-node in-process KV cluster:
 * mutual exclusion as the fenced resource sees it, no herd effect (counted through a
 * KvApi wrapper), hand-over on session close and expiry, abort and timeout, and the
 * paused holder whose stale write the fencing token stops (Kleppmann, "How to do
 * distributed locking", 2016; ZooKeeper recipes, "Locks").
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AbortedError, type NodeId, TimeoutError } from '../../src/index.js';
import type { KeyRange, KvApi, KvSession, Watch, WatchOptions } from '../../src/kv/index.js';
import { InProcessKvCluster } from '../../examples/kv-recipes/in-process-cluster.js';
import { FencedResource, KvLock, type LockHandle, QueueEntryGoneError, StaleTokenError } from '../../src/recipes/index.js';
import { CountingKv } from './counting-kv.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let cluster: InProcessKvCluster | undefined;

afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

async function startCluster(): Promise<InProcessKvCluster> {
  cluster = await InProcessKvCluster.start();
  return cluster;
}

/** What `promise` rejected with; fails if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );
}

/** `promise`'s value, or `fallback` if it takes longer than `ms`. */
async function within<T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<F>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** The lock keys under `name`, read linearizably. */
async function lockKeys(kv: KvApi, name: string): Promise<string[]> {
  return (await kv.range({ prefix: `${name}/lock-` })).kvs.map((kv) => kv.key);
}

interface Contender {
  readonly kv: CountingKv;
  readonly session: KvSession;
  readonly lock: KvLock;
}

async function contender(c: InProcessKvCluster, node: NodeId, name: string, owner: string, ttlMs = 1_000): Promise<Contender> {
  const kv = new CountingKv(c.kv(node));
  const session = await kv.createSession({ ttlMs });
  return { kv, session, lock: new KvLock(kv, { name, session, owner }) };
}

describe('KvLock', () => {
  it('N contenders on three nodes: no two critical sections overlap, as the fenced resource sees it; tokens rise in acquisition order', async () => {
    const c = await startCluster();
    const contenders = 6;
    const rounds = 5;
    const resource = new FencedResource({ latencyMs: 1 });
    const log: { readonly type: 'enter' | 'exit'; readonly token: number }[] = [];
    await Promise.all(
      Array.from({ length: contenders }, async (_, i) => {
        const { session, lock } = await contender(c, c.ids[i % 3]!, 'counter', `c${i}`);
        for (let round = 0; round < rounds; round++) {
          const held = await lock.acquire({ timeoutMs: 10_000 });
          log.push({ type: 'enter', token: held.fencingToken });
          const count = Number((await resource.read(held.fencingToken, 'count')) ?? '0');
          await sleep(i % 3); // widen the window a lost update would need
          await resource.write(held.fencingToken, 'count', String(count + 1));
          log.push({ type: 'exit', token: held.fencingToken });
          await held.release();
        }
        await session.close();
      }),
    );

    // The resource: every read-modify-write landed, none was refused, one write per holding in token order.
    expect(resource.refused, 'requests refused for a stale token').toBe(0);
    expect(resource.peek('count')).toBe(String(contenders * rounds));
    const writeTokens = resource.writes.map((w) => w.token);
    expect(
      writeTokens.every((t, i) => i === 0 || t > writeTokens[i - 1]!),
      `write tokens ${writeTokens.join(' ')}`,
    ).toBe(true);
    // The holders: enter and exit alternate, each exit matching the enter before it.
    expect(log).toHaveLength(2 * contenders * rounds);
    for (let i = 0; i < log.length; i += 2) {
      expect(log[i], `event ${i}`).toMatchObject({ type: 'enter' });
      expect(log[i + 1], `event ${i + 1}`).toEqual({ type: 'exit', token: log[i]!.token });
    }
    const tokens = log.filter((e) => e.type === 'enter').map((e) => e.token);
    expect(
      tokens.every((t, i) => i === 0 || t > tokens[i - 1]!),
      `tokens in acquisition order ${tokens.join(' ')}`,
    ).toBe(true);
    expect(await lockKeys(c.kv('a'), 'counter')).toEqual([]);
  });

  it('no herd: each waiter watches only its predecessor, and a release wakes only the next waiter', async () => {
    const c = await startCluster();
    const waiters = 5;
    const holder = await contender(c, 'a', 'herd', 'holder');
    let held = await holder.lock.acquire();
    const line: Contender[] = [];
    const acquired: Promise<LockHandle>[] = [];
    for (let i = 0; i < waiters; i++) {
      const waiter = await contender(c, c.ids[(i + 1) % 3]!, 'herd', `w${i}`);
      line.push(waiter);
      acquired.push(waiter.lock.acquire({ timeoutMs: 10_000 }));
      await c.waitFor(() => waiter.kv.openWatches.length === 1, `waiter ${i} to watch`);
    }
    const keys = await lockKeys(c.kv('a'), 'herd');
    expect(keys).toHaveLength(waiters + 1);
    line.forEach((waiter, i) => {
      // One watch, over its predecessor's key up to its own, nothing else.
      expect(
        waiter.kv.watches.map((w) => w.range),
        `waiter ${i}`,
      ).toEqual([{ start: keys[i], end: `${keys[i + 1]}\u0000` }]);
    });

    for (let i = 0; i < waiters; i++) {
      await held.release();
      held = await acquired[i]!;
      expect(held.key).toBe(keys[i + 1]);
      await sleep(50); // time for any other waiter to wake, were it watching the same key
      line.forEach((waiter, j) => {
        const wakeups = waiter.kv.watches.filter((w) => !('key' in w.range && w.range.key === keys[j + 1])).reduce((n, w) => n + w.events.length, 0);
        expect(wakeups, `after release ${i + 1}, wakeups of waiter ${j}`).toBe(j <= i ? 1 : 0);
      });
    }
    await held.release();
  });

  it("closing the holder's session hands the lock to the next waiter", async () => {
    const c = await startCluster();
    const a = await contender(c, 'a', 'handover', 'A');
    const b = await contender(c, 'b', 'handover', 'B');
    const heldA = await a.lock.acquire();
    const acquiring = b.lock.acquire({ timeoutMs: 5_000 });
    await c.waitFor(() => b.kv.openWatches.length === 1, 'B to wait');
    expect(await within(acquiring, 200, 'waiting')).toBe('waiting');

    await a.session.close();
    const heldB = await acquiring;
    expect(heldB.fencingToken).toBeGreaterThan(heldA.fencingToken);
    expect(await within(heldA.lost, 5_000, 'never told'), 'whichever this client hears first').toMatch(/^(session-closed|key-deleted)$/);
    expect(heldA.isHeld).toBe(false);
    expect(heldA.signal.aborted).toBe(true);
    expect(await b.lock.holder()).toEqual({ key: heldB.key, owner: 'B', fencingToken: heldB.fencingToken });
    await heldB.release();
  });

  it("when the holder's node dies, its session expires and the next waiter gets the lock after about one TTL", async () => {
    const c = await startCluster();
    const holderNode = c.follower();
    const otherNode = c.live.find((id) => id !== holderNode)!;
    const ttlMs = 300;
    const a = await contender(c, holderNode, 'expiry', 'A', ttlMs);
    const b = await contender(c, otherNode, 'expiry', 'B');
    const heldA = await a.lock.acquire();
    const acquiring = b.lock.acquire({ timeoutMs: 5_000 });
    await c.waitFor(() => b.kv.openWatches.length === 1, 'B to wait');

    expect(await within(acquiring, 100, 'waiting'), 'B waits while A lives').toBe('waiting');

    const diedAt = Date.now();
    await c.closeNode(holderNode);
    const heldB = await acquiring;
    expect(Date.now() - diedAt, 'about one TTL (the leader checks every 20 ms)').toBeLessThan(ttlMs + 2_000);
    expect(heldB.fencingToken).toBeGreaterThan(heldA.fencingToken);
    // Its node closed: its session is abandoned (and its watch ended), so nobody vouches for A any more.
    expect(['session-abandoned', 'unobservable']).toContain(await within(heldA.lost, 5_000, 'never told'));
    await heldB.release();
  });

  it('THE paused holder: it wakes up after its session expired, still believing it holds the lock; the fenced resource refuses its stale write', async () => {
    const c = await startCluster();
    const pausedNode = c.follower();
    const otherNode = c.live.find((id) => id !== pausedNode)!;
    const fenced = new FencedResource();
    const unfenced = new FencedResource({ checkTokens: false }); // trusts the lock alone
    const bothWrite = async (token: number, value: string): Promise<void> => {
      await fenced.write(token, 'report', value);
      await unfenced.write(token, 'report', value);
    };

    const a = await contender(c, pausedNode, 'fence', 'A', 500);
    const heldA = await a.lock.acquire();
    await bothWrite(heldA.fencingToken, 'A: draft');

    // A pauses (a GC pause, a partition): no keepalive of its session reaches the cluster.
    c.network.isolate(pausedNode);
    const b = await contender(c, otherNode, 'fence', 'B');
    const heldB = await b.lock.acquire({ timeoutMs: 5_000 }); // only once A's session expired
    expect(heldB.fencingToken).toBeGreaterThan(heldA.fencingToken);
    await bothWrite(heldB.fencingToken, 'B: final');

    // A wakes up. Nothing has told it: it still believes it holds the lock, and writes.
    expect(heldA.isHeld).toBe(true);
    expect(heldA.signal.aborted).toBe(false);
    const stale = await rejection(fenced.write(heldA.fencingToken, 'report', 'A: stale'));
    expect(stale).toBeInstanceOf(StaleTokenError);
    expect(stale).toMatchObject({ token: heldA.fencingToken, highestToken: heldB.fencingToken });
    expect(fenced.peek('report')).toBe('B: final');
    expect(fenced.refused).toBe(1);
    // What the token prevents: a resource trusting the lock alone takes A's stale write over B's.
    await unfenced.write(heldA.fencingToken, 'report', 'A: stale');
    expect(unfenced.peek('report')).toBe('A: stale');

    // Once A hears from the cluster again, it learns it lost the lock.
    c.network.heal();
    expect(await within(heldA.lost, 5_000, 'never told')).toMatch(/^(key-deleted|session-expired)$/);
    expect(heldA.signal.aborted).toBe(true);
    expect(await b.lock.holder()).toMatchObject({ owner: 'B', fencingToken: heldB.fencingToken });
    await heldB.release();
  });

  it('an acquire that times out or is aborted leaves the line: its key is deleted, and the next release goes past it', async () => {
    const c = await startCluster();
    const a = await contender(c, 'a', 'patience', 'A');
    const b = await contender(c, 'b', 'patience', 'B');
    const d = await contender(c, 'c', 'patience', 'D');
    const heldA = await a.lock.acquire();

    const timedOut = await rejection(b.lock.acquire({ timeoutMs: 200 }));
    expect(timedOut).toBeInstanceOf(TimeoutError);
    const controller = new AbortController();
    const aborting = b.lock.acquire({ signal: controller.signal });
    await c.waitFor(() => b.kv.openWatches.length === 1, 'B to wait again');
    controller.abort();
    expect(await rejection(aborting)).toBeInstanceOf(AbortedError);
    expect(await rejection(b.lock.acquire({ signal: AbortSignal.abort() }))).toBeInstanceOf(AbortedError);
    const midPut = new AbortController();
    const abortedInFlight = b.lock.acquire({ signal: midPut.signal });
    midPut.abort(); // while its put is in flight: it may yet apply, so the same request is sent again and its key deleted
    expect(await rejection(abortedInFlight)).toBeInstanceOf(AbortedError);
    expect(b.kv.openWatches).toEqual([]);
    expect(await lockKeys(c.kv('a'), 'patience')).toEqual([heldA.key]);

    const acquiring = d.lock.acquire({ timeoutMs: 5_000 });
    await c.waitFor(() => d.kv.openWatches.length === 1, 'D to wait');
    await heldA.release();
    const heldD = await acquiring;
    expect(d.kv.wakeups, 'D woke once, at A’s release').toBe(1);
    await heldD.release();
  });

  it("a release between a waiter's read and the start of its watch is not missed (the watch starts at the read's revision + 1)", async () => {
    const c = await startCluster();
    const a = await contender(c, 'a', 'gap', 'A');
    const heldA = await a.lock.acquire();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = new LateWatchKv(c.kv('b'), gate);
    const session = await slow.createSession({ ttlMs: 1_000 });
    const acquiring = new KvLock(slow, { name: 'gap', session, owner: 'B' }).acquire({ timeoutMs: 3_000 });
    await c.waitFor(() => slow.watchesAsked === 1, 'B to ask for its watch');
    await heldA.release(); // after B's read, before its watch starts
    release();
    const heldB = await acquiring;
    expect(heldB.fencingToken).toBeGreaterThan(heldA.fencingToken);
    await heldB.release();
  });

  it('a waiter whose session expires while it waits gives up with QueueEntryGoneError', async () => {
    const c = await startCluster();
    const waiterNode = c.follower();
    const holderNode = c.live.find((id) => id !== waiterNode)!;
    const a = await contender(c, holderNode, 'gone', 'A');
    const b = await contender(c, waiterNode, 'gone', 'B', 500);
    const heldA = await a.lock.acquire();
    const acquiring = b.lock.acquire();
    await c.waitFor(() => b.kv.openWatches.length === 1, 'B to wait');
    const keysBefore = await lockKeys(c.kv(holderNode), 'gone');

    c.network.isolate(waiterNode);
    await c.waitFor(() => c.kv(holderNode).machine.view.latest(keysBefore[1]!) === undefined, "B's session to expire on the majority");
    c.network.heal();
    expect(await within(rejection(acquiring), 5_000, 'still waiting')).toBeInstanceOf(QueueEntryGoneError);
    expect(heldA.isHeld).toBe(true);
    await heldA.release();
  });

  it('a holder whose key is deleted by someone else learns it lost the lock', async () => {
    const c = await startCluster();
    const a = await contender(c, 'a', 'admin', 'A');
    const heldA = await a.lock.acquire();
    expect(await a.lock.holder()).toEqual({ key: heldA.key, owner: 'A', fencingToken: heldA.fencingToken });
    await c.kv('b').delete(heldA.key);
    expect(await within(heldA.lost, 5_000, 'never told')).toBe('key-deleted');
    expect(heldA.signal.aborted).toBe(true);
    expect(await a.lock.holder()).toBeUndefined();
    await heldA.release(); // harmless: the key is already gone
  });
});

/** A KvApi whose first watch starts only once `gate` opens, as if the watch request were slow to arrive. */
class LateWatchKv extends CountingKv {
  watchesAsked = 0;

  constructor(
    inner: KvApi,
    private readonly gate: Promise<void>,
  ) {
    super(inner);
  }

  override watch(range: KeyRange, options?: WatchOptions): Watch {
    if (++this.watchesAsked > 1) return super.watch(range, options);
    let started: Watch | undefined;
    let closed = false;
    const start = async (): Promise<Watch> => {
      await this.gate;
      started ??= super.watch(range, options);
      if (closed) started.close();
      return started;
    };
    return {
      get deliveredThrough() {
        return started?.deliveredThrough ?? 0;
      },
      next: async () => (await start()).next(),
      return: async () => {
        closed = true;
        started?.close();
        return { done: true, value: undefined };
      },
      close: () => {
        closed = true;
        started?.close();
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }
}
