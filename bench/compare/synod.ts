/**
 * synod as a system under test: three `synod serve` processes on 127.0.0.1, run by Node
 * itself with tsx's loader (as the CLI tests and the membership benchmark run them),
 * FileStorage with its default durability (fsync before every promise and accept); a
 * CAS is a put with `expectedVersion`, a get the KvClient's default linearizable read.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ClusterConfig, readClusterConfig } from '../../src/cli/cluster-config.js';
import { writeLocalCluster } from '../../src/cli/cluster-up.js';
import { KvClient } from '../../src/kv/client/index.js';
import { CompactedError, VersionConflictError } from '../../src/kv/errors.js';
import { logTail, startServer } from './processes.js';
import { type Adapter, type Held, inLanes, type RunningCluster, type System } from './system.js';
import type { KvSession } from '../../src/kv/kv-session.js';
import type { Watch } from '../../src/kv/kv-api.js';
import { waitUntil } from './wait-until.js';

const repository = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
/** Node flags for every server, from `SYNOD_BENCH_NODE_ARGS` (`--cpu-prof --cpu-prof-dir=DIR` profiles them). */
export const nodeArgs = (process.env['SYNOD_BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean);

/**
 * How a server is run: from the sources with tsx's loader (the default), or with
 * `SYNOD_BENCH_BUILT=1` from the build, `dist/cli/synod.js`, as the package's `synod`
 * command runs (run `npm run build` first): its start skips compiling TypeScript, about
 * 2 s of a restart here.
 */
export const serverCommand: readonly string[] =
  process.env['SYNOD_BENCH_BUILT'] === '1'
    ? (() => {
        const built = join(repository, 'dist', 'cli', 'synod.js');
        if (!existsSync(built)) throw new Error(`SYNOD_BENCH_BUILT=1 but ${built} is missing: run npm run build first`);
        return [built];
      })()
    : ['--import', 'tsx', join(repository, 'src', 'cli', 'synod.ts')];
/** How long a client waits for an answer, in ms. */
const requestTimeoutMs = 10_000;

function client(config: ClusterConfig, index: number): KvClient {
  const endpoints = Object.values(config.members).map((m) => m.client);
  // The first endpoint is this client's member; the others are where it goes if that one fails.
  const first = index % endpoints.length;
  return new KvClient({
    endpoints: [...endpoints.slice(first), ...endpoints.slice(0, first)],
    clusterId: config.clusterId,
    secret: config.clientSecret!,
    requestTimeoutMs,
  });
}

async function start(dir: string, count = 3): Promise<RunningCluster> {
  const configPath = await writeLocalCluster(dir, count);
  const config = await readClusterConfig(configPath);
  const servers = [];
  for (const id of Object.keys(config.members)) {
    servers.push(
      await startServer(id, process.execPath, [...nodeArgs, ...serverCommand, 'serve', '--config', configPath, '--id', id], join(dir, `${id}.log`), repository),
    );
  }
  const endpoints = Object.values(config.members).map((m) => `${m.client.host}:${m.client.port}`);
  for (const [i, id] of Object.keys(config.members).entries()) {
    const probe = client(config, i);
    try {
      // A linearizable read through each member: it serves and there is a leader.
      await waitUntil(`synod member ${id} to serve`, 60_000, () => probe.get('ready'));
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${await logTail(join(dir, `${id}.log`))}`);
    } finally {
      await probe.close();
    }
  }
  const dataDirs = Object.values(config.members).map((m) => resolve(dir, m.dataDir));
  return { system: 'synod', dir, endpoints, dataDirs, servers, extra: { configPath } };
}

async function connect(cluster: RunningCluster, index: number): Promise<Adapter> {
  const configPath = cluster.extra?.['configPath'];
  if (configPath === undefined) throw new Error(`synod cluster in ${cluster.dir} has no configPath`);
  const kv = client(await readClusterConfig(configPath), index);
  return {
    async cas(key, version, value) {
      try {
        return { version: (await kv.put(key, value, { expectedVersion: version })).version };
      } catch (error) {
        if (error instanceof VersionConflictError) return { conflict: error.currentVersion };
        throw error;
      }
    },
    async create(key, value) {
      await kv.put(key, value, { expectedVersion: 0 });
    },
    async createMany(keys, value) {
      await kv.txn({ compare: [], success: keys.map((key) => ({ op: 'put' as const, key, value })) });
    },
    async get(key) {
      const found = await kv.get(key);
      return found === undefined ? undefined : { value: found.value, version: found.version };
    },
    close: () => kv.close(),
  };
}

async function compact(cluster: RunningCluster): Promise<void> {
  const kv = client(await readClusterConfig(cluster.extra!['configPath']!), 0);
  try {
    const { revision } = await kv.range({ key: 'compare/compact' });
    await kv.compact(revision).catch((error: unknown) => {
      // Nothing written since the last compaction: that revision is compacted already.
      if (!(error instanceof CompactedError)) throw error;
    });
  } finally {
    await kv.close();
  }
}

const sessionTtlMs = 3_600_000;

async function holdSessions(cluster: RunningCluster, count: number): Promise<Held> {
  const config = await readClusterConfig(cluster.extra!['configPath']!);
  const clients = Array.from({ length: 16 }, (_, i) => client(config, i));
  const sessions: KvSession[] = [];
  await inLanes(count, 256, async (i) => {
    sessions.push(await clients[i % clients.length]!.createSession({ ttlMs: sessionTtlMs }));
  });
  return { close: async () => void (await Promise.all(clients.map((c) => c.close()))) };
}

/** A server keeps at most 256 watches per connection (its `watchesMax`): 250 per client. */
const watchesPerClient = 250;

async function holdWatches(cluster: RunningCluster, count: number): Promise<Held> {
  const config = await readClusterConfig(cluster.extra!['configPath']!);
  const clients = Array.from({ length: Math.ceil(count / watchesPerClient) }, (_, i) => client(config, i));
  const watches: Watch[] = [];
  try {
    const { revision } = await clients[0]!.range({ key: 'compare/watch' });
    for (const [c, kv] of clients.entries()) {
      for (let i = c * watchesPerClient; i < Math.min(count, (c + 1) * watchesPerClient); i++)
        watches.push(kv.watch({ key: `w${i}` }, { fromRevision: revision + 1 }));
    }
    // A request behind the watches on each connection: the server has taken them when it answers.
    await inLanes(clients.length, 64, async (c) => void (await clients[c]!.get('compare/watch')));
  } catch (error) {
    await Promise.all(clients.map((c) => c.close()));
    throw error;
  }
  return {
    close: async () => {
      for (const w of watches) w.close();
      await Promise.all(clients.map((c) => c.close()));
    },
  };
}

/** A linearizable read through member `index` alone. */
async function ready(cluster: RunningCluster, index: number, timeoutMs: number): Promise<void> {
  const config = await readClusterConfig(cluster.extra!['configPath']!);
  const member = Object.values(config.members)[index]!;
  await waitUntil(`synod member ${index} at ${cluster.endpoints[index]} to serve a linearizable read`, timeoutMs, async () => {
    const kv = new KvClient({ endpoints: [member.client], clusterId: config.clusterId, secret: config.clientSecret!, requestTimeoutMs: 2_000 });
    try {
      await kv.get('compare/ready');
    } finally {
      await kv.close();
    }
  });
}

/** synod, as three (or more) local `synod serve` processes. */
export const synod: System = { name: 'synod', start, ready, connect, holdSessions, holdWatches, compact };
