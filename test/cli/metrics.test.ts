/**
 * `synod serve`'s HTTP endpoint with real processes: a three-member cluster from
 * `writeLocalCluster` (which gives each member a `metrics` address), scraped with
 * `fetch` and read with a Prometheus text parser. The commit index advances with
 * writes, one member says it leads, a client that fails its handshake is counted, every
 * member is ready; a member whose two peers are stopped says why it is not; `/healthz`
 * answers throughout; anything but GET or HEAD on the three paths is refused.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ServerProcesses, exit, until } from './cli-processes.js';
import { type ClusterConfig, readClusterConfig } from '../../src/cli/cluster-config.js';
import { freePort, writeLocalCluster } from '../../src/cli/cluster-up.js';
import { KvClient } from '../../src/kv/client/index.js';
import { parseExposition, sampleValue } from '../prometheus/exposition.js';

const processes = new ServerProcesses();
const serve = (configPath: string, id: string, extra: readonly string[] = []) => processes.serve(configPath, id, extra);
let dir: string | undefined;

afterAll(async () => {
  await processes.killAll();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}, 30_000);

/** `fetch` with a deadline: a request that hangs fails the wait around it instead of the whole test. */
const get = (url: string, init: RequestInit = {}): Promise<Response> => fetch(url, { ...init, signal: AbortSignal.timeout(5_000) });

const urlOf = (config: ClusterConfig, id: string, path: string): string => {
  const m = config.members[id]!.metrics!;
  return `http://${m.host}:${m.port}${path}`;
};

async function scrape(config: ClusterConfig, id: string): Promise<ReturnType<typeof parseExposition>> {
  const response = await get(urlOf(config, id, '/metrics'));
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await response.text());
}

it('scrapes /metrics, /healthz and /readyz of a real cluster; a member cut off from the others is not ready, and says why', async () => {
  dir = await mkdtemp(join(tmpdir(), 'synod-metrics-'));
  const configPath = await writeLocalCluster(dir, 3);
  const config = await readClusterConfig(configPath);
  const ids = Object.keys(config.members);
  for (const id of ids) expect(config.members[id]!.metrics, `${id}'s metrics address`).toBeDefined();
  const servers = new Map(ids.map((id) => [id, serve(configPath, id)]));
  const kv = new KvClient({
    endpoints: ids.map((id) => config.members[id]!.client),
    clusterId: config.clusterId,
    secret: config.clientSecret!,
    requestTimeoutMs: 5_000,
  });
  try {
    for (const id of ids) {
      await until(`${id}'s /healthz`, 60_000, async () => (await get(urlOf(config, id, '/healthz'))).status === 200).catch((error: unknown) => {
        throw new Error(`${String(error)}: the server ${processes.describe(servers.get(id)!)}`);
      });
    }
    await until('a leader', 30_000, async () => (await kv.status({ timeoutMs: 1_000 })).leader !== undefined);
    await until('every member ready', 30_000, async () =>
      (await Promise.all(ids.map(async (id) => (await get(urlOf(config, id, '/readyz'))).status))).every((s) => s === 200),
    );
    const leader = (await kv.status()).leader!;

    // The commit index advances with writes; the role gauge names one leader in the cluster.
    const before = sampleValue(await scrape(config, leader), 'synod_commit_index');
    for (let i = 0; i < 10; i++) await kv.put(`k${i}`, `v${i}`);
    const after = await scrape(config, leader);
    expect(after.get('synod_commit_index')?.type).toBe('GAUGE');
    expect(sampleValue(after, 'synod_commit_index')).toBeGreaterThanOrEqual(before + 10);
    expect(sampleValue(after, 'synod_kv_revision')).toBe(10);
    expect(after.get('synod_propose_duration_seconds')?.type).toBe('HISTOGRAM');
    expect(after.get('synod_storage_write_duration_seconds')?.type).toBe('HISTOGRAM');
    expect(after.get('synod_elections_total')?.type).toBe('COUNTER');
    // The process's own: CPU, GC pauses, event-loop delay (Node.js's usual names).
    expect(after.get('process_cpu_seconds_total')?.type).toBe('COUNTER');
    expect(after.get('nodejs_gc_duration_seconds')?.type).toBe('HISTOGRAM');
    expect(after.get('nodejs_eventloop_lag_p99_seconds')?.type).toBe('GAUGE');
    expect(sampleValue(after, 'nodejs_eventloop_lag_max_seconds')).toBeGreaterThan(0);
    for (const peer of ids.filter((id) => id !== leader)) {
      expect(sampleValue(after, 'synod_peer_frames_sent_total', { peer })).toBeGreaterThan(0);
      expect(sampleValue(after, 'synod_member_lag_slots', { member: peer })).toBeGreaterThanOrEqual(0);
    }
    let leaders = 0;
    for (const id of ids) leaders += sampleValue(await scrape(config, id), 'synod_role', { role: 'leader' });
    expect(leaders).toBe(1);

    // A client that speaks garbage to the client port is refused in its handshake, and counted.
    const victim = ids.find((id) => id !== leader)!;
    const refused = () => scrape(config, victim).then((f) => sampleValue(f, 'synod_connections_refused_total', { port: 'client', reason: 'handshake' }));
    const refusedBefore = await refused();
    await new Promise<void>((done) => {
      const socket = connect(config.members[victim]!.client.port, config.members[victim]!.client.host, () =>
        socket.write(Buffer.from('GET / HTTP/1.1\r\n\r\n')),
      );
      socket.resume(); // read what the server says (a challenge, then the refusal), so its close is seen
      socket.on('close', () => done());
      socket.on('error', () => undefined);
    });
    expect(await refused()).toBe(refusedBefore + 1);

    // Only GET and HEAD, only the three paths, no body.
    expect((await get(urlOf(config, leader, '/nowhere'))).status).toBe(404);
    const post = await get(urlOf(config, leader, '/metrics'), { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await get(urlOf(config, leader, '/metrics'), { method: 'PUT', body: 'x' })).status).toBe(400);
    const head = await get(urlOf(config, leader, '/metrics'), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect(await (await get(urlOf(config, leader, '/readyz'))).text()).toBe('ready\n');

    // Cut the victim off: its two peers stop. It still names its last leader, hears
    // nothing from it, and says so; /healthz still answers.
    for (const id of ids.filter((id) => id !== victim)) await exit(servers.get(id)!, 'SIGTERM');
    await until(`${victim}'s /readyz to fail`, 30_000, async () => (await get(urlOf(config, victim, '/readyz'))).status === 503);
    const why = await (await get(urlOf(config, victim, '/readyz'))).text();
    expect(why).toMatch(/^not ready: no leader/);
    expect(why.trim().split('\n')).toHaveLength(1);
    expect((await get(urlOf(config, victim, '/healthz'))).status).toBe(200);
    expect(sampleValue(await scrape(config, victim), 'synod_has_leader')).toBe(0);

    // --metrics puts the endpoint where the command line says, over the cluster file.
    const other = ids.find((id) => id !== victim)!;
    const port = await freePort();
    serve(configPath, other, ['--metrics', `127.0.0.1:${port}`]);
    await until(`${other}'s --metrics address`, 30_000, async () => (await get(`http://127.0.0.1:${port}/healthz`)).status === 200);
    await until(
      `${victim} and ${other} to elect a leader and be ready`,
      30_000,
      async () => (await get(`http://127.0.0.1:${port}/readyz`)).status === 200 && (await get(urlOf(config, victim, '/readyz'))).status === 200,
    );
  } finally {
    await kv.close();
  }
}, 150_000);
