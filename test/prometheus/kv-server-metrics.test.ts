/**
 * registerKvServerMetrics in a user's own prom-client Registry: a real two-member KV
 * server cluster, its node's, transport's, clients' and store's families, parsed as
 * Prometheus reads them; and a server not started yet shows its client families only.
 */
import { randomBytes } from 'node:crypto';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { KvServer } from '../../src/kv/server/index.js';
import { registerKvServerMetrics, registerTcpTransportMetrics } from '../../src/prometheus/index.js';
import { TcpTransport } from '../../src/transport/tcp/index.js';
import { ServerCluster } from '../kv/server/cluster.js';
import { RawClient } from '../kv/server/raw-client.js';
import { parseExposition, sampleValue } from './exposition.js';

let cluster: ServerCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

async function until(condition: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('registerKvServerMetrics', () => {
  it("serves the node's, the transport's (per peer), the clients' and the store's families", async () => {
    const c = (cluster = await ServerCluster.start(['a', 'b']));
    const registry = new Registry();
    registerKvServerMetrics(registry, c.server('a'));
    const scrape = async () => parseExposition(await registry.metrics());
    const kv = c.client({ only: ['a'] });
    for (let i = 0; i < 3; i++) await kv.put(`k${i}`, 'v'.repeat(10));
    await until(async () => sampleValue(await scrape(), 'synod_kv_revision') === 3, 'revision 3 on a');

    const f = await scrape();
    expect(sampleValue(f, 'synod_kv_keys')).toBe(3);
    expect(sampleValue(f, 'synod_kv_value_bytes')).toBe(30);
    expect(sampleValue(f, 'synod_kv_sessions')).toBe(0);
    expect(f.get('synod_kv_revision')?.type).toBe('GAUGE');
    expect(sampleValue(f, 'synod_kv_client_connections')).toBeGreaterThanOrEqual(1);
    expect(sampleValue(f, 'synod_commit_index')).toBeGreaterThanOrEqual(3);
    expect(sampleValue(f, 'synod_peer_frames_sent_total', { peer: 'b' })).toBeGreaterThan(0);
    expect(sampleValue(f, 'synod_peer_bytes_received_total', { peer: 'b' })).toBeGreaterThan(0);
    expect(f.get('synod_peer_bytes_received_total')?.type).toBe('COUNTER');
    expect(f.get('synod_propose_duration_seconds')?.type).toBe('HISTOGRAM');
    expect(sampleValue(f, 'synod_connections_refused_total', { port: 'client', reason: 'handshake' })).toBe(0);
    expect(sampleValue(f, 'synod_connections_refused_total', { port: 'peer', reason: 'load' })).toBe(0);

    // A client with the wrong secret: refused in its handshake, and counted.
    const raw = await RawClient.connect(c.port('a'));
    expect(await raw.handshake({ secret: randomBytes(32) })).toEqual({ result: 'refused', reason: 'authentication failed' });
    raw.close();
    expect(sampleValue(await scrape(), 'synod_connections_refused_total', { port: 'client', reason: 'handshake' })).toBe(1);
    expect(sampleValue(f, 'synod_kv_permission_denied_total')).toBe(0);
    expect(sampleValue(f, 'synod_kv_quota_refusals_total', { quota: 'sessionsMax' })).toBe(0);
    expect(sampleValue(f, 'synod_kv_quota_refusals_total', { quota: 'requestBytesInFlightMax' })).toBe(0);
  });

  it('before the server starts: its client families only, no node or store series', async () => {
    const server = new KvServer({
      id: 'a',
      clusterId: 'x',
      members: { a: { peer: { host: '127.0.0.1', port: 1 }, client: { host: '127.0.0.1', port: 2 } } },
      dataDir: '/nonexistent',
      secret: randomBytes(32),
      clientSecret: randomBytes(32),
    });
    const registry = new Registry();
    registerKvServerMetrics(registry, server);
    const f = parseExposition(await registry.metrics());
    expect(sampleValue(f, 'synod_kv_client_connections')).toBe(0);
    expect(f.get('synod_commit_index')?.metrics ?? []).toEqual([]);
    expect(f.get('synod_kv_revision')?.metrics ?? []).toEqual([]);
    expect(f.get('synod_propose_duration_seconds')?.metrics ?? []).toEqual([]);
  });
});

describe('registerTcpTransportMetrics', () => {
  it("serves a transport's counts, per peer, with the peer half of connections_refused_total", async () => {
    const transport = new TcpTransport({
      id: 'a',
      clusterId: 'x',
      listen: { host: '127.0.0.1', port: 0 },
      peers: { b: { host: '127.0.0.1', port: 9 } },
      secret: randomBytes(32),
    });
    const registry = new Registry();
    registerTcpTransportMetrics(registry, transport);
    const f = parseExposition(await registry.metrics());
    expect(sampleValue(f, 'synod_peer_frames_sent_total', { peer: 'b' })).toBe(0);
    expect(sampleValue(f, 'synod_connections_refused_total', { port: 'peer', reason: 'load' })).toBe(0);
    expect(f.get('synod_connections_refused_total')!.metrics).toHaveLength(1);
    expect(sampleValue(f, 'synod_transport_messages_dropped_total')).toBe(0);
  });
});
