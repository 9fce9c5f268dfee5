/**
 * registerNodeMetrics in a user's own prom-client Registry: the text it serves parses
 * as Prometheus reads it, and its values are node.metrics()'s at the scrape.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerNodeMetrics } from '../../src/prometheus/index.js';
import { latencyBucketsMs } from '../../src/runtime/metrics.js';
import { clusterPerTest } from '../runtime/local-cluster.js';
import { histogramBounds, histogramCount, parseExposition, sampleValue } from './exposition.js';

const clusters = clusterPerTest();

describe('registerNodeMetrics', () => {
  it('serves every family of node.metrics() with its type, read at the scrape', async () => {
    const c = await clusters.start({ voters: 3 });
    const leader = await c.waitForLeader();
    const node = c.node(leader);
    const registry = new Registry();
    // What each scrape read: the figures are compared with it, so that an election on a
    // loaded machine between the proposals and the scrape changes the expected values
    // with the served ones.
    let read: ReturnType<typeof node.metrics> | undefined;
    registerNodeMetrics(registry, {
      metrics: () => {
        read = node.metrics();
        return read;
      },
    });
    const before = parseExposition(await registry.metrics());
    for (let i = 0; i < 4; i++) await node.propose({ key: 'k', add: 1 });
    await node.read();
    const text = await registry.metrics();
    const families = parseExposition(text);
    const m = read!;

    expect(families.get('synod_commit_index')?.type).toBe('GAUGE');
    expect(sampleValue(families, 'synod_commit_index')).toBe(m.commitIndex);
    expect(sampleValue(families, 'synod_commit_index')).toBeGreaterThan(sampleValue(before, 'synod_commit_index'));
    expect(m.role).toBeDefined();
    expect(sampleValue(families, 'synod_role', { role: m.role! })).toBe(1);
    for (const role of ['leader', 'follower', 'candidate', 'observer', 'removed'].filter((r) => r !== m.role))
      expect(sampleValue(families, 'synod_role', { role })).toBe(0);
    expect(sampleValue(families, 'synod_has_leader')).toBe(m.leaderLive ? 1 : 0);
    expect(families.get('synod_proposals_succeeded_total')?.type).toBe('COUNTER');
    expect(sampleValue(families, 'synod_proposals_succeeded_total')).toBe(4);
    expect(sampleValue(families, 'synod_elections_won_total')).toBe(m.elections.won);
    expect(m.elections.won).toBeGreaterThanOrEqual(1);
    expect(sampleValue(families, 'synod_exactly_once_results_dropped_total', { bound: 'total' })).toBe(0);
    // A leader lists the other members, labelled.
    const lags = families.get('synod_member_lag_slots')?.metrics ?? [];
    expect(lags.map((s) => s.labels?.['member']).sort()).toEqual(m.members.map((p) => p.id).sort());
    if (m.role === 'leader') expect(m.members.map((p) => p.id).sort()).toEqual(c.ids.filter((id) => id !== leader).sort());

    // Histograms: seconds, the runtime's fixed buckets, counts as the node's.
    expect(histogramCount(families, 'synod_propose_duration_seconds')).toBe(m.latency.propose.count);
    expect(histogramCount(families, 'synod_propose_duration_seconds')).toBe(4);
    expect(histogramCount(families, 'synod_read_duration_seconds')).toBe(1);
    expect(histogramCount(families, 'synod_storage_write_duration_seconds')).toBe(m.latency.persist.count);
    expect(histogramBounds(families, 'synod_commit_duration_seconds')).toEqual([...latencyBucketsMs.map((ms) => String(ms / 1000)), '+Inf']);
    expect(text).toContain('synod_apply_duration_seconds_bucket{le="0.00025"}');
    expect(text).toContain('# TYPE synod_apply_duration_seconds histogram');
  });

  it('calls node.metrics() once per scrape, however many families read it', async () => {
    const c = await clusters.start({ voters: 1 });
    const node = c.node(await c.waitForLeader());
    let calls = 0;
    const registry = new Registry();
    registerNodeMetrics(registry, {
      metrics: () => {
        calls++;
        return node.metrics();
      },
    });
    await registry.metrics();
    expect(calls).toBe(1);
    await registry.getMetricsAsJSON();
    expect(calls).toBe(2);
  });

  it('adds the labels given to every series, takes a prefix, refuses to register a name twice, and unregisters', async () => {
    const c = await clusters.start({ voters: 1 });
    const node = c.node(await c.waitForLeader());
    const registry = new Registry();
    const registered = registerNodeMetrics(registry, node, { labels: { node: 'n1' } });
    expect(() => registerNodeMetrics(registry, node)).toThrow(/has a metric named synod_propose_duration_seconds already/);
    // The failed registration took nothing out and left nothing half in.
    registerNodeMetrics(registry, node, { prefix: 'other_' }).unregister();
    const text = await registry.metrics();
    expect(text).toContain('synod_commit_index{node="n1"}');
    expect(text).toContain('synod_role{node="n1",role="leader"} 1');
    expect(text).toMatch(/synod_propose_duration_seconds_count\{node="n1"\} 0/);
    expect(text).not.toContain('other_');
    registered.unregister();
    expect(await registry.metrics()).toBe('\n');
    expect(() => registerNodeMetrics(registry, node, { prefix: 'bad-' })).toThrow(/not a metric name/);
    expect(() => registerNodeMetrics(registry, node, { labels: { member: 'n1' } })).toThrow(/the label member is synod_member_commit_index's own/);
    expect(await registry.metrics()).toBe('\n');
  });
});
