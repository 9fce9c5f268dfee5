/**
 * etcd as a system under test: three `etcd` processes (Debian's etcd-server) on
 * 127.0.0.1 with their default durability (the WAL fsynced on every commit); a CAS is a
 * transaction comparing the key's mod_revision, a get etcd's default linearizable range
 * read.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { freePort } from '../../src/cli/cluster-up.js';
import { logTail, startServer } from './processes.js';
import { type Adapter, type Held, inLanes, type RunningCluster, type System } from './system.js';
import { waitUntil } from './wait-until.js';

/** The etcd binary: `$ETCD_BIN`, or `etcd` on the PATH. */
const etcdBin = process.env['ETCD_BIN'] ?? 'etcd';

async function start(dir: string, count = 3): Promise<RunningCluster> {
  const members = await Promise.all(
    Array.from({ length: count }, (_, i) => i).map(async (i) => ({ name: `e${i}`, client: await freePort(), peer: await freePort() })),
  );
  const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  const servers = [];
  for (const m of members) {
    const dataDir = join(dir, m.name);
    await mkdir(dataDir, { recursive: true });
    servers.push(
      await startServer(
        m.name,
        etcdBin,
        [
          '--name',
          m.name,
          '--data-dir',
          dataDir,
          '--listen-client-urls',
          `http://127.0.0.1:${m.client}`,
          '--advertise-client-urls',
          `http://127.0.0.1:${m.client}`,
          '--listen-peer-urls',
          `http://127.0.0.1:${m.peer}`,
          '--initial-advertise-peer-urls',
          `http://127.0.0.1:${m.peer}`,
          '--initial-cluster',
          initialCluster,
          '--initial-cluster-token',
          `compare-${process.pid}`,
          '--initial-cluster-state',
          'new',
        ],
        join(dir, `${m.name}.log`),
      ),
    );
  }
  const endpoints = members.map((m) => `127.0.0.1:${m.client}`);
  // /health answers true once the member sees a leader and can serve a quorum read.
  for (const [i, endpoint] of endpoints.entries()) {
    await waitUntil(`etcd member e${i} at ${endpoint} to be healthy (log: ${join(dir, `e${i}.log`)})`, 60_000, async () => {
      const body = (await (await fetch(`http://${endpoint}/health`, { signal: AbortSignal.timeout(5_000) })).json()) as { health?: unknown };
      if (body.health !== 'true') throw new Error(`health ${JSON.stringify(body)}`);
    }).catch(async (error: unknown) => {
      throw new Error(`${(error as Error).message}\n${await logTail(join(dir, `e${i}.log`))}`);
    });
  }
  return { system: 'etcd', dir, endpoints, dataDirs: members.map((m) => join(dir, m.name)), servers };
}

async function connect(cluster: RunningCluster, index: number): Promise<Adapter> {
  const endpoint = cluster.endpoints[index % cluster.endpoints.length]!;
  const client = new Etcd3({ hosts: `http://${endpoint}` });
  return {
    async cas(key, version, value) {
      const result = await client
        .if(key, 'Mod', '==', version)
        .then(client.put(key).value(Buffer.from(value)))
        .else(client.get(key))
        .commit();
      if (result.succeeded) return { version: Number(result.header.revision) };
      const current = result.responses[0]?.response_range?.kvs[0];
      return { conflict: current === undefined ? 0 : Number(current.mod_revision) };
    },
    async create(key, value) {
      const result = await client
        .if(key, 'Create', '==', 0)
        .then(client.put(key).value(Buffer.from(value)))
        .commit();
      if (!result.succeeded) throw new Error(`etcd: ${key} exists already`);
    },
    async createMany(keys, value) {
      const bytes = Buffer.from(value);
      await client.kv.txn({ compare: [], success: keys.map((key) => ({ request_put: { key: Buffer.from(key), value: bytes } })), failure: [] });
    },
    async get(key) {
      // A range request is linearizable unless it asks to be serializable.
      const found = (await client.get(key).exec()).kvs[0];
      return found === undefined ? undefined : { value: found.value, version: Number(found.mod_revision) };
    },
    async close() {
      client.close();
    },
  };
}

async function compact(cluster: RunningCluster): Promise<void> {
  const client = new Etcd3({ hosts: cluster.endpoints.map((e) => `http://${e}`) });
  try {
    const revision = (await client.get('compare/compact').exec()).header.revision;
    await client.kv.compact({ revision, physical: true }).catch((error: unknown) => {
      // Nothing written since the last compaction: that revision is compacted already.
      if (!(error instanceof Error && /compacted/.test(error.message))) throw error;
    });
  } finally {
    client.close();
  }
}

async function holdSessions(cluster: RunningCluster, count: number): Promise<Held> {
  const clients = Array.from({ length: 16 }, (_, i) => new Etcd3({ hosts: `http://${cluster.endpoints[i % cluster.endpoints.length]}` }));
  await inLanes(count, 256, async (i) => void (await clients[i % clients.length]!.leaseClient.leaseGrant({ TTL: 3_600 })));
  return { close: async () => clients.forEach((c) => c.close()) };
}

/** Watches per client: etcd3 sets a client's watchers up one at a time over its one watch stream. */
const watchesPerClient = 2_000;

async function holdWatches(cluster: RunningCluster, count: number): Promise<Held> {
  const clients = Array.from(
    { length: Math.ceil(count / watchesPerClient) },
    (_, i) => new Etcd3({ hosts: `http://${cluster.endpoints[i % cluster.endpoints.length]}` }),
  );
  const watchers: { cancel(): Promise<void> }[] = [];
  await inLanes(count, 1_024, async (i) => void watchers.push(await clients[Math.floor(i / watchesPerClient)]!.watch().key(`w${i}`).create()));
  return {
    close: async () => {
      await Promise.all(watchers.map((w) => w.cancel().catch(() => undefined)));
      for (const c of clients) c.close();
    },
  };
}

/** A linearizable read through member `index` alone (etcd forwards it to its leader for the read index). */
async function ready(cluster: RunningCluster, index: number, timeoutMs: number): Promise<void> {
  const endpoint = cluster.endpoints[index]!;
  await waitUntil(`etcd member ${index} at ${endpoint} to serve a linearizable read`, timeoutMs, async () => {
    const client = new Etcd3({ hosts: `http://${endpoint}`, dialTimeout: 1_000 });
    try {
      await client.get('compare/ready').exec();
    } finally {
      client.close();
    }
  });
}

/** etcd, as three (or more) local processes. */
export const etcd: System = { name: 'etcd', start, ready, connect, holdSessions, holdWatches, compact };
