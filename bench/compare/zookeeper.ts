/**
 * ZooKeeper as a system under test: three `QuorumPeerMain` JVMs (Debian's zookeeper) on
 * 127.0.0.1 with their default durability (forceSync: the transaction log fsynced
 * before a proposal is acknowledged); a CAS is `setData(path, data, version)`, a
 * linearizable get is `sync` then `getData` on the same session.
 *
 * Two settings differ from zoo.cfg's defaults, neither touching durability: the admin
 * HTTP server is off (three of them would all want port 8080), and `maxClientCnxns` is
 * 0, unlimited (the default, 60 connections from one address, is fewer than the 256
 * clients of the largest point spread over three servers).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../../src/cli/cluster-up.js';
import { logTail, startServer } from './processes.js';
import { type Adapter, type Held, inLanes, type RunningCluster, type System } from './system.js';
import { waitUntil } from './wait-until.js';
import { ZooKeeperClient, ZooKeeperError, zooErrors } from './zookeeper-client.js';

/** The java binary: `$JAVA_BIN`, or `java` on the PATH. */
const javaBin = process.env['JAVA_BIN'] ?? 'java';
/** ZooKeeper's jar: `$ZOOKEEPER_JAR`, or Debian's (its manifest names the jars it needs). */
const zookeeperJar = process.env['ZOOKEEPER_JAR'] ?? '/usr/share/java/zookeeper.jar';
/** The heap each server gets, as zkServer.sh gives it by default (ZK_SERVER_HEAP, MB). */
const heapMb = 1000;
/** Where the benchmark's znodes live. */
const root = '/compare';

async function start(dir: string, count = 3): Promise<RunningCluster> {
  const members = await Promise.all(
    Array.from({ length: count }, (_, i) => i + 1).map(async (id) => ({
      id,
      name: `z${id}`,
      client: await freePort(),
      quorum: await freePort(),
      election: await freePort(),
    })),
  );
  const servers = [];
  for (const m of members) {
    const dataDir = join(dir, m.name);
    await mkdir(dataDir, { recursive: true });
    await writeFile(join(dataDir, 'myid'), `${m.id}\n`);
    const config = [
      'tickTime=2000',
      'initLimit=10',
      'syncLimit=5',
      `dataDir=${dataDir}`,
      `clientPort=${m.client}`,
      'clientPortAddress=127.0.0.1',
      'admin.enableServer=false',
      'maxClientCnxns=0',
      ...members.map((o) => `server.${o.id}=127.0.0.1:${o.quorum}:${o.election}`),
    ];
    const configPath = join(dir, `${m.name}.cfg`);
    await writeFile(configPath, `${config.join('\n')}\n`);
    servers.push(
      await startServer(
        m.name,
        javaBin,
        [`-Xmx${heapMb}m`, '-cp', zookeeperJar, 'org.apache.zookeeper.server.quorum.QuorumPeerMain', configPath],
        join(dir, `${m.name}.log`),
      ),
    );
  }
  const endpoints = members.map((m) => `127.0.0.1:${m.client}`);
  // A server outside a quorum closes new sessions: a sync through each one means the ensemble serves.
  for (const [i, endpoint] of endpoints.entries()) {
    await waitUntil(`ZooKeeper server z${i + 1} at ${endpoint} to serve`, 60_000, async () => {
      const client = await ZooKeeperClient.connect(endpoint);
      try {
        await client.sync('/');
        if (i === 0) await client.create(root, new Uint8Array(0));
      } finally {
        await client.close();
      }
    }).catch(async (error: unknown) => {
      throw new Error(`${(error as Error).message}\n${await logTail(join(dir, `z${i + 1}.log`))}`);
    });
  }
  return { system: 'zookeeper', dir, endpoints, dataDirs: members.map((m) => join(dir, m.name)), servers };
}

async function connect(cluster: RunningCluster, index: number, keys: readonly string[]): Promise<Adapter> {
  const client = await ZooKeeperClient.connect(cluster.endpoints[index % cluster.endpoints.length]!);
  const path = (key: string) => `${root}/${key}`;
  for (const key of keys) await client.create(path(key), new Uint8Array(0));
  return {
    async cas(key, version, value) {
      try {
        return { version: await client.setData(path(key), value, version) };
      } catch (error) {
        if (!(error instanceof ZooKeeperError && error.code === zooErrors.badVersion)) throw error;
        return { conflict: (await client.getData(path(key))).version };
      }
    },
    async create(key, value) {
      await client.create(path(key), value);
    },
    async get(key) {
      await client.sync(path(key));
      try {
        const { data, version } = await client.getData(path(key));
        return { value: data, version };
      } catch (error) {
        if (error instanceof ZooKeeperError && error.code === zooErrors.noNode) return undefined;
        throw error;
      }
    },
    close: () => client.close(),
  };
}

/** Sessions this harness opens at most: each is a connection, so a file descriptor here and in a server. */
const sessionsMax = 15_000;

async function holdSessions(cluster: RunningCluster, count: number): Promise<Held> {
  if (count > sessionsMax) throw new Error(`a ZooKeeper session is a connection of its own: ${count} do not fit in this process's ${sessionsMax} (ulimit -n)`);
  const clients: ZooKeeperClient[] = [];
  try {
    // ZooKeeper's longest session timeout by default (20 ticks): its pings are the rarest.
    await inLanes(
      count,
      64,
      async (i) => void clients.push(await ZooKeeperClient.connect(cluster.endpoints[i % cluster.endpoints.length]!, { sessionTimeoutMs: 40_000 })),
    );
  } catch (error) {
    await Promise.all(clients.map((c) => c.close()));
    throw error;
  }
  return { close: async () => void (await inLanes(clients.length, 256, (i) => clients[i]!.close())) };
}

/** Watches per session, each an exists watch on an absent znode. */
const watchesPerSession = 10_000;

async function holdWatches(cluster: RunningCluster, count: number): Promise<Held> {
  const clients = await Promise.all(
    Array.from({ length: Math.ceil(count / watchesPerSession) }, (_, i) => ZooKeeperClient.connect(cluster.endpoints[i % cluster.endpoints.length]!)),
  );
  await inLanes(count, 256, async (i) => void (await clients[Math.floor(i / watchesPerSession)]!.watchExists(`${root}/w${i}`)));
  return { close: async () => void (await Promise.all(clients.map((c) => c.close()))) };
}

/** A `sync` then a read through server `index` alone. */
async function ready(cluster: RunningCluster, index: number, timeoutMs: number): Promise<void> {
  const endpoint = cluster.endpoints[index]!;
  await waitUntil(`ZooKeeper server ${index + 1} at ${endpoint} to serve a synced read`, timeoutMs, async () => {
    const client = await ZooKeeperClient.connect(endpoint);
    try {
      await client.sync(root);
      await client.getData(root);
    } finally {
      await client.close();
    }
  });
}

/** ZooKeeper, as three (or more) local processes; it keeps only each znode's latest data, so nothing to compact. */
export const zookeeper: System = { name: 'zookeeper', start, ready, connect, holdSessions, holdWatches, compact: async () => {} };
