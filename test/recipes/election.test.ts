/**
 * The election recipe (src/recipes/election.ts) on a three-node in-process KV
 * cluster: one leader at a time, observers that agree on the succession, failover when
 * the leader's session expires, and a campaign that gives up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type NodeId, TimeoutError } from '../../src/index.js';
import type { KvSession } from '../../src/kv/index.js';
import { type Leader, type Leadership, KvElection, type LeaderObserver } from '../../src/recipes/index.js';
import { InProcessKvCluster } from '../../examples/kv-recipes/in-process-cluster.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let cluster: InProcessKvCluster | undefined;
const observers: LeaderObserver[] = [];

afterEach(async () => {
  for (const observer of observers.splice(0)) observer.close();
  await cluster?.close();
  cluster = undefined;
});

async function startCluster(): Promise<InProcessKvCluster> {
  cluster = await InProcessKvCluster.start();
  return cluster;
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

interface Service {
  readonly node: NodeId;
  readonly name: string;
  readonly session: KvSession;
  readonly election: KvElection;
}

async function service(c: InProcessKvCluster, node: NodeId, name: string, ttlMs = 1_000): Promise<Service> {
  const kv = c.kv(node);
  return { node, name, session: await kv.createSession({ ttlMs }), election: new KvElection(kv, { name: 'svc' }) };
}

/** An observer on `node` that records every leader it reports. */
async function observe(c: InProcessKvCluster, node: NodeId): Promise<(Leader | undefined)[]> {
  const seen: (Leader | undefined)[] = [];
  observers.push(await new KvElection(c.kv(node), { name: 'svc' }).observe((leader) => seen.push(leader)));
  return seen;
}

describe('KvElection', () => {
  it('one leader at a time: services campaign and resign in turn; observers on every node report the same succession', async () => {
    const c = await startCluster();
    const seenBy = await Promise.all(c.ids.map((id) => observe(c, id)));
    const services = await Promise.all(c.ids.map((id) => service(c, id, `svc-${id}`)));
    const rounds = 3;
    let leading = 0;
    let overlaps = 0;
    const reigns: Leader[] = [];
    await Promise.all(
      services.map(async (s) => {
        for (let round = 0; round < rounds; round++) {
          const leadership = await s.election.campaign(s.session, s.name, { timeoutMs: 10_000 });
          if (++leading > 1) overlaps++;
          reigns.push(leadership.leader);
          expect(await s.election.leader(), 'the KV names this service the leader').toEqual(leadership.leader);
          await sleep(10);
          leading--;
          await leadership.resign();
        }
      }),
    );

    expect(overlaps).toBe(0);
    expect(reigns).toHaveLength(rounds * services.length);
    const terms = reigns.map((l) => l.term);
    expect(
      terms.every((t, i) => i === 0 || t > terms[i - 1]!),
      `terms ${terms.join(' ')}`,
    ).toBe(true);
    await Promise.all(seenBy.map((seen) => c.waitFor(() => seen.length > 0 && seen[seen.length - 1] === undefined, 'observers to see no leader')));
    for (const [i, seen] of seenBy.entries()) {
      expect(seen[0], `observer ${c.ids[i]} starts with no leader`).toBeUndefined();
      expect(
        seen.filter((l) => l !== undefined),
        `observer ${c.ids[i]}`,
      ).toEqual(reigns);
    }
  });

  it("failover: when the leader's session expires the next candidate leads, with a higher term; the old leader believes it leads until it hears from the cluster", async () => {
    const c = await startCluster();
    const leaderNode = c.follower();
    const others = c.live.filter((id) => id !== leaderNode);
    const seen = await observe(c, others[0]!);
    const incumbent = await service(c, leaderNode, 'first', 500);
    const leadership = await incumbent.election.campaign(incumbent.session, incumbent.name);
    const successors = await Promise.all(others.map((id) => service(c, id, `next-${id}`)));
    const campaigns = successors.map((s) => s.election.campaign(s.session, s.name, { timeoutMs: 5_000 }));
    await sleep(100);
    expect(await within(Promise.race(campaigns), 100, 'nobody else leads')).toBe('nobody else leads');

    c.network.isolate(leaderNode);
    const next: Leadership = await Promise.race(campaigns);
    expect(next.leader.term).toBeGreaterThan(leadership.leader.term);
    expect(leadership.isLeader, 'cut off, it cannot know yet').toBe(true);
    await c.waitFor(() => seen[seen.length - 1]?.key === next.leader.key, 'the observer to see the successor');
    expect(seen.filter((l) => l !== undefined).map((l) => l.value)).toEqual(['first', next.leader.value]);

    c.network.heal();
    expect(await within(leadership.lost, 5_000, 'never told')).toMatch(/^(key-deleted|session-expired)$/);
    expect(leadership.signal.aborted).toBe(true);
    await next.resign();
    const last = await Promise.all(campaigns).then((all) => all.find((l) => l !== next)!);
    expect(last.leader.term).toBeGreaterThan(next.leader.term);
    await last.resign();
  });

  it('a campaign that times out withdraws its candidacy; resigning hands over to the next in line', async () => {
    const c = await startCluster();
    const [a, b, d] = await Promise.all(c.ids.map((id) => service(c, id, `svc-${id}`)));
    const first = await a!.election.campaign(a!.session, 'a');
    expect(await b!.election.campaign(b!.session, 'b', { timeoutMs: 150 }).catch((e: unknown) => e)).toBeInstanceOf(TimeoutError);
    expect(
      (await c.kv('a').range({ prefix: 'svc/candidate-' })).kvs.map((kv) => kv.key),
      'only the leader is left',
    ).toEqual([first.leader.key]);
    const campaign = d!.election.campaign(d!.session, 'd', { timeoutMs: 5_000 });
    await first.resign();
    const second = await campaign;
    expect(await a!.election.leader()).toEqual(second.leader);
    expect(second.leader.value).toBe('d');
    await second.resign();
    expect(await a!.election.leader()).toBeUndefined();
  });
});
