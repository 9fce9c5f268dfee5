/**
 * `node.metrics()`: the latency histograms (fixed buckets, counted once per settled
 * call), and what a member knows of its leader and the leader of its members: what
 * `/readyz` and the lag gauges of the KV server are computed from.
 */
import { describe, expect, it } from 'vitest';
import type { ReplicaStatus } from '../../src/core/index.js';
import { LatencyRecorder, type MemberLag, MetricsRecorder, TimeList, coreGauges, latencyBucketsMs } from '../../src/runtime/metrics.js';
import { clusterPerTest } from './local-cluster.js';

describe('LatencyRecorder', () => {
  it('puts each observation in the first bucket whose bound holds it; above the last, in the unbounded one', () => {
    const r = new LatencyRecorder();
    for (const ms of [0, 0.25, 0.3, 7, 10, 10_000, 10_001, -3]) r.observe(ms);
    const h = r.snapshot();
    expect(h.bucketsMs).toBe(latencyBucketsMs);
    expect(h.counts).toHaveLength(latencyBucketsMs.length + 1);
    const at = (boundMs: number) => h.counts[latencyBucketsMs.indexOf(boundMs)];
    expect(at(0.25)).toBe(3); // 0, 0.25 and -3 (a negative difference counts as 0)
    expect(at(0.5)).toBe(1);
    expect(at(10)).toBe(2); // 7 and 10: a bound is inclusive
    expect(at(10_000)).toBe(1);
    expect(h.counts[latencyBucketsMs.length]).toBe(1);
    expect(h.count).toBe(8);
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(h.count);
    expect(h.sumMs).toBeCloseTo(0.25 + 0.3 + 7 + 10 + 10_000 + 10_001, 6);
  });

  it('has ascending bounds', () => {
    for (let i = 1; i < latencyBucketsMs.length; i++) expect(latencyBucketsMs[i]).toBeGreaterThan(latencyBucketsMs[i - 1]!);
  });
});

describe('TimeList', () => {
  it('keeps times past its first capacity, in order, and is empty after a drain', () => {
    const list = new TimeList();
    for (let i = 0; i < 200; i++) list.push(i);
    const seen: number[] = [];
    list.drain((ms) => seen.push(ms));
    expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => i));
    list.drain(() => expect.unreachable('drained already'));
  });
});

describe('MetricsRecorder', () => {
  const persistMs = (r: MetricsRecorder) =>
    r.snapshot({
      ...coreGauges(undefined, 50, 10),
      pending: 0,
      appliedIndex: 0,
      snapshots: { saved: 0, installed: 0, sent: 0, refused: 0, sending: 0 },
      exactlyOnce: { entries: 0, bytes: 0, clients: 0, resultsDropped: 0, clientsEvicted: 0 } as never,
    }).persist.latencyMs;

  it("reports the persist latencies' percentiles over every write until 1,024, then over the last 1,024", () => {
    const r = new MetricsRecorder();
    expect(persistMs(r)).toEqual({ p50: 0, p99: 0, max: 0 });
    for (const ms of [5, 1, 4, 2, 3]) r.persistLatency(ms);
    expect(persistMs(r)).toEqual({ p50: 3, p99: 5, max: 5 });
    // Past its first sizes (it grows as writes come): every one kept up to 1,024.
    for (let ms = 6; ms <= 1_024; ms++) r.persistLatency(ms);
    expect(persistMs(r)).toEqual({ p50: 513, p99: 1_014, max: 1_024 });
    // Then the latest 1,024: 1,977 to 3,000.
    for (let ms = 1_025; ms <= 3_000; ms++) r.persistLatency(ms);
    expect(persistMs(r)).toEqual({ p50: 1_977 + 512, p99: 1_977 + 1_013, max: 3_000 });
  });
});

describe('coreGauges', () => {
  const status = (leader: string | undefined) => ({ role: 'leader', leader, commitIndex: 40 }) as unknown as ReplicaStatus;

  it('turns what a leader knows of its members into lags and milliseconds', () => {
    const core = {
      status: status('a'),
      leaderCommitIndex: 40,
      leaderSilentTicks: 0,
      memberProgress: () => [
        { id: 'b', commitIndex: 38, silentTicks: 2 },
        { id: 'c', commitIndex: undefined, silentTicks: undefined },
        { id: 'd', commitIndex: 45, silentTicks: 0 },
      ],
    };
    const members: MemberLag[] = [
      { id: 'b', commitIndex: 38, lag: 2, silentMs: 100 },
      { id: 'c', commitIndex: 0, lag: 40, silentMs: undefined },
      { id: 'd', commitIndex: 45, lag: 0, silentMs: 0 },
    ];
    expect(coreGauges(core, 50, 10)).toEqual({
      role: 'leader',
      leader: 'a',
      leaderSilentMs: 0,
      leaderLive: true,
      leaderCommitIndex: 40,
      members,
      commitIndex: 40,
    });
  });

  it('calls a leader live only while heard from within electionTicksMin ticks, and none before the start', () => {
    const follower = (leader: string | undefined, silentTicks: number) => ({
      status: status(leader),
      leaderCommitIndex: 40,
      leaderSilentTicks: silentTicks,
      memberProgress: () => [],
    });
    expect(coreGauges(follower('a', 9), 50, 10)).toMatchObject({ leaderLive: true, leaderSilentMs: 450 });
    expect(coreGauges(follower('a', 10), 50, 10)).toMatchObject({ leaderLive: false, leaderSilentMs: 500 });
    expect(coreGauges(follower(undefined, 0), 50, 10).leaderLive).toBe(false);
    expect(coreGauges(undefined, 50, 10)).toEqual({
      role: undefined,
      leader: undefined,
      leaderSilentMs: 0,
      leaderLive: false,
      leaderCommitIndex: 0,
      members: [],
      commitIndex: 0,
    });
  });
});

describe('node.metrics()', () => {
  const clusters = clusterPerTest();

  it('times every settled propose, read, commit, apply and storage write', async () => {
    const c = await clusters.start({ voters: 3 });
    const leader = await c.waitForLeader();
    const node = c.node(leader);
    for (let i = 0; i < 5; i++) await node.propose({ key: 'k', add: 1 });
    await node.read();
    await expect(node.propose({ key: 'k', add: -1 })).rejects.toThrow();
    const m = node.metrics();
    expect(m.latency.propose.count).toBe(m.proposals.succeeded + m.proposals.failed);
    expect(m.latency.propose.count).toBe(6);
    expect(m.latency.commit.count).toBe(6);
    expect(m.latency.read.count).toBe(m.reads.served + m.reads.failed);
    expect(m.latency.persist.count).toBe(m.persist.writes);
    expect(m.latency.apply.count).toBeGreaterThan(0);
    for (const h of Object.values(m.latency)) {
      expect(h.counts.reduce((a, b) => a + b, 0)).toBe(h.count);
      expect(h.sumMs).toBeGreaterThanOrEqual(0);
    }
  });

  it('the leader names itself, reports every other member and how far it lags; a cut-off follower hears its leader go silent', async () => {
    const c = await clusters.start({ voters: 3, observers: 1 });
    const leader = await c.waitForLeader();
    await c.node(leader).propose({ key: 'k', add: 1 });
    const others = c.ids.filter((id) => id !== leader);
    await c.waitFor(() => {
      const m = c.node(leader).metrics();
      return m.members.length === others.length && m.members.every((p) => p.lag === 0 && p.silentMs !== undefined);
    }, 'every member to report the commit index');
    const m = c.node(leader).metrics();
    expect(m.role).toBe('leader');
    expect(m.leader).toBe(leader);
    expect(m.leaderSilentMs).toBe(0);
    expect(m.leaderLive).toBe(true);
    expect(m.leaderCommitIndex).toBe(m.commitIndex);
    expect(m.members.map((p) => p.id).sort()).toEqual([...others].sort());

    const follower = c.voters.find((id) => id !== leader)!;
    await c.waitFor(() => c.node(follower).metrics().lag === 0, 'the follower to apply');
    const f = c.node(follower).metrics();
    expect(f.role).toBe('follower');
    expect(f.leader).toBe(leader);
    expect(f.members).toEqual([]);
    expect(f.leaderSilentMs).toBeLessThan(200);
    expect(f.leaderLive).toBe(true);

    c.network.isolate(follower);
    for (let i = 0; i < 3; i++) await c.node(leader).propose({ key: 'k', add: 1 });
    // Election timeouts are 20 to 40 ticks of 10 ms: past 400 ms, the follower has heard nothing for longer than any of them.
    await c.waitFor(() => c.node(follower).metrics().leaderSilentMs >= 400, 'the cut-off follower to notice the silence');
    await c.waitFor(
      () =>
        (c
          .node(leader)
          .metrics()
          .members.find((p) => p.id === follower)?.lag ?? 0) >= 3,
      'the leader to see the follower lag',
    );
    expect(c.node(follower).metrics().role).toBe('follower');
    // It still names its last leader, which it no longer counts live.
    expect(c.node(follower).metrics().leader).toBe(leader);
    expect(c.node(follower).metrics().leaderLive).toBe(false);
  });
});
