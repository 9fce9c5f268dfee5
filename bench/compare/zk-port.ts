/**
 * The ZooKeeper port against ZooKeeper (issue 16, section 4): the same closed-loop
 * ZooKeeper wire client (`zookeeper-client.ts`) against a 3-server ZooKeeper 3.8
 * ensemble and a 3-member synod cluster serving ZooKeeper clients (`synod serve` with a
 * `zk` address per member), both on this machine, fsync on, in the same run.
 *
 * Operations, each client in a closed loop on its own session (clients spread over the
 * three servers, as ZooKeeper clients given the three addresses are):
 * - `cas`: `setData(path, data, version)` on the client's own znode, the version the
 *   last answer gave (always matches);
 * - `sync-get`: `sync` then `getData` (a read made current);
 * - `get`: `getData` (a local, sequentially consistent read);
 * - `ephemeral`: create an ephemeral sequential znode, then delete it (two writes).
 *
 * At 1, 16 and 64 clients. For each point both systems are measured in turn (the order
 * swapped every point, so drift in the machine's load falls on both), each a warm-up
 * then a measured window: operations per second, p50 latency, and server CPU per
 * operation (user + system of the three server processes, from /proc/PID/stat). The
 * table gives synod's figures over ZooKeeper's from the same run. Before the points, each
 * system's servers are measured idle (no client) for one window: CPU ms per second.
 *
 * A benchmark, not a test: it reports and never fails on its numbers, and it is not part
 * of `npm test` or `npm run bench`. Run: `npm run bench:zk` (needs Debian's `zookeeper`
 * package: scripts/install-system-packages.sh). Options: `--seconds S` (measured window,
 * default 3), `--warmup S` (default 1), `--clients 1,16,64`, `--ops cas,sync-get,get,ephemeral`.
 * `--client c` (the default when it is installed) drives both systems with ZooKeeper's
 * C client through its Node binding (npm `zookeeper`, a native addon that
 * `bench/compare/setup.sh` builds from the C client's sources), as the issue asks;
 * `--client wire` with our own wire client (`zookeeper-client.ts`), which needs no build.
 * Both clients make the same calls; the table says which one ran. synod's servers run as
 * in `npm run bench:compare`: `SYNOD_BENCH_BUILT=1` from the build, and
 * `SYNOD_BENCH_NODE_ARGS` passed to their Node (for example `--cpu-prof`).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, writeLocalCluster } from '../../src/cli/cluster-up.js';
import { clockTicksPerSecond, processCpuTicks } from './proc-stat.js';
import { killServersOnExit, logTail, startServer, stopServers, type ServerProcess } from './processes.js';
import { nodeArgs, serverCommand } from './synod.js';
import { waitUntil } from './wait-until.js';
import { zookeeper } from './zookeeper.js';
import { ZooKeeperClient } from './zookeeper-client.js';
import { ZooKeeperCClient, loadCBinding } from './zookeeper-c-client.js';

/** The calls the benchmark makes, as both clients offer them. */
type BenchClient = Pick<ZooKeeperClient, 'create' | 'createEphemeralSequential' | 'delete' | 'getData' | 'setData' | 'sync' | 'close'>;

const opNames = ['cas', 'sync-get', 'get', 'ephemeral'] as const;
type OpName = (typeof opNames)[number];

/** A running system: its ZooKeeper endpoints and server processes. */
interface Target {
  readonly name: 'zookeeper' | 'synod';
  readonly endpoints: readonly string[];
  readonly servers: readonly ServerProcess[];
}

/** One measured window. */
interface Measured {
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly serverCpuMsPerOp: number;
}

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}
const seconds = Number(option('seconds') ?? 3);
const warmupSeconds = Number(option('warmup') ?? 1);
const clientCounts = (option('clients') ?? '1,16,64').split(',').map(Number);
const ops = (option('ops') ?? opNames.join(',')).split(',') as OpName[];
const cBinding = loadCBinding();
const clientKind = option('client') ?? (typeof cBinding === 'string' ? 'wire' : 'c');
if (clientKind !== 'c' && clientKind !== 'wire') throw new Error(`zk-port: --client is c or wire, not ${clientKind}`);
if (clientKind === 'c' && typeof cBinding === 'string') throw new Error(cBinding);
if (clientKind === 'wire' && typeof cBinding === 'string') console.log(`zk-port: using our own wire client: ${cBinding}`);
/** A session of the client measured, on `endpoint`. */
const connectClient = (endpoint: string): Promise<BenchClient> =>
  clientKind === 'c' ? ZooKeeperCClient.connect(cBinding as Exclude<typeof cBinding, string>, endpoint) : ZooKeeperClient.connect(endpoint);
for (const o of ops) if (!opNames.includes(o)) throw new Error(`zk-port: unknown op ${o} (one of ${opNames.join(', ')})`);
if (!(seconds > 0 && warmupSeconds >= 0 && clientCounts.every((n) => Number.isInteger(n) && n > 0)))
  throw new Error('zk-port: --seconds, --warmup and --clients must be positive');

const repository = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const root = '/zkbench';

async function startSynod(dir: string): Promise<Target> {
  const configPath = await writeLocalCluster(dir, 3);
  const cluster = JSON.parse(await readFile(configPath, 'utf8')) as { members: Record<string, Record<string, string>> };
  const endpoints: string[] = [];
  for (const id of Object.keys(cluster.members)) {
    const endpoint = `127.0.0.1:${await freePort()}`;
    cluster.members[id]!['zk'] = endpoint;
    endpoints.push(endpoint);
  }
  await writeFile(configPath, JSON.stringify(cluster, null, 2));
  const servers: ServerProcess[] = [];
  for (const id of Object.keys(cluster.members)) {
    servers.push(
      await startServer(id, process.execPath, [...nodeArgs, ...serverCommand, 'serve', '--config', configPath, '--id', id], join(dir, `${id}.log`), repository),
    );
  }
  for (const [i, endpoint] of endpoints.entries()) {
    await waitUntil(`synod member ${i} serving ZooKeeper clients at ${endpoint}`, 60_000, async () => {
      const client = await ZooKeeperClient.connect(endpoint);
      try {
        await client.sync('/');
      } finally {
        await client.close();
      }
    }).catch(async (error: unknown) => {
      throw new Error(`${(error as Error).message}\n${await logTail(join(dir, `${Object.keys(cluster.members)[i]}.log`))}`);
    });
  }
  return { name: 'synod', endpoints, servers };
}

/** The closed loop of one client for `op`; `running()` false ends it. Latencies in ms go to `latencies`. */
async function loop(client: BenchClient, op: OpName, path: string, running: () => boolean, count: { n: number }, latencies: number[]): Promise<void> {
  const data = new Uint8Array(100);
  let version = (await client.getData(path)).version;
  while (running()) {
    const start = performance.now();
    switch (op) {
      case 'cas':
        version = await client.setData(path, data, version);
        break;
      case 'sync-get':
        await client.sync(path);
        await client.getData(path);
        break;
      case 'get':
        await client.getData(path);
        break;
      case 'ephemeral':
        await client.delete(await client.createEphemeralSequential(`${path}/e-`, data), -1);
        break;
    }
    count.n++;
    if (latencies.length < 100_000) latencies.push(performance.now() - start);
  }
}

async function serverCpuTicks(target: Target): Promise<number> {
  let ticks = 0;
  for (const s of target.servers) ticks += await processCpuTicks(s.pid);
  return ticks;
}

async function measure(target: Target, op: OpName, clients: number): Promise<Measured> {
  const sessions = await Promise.all(Array.from({ length: clients }, (_, i) => connectClient(target.endpoints[i % target.endpoints.length]!)));
  try {
    const paths = sessions.map((_, i) => `${root}/${op}-${clients}-${i}`);
    await Promise.all(sessions.map((c, i) => c.create(paths[i]!, new Uint8Array(100))));
    // Each client's own znode reaches its server before the loop reads it.
    await Promise.all(sessions.map((c, i) => c.sync(paths[i]!)));
    let phase: 'warmup' | 'measure' | 'stop' = 'warmup';
    const count = { n: 0 };
    const latencies: number[] = [];
    // A failed call ends the point (every loop stops), named by system and point.
    let failure: unknown;
    const loops = sessions.map((c, i) =>
      loop(c, op, paths[i]!, () => phase !== 'stop' && failure === undefined, count, latencies).catch((error: unknown) => {
        failure ??= error;
      }),
    );
    await new Promise((r) => setTimeout(r, warmupSeconds * 1_000));
    phase = 'measure';
    count.n = 0;
    latencies.length = 0;
    const cpuBefore = await serverCpuTicks(target);
    const started = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1_000));
    const done = count.n;
    const elapsed = (performance.now() - started) / 1_000;
    const cpuAfter = await serverCpuTicks(target);
    const sample = latencies.slice().sort((a, b) => a - b);
    phase = 'stop';
    await Promise.all(loops);
    if (failure !== undefined) throw new Error(`${target.name}, ${op} at ${clients} clients: ${String(failure)}`, { cause: failure });
    const cpuMs = ((cpuAfter - cpuBefore) / clockTicksPerSecond) * 1_000;
    return {
      opsPerSecond: done / elapsed,
      p50Ms: sample[Math.floor(sample.length / 2)] ?? Number.NaN,
      serverCpuMsPerOp: done === 0 ? Number.NaN : cpuMs / done,
    };
  } finally {
    await Promise.all(sessions.map((c) => c.close()));
  }
}

const base = await mkdtemp(join(process.env['SYNOD_BENCH_DIR'] ?? os.tmpdir(), 'synod-zk-port-'));
const targets: Target[] = [];
killServersOnExit(() => targets.flatMap((t) => t.servers));
try {
  console.log(
    `zk-port: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}, load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(
        ' ',
      )}; ${seconds} s windows after ${warmupSeconds} s warm-up; client: ${clientKind === 'c' ? "ZooKeeper's C client (Node binding)" : 'our wire client'}`,
  );
  const zk = await zookeeper.start(join(base, 'zookeeper'));
  targets.push({ name: 'zookeeper', endpoints: zk.endpoints, servers: zk.servers });
  await rm(join(base, 'synod'), { recursive: true, force: true });
  targets.push(await startSynod(join(base, 'synod')));
  for (const t of targets) {
    const c = await ZooKeeperClient.connect(t.endpoints[0]!);
    await c.create(root, new Uint8Array(0));
    await c.close();
  }
  // What each system's servers spend with no client at all (ticks, heartbeats, a JVM's
  // own threads): part of every point's CPU per op, the larger the fewer ops there are.
  const idle: string[] = [];
  for (const t of targets) {
    const before = await serverCpuTicks(t);
    const started = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1_000));
    const cpuMs = (((await serverCpuTicks(t)) - before) / clockTicksPerSecond) * 1_000;
    idle.push(`${t.name} ${(cpuMs / ((performance.now() - started) / 1_000)).toFixed(1)}`);
  }
  console.log(`idle server CPU, ms per second (three servers): ${idle.join(', ')}`);
  const rows: string[][] = [
    [
      'op',
      'clients',
      'ZooKeeper ops/s',
      'synod ops/s',
      'synod/ZK',
      'ZK p50 ms',
      'synod p50 ms',
      'ZK server CPU ms/op',
      'synod server CPU ms/op',
      'synod/ZK CPU',
    ],
  ];
  let swap = false;
  for (const op of ops) {
    for (const clients of clientCounts) {
      const order = swap ? [...targets].reverse() : targets;
      swap = !swap;
      const result = new Map<string, Measured>();
      for (const t of order) result.set(t.name, await measure(t, op, clients));
      const z = result.get('zookeeper')!;
      const s = result.get('synod')!;
      const row = [
        op,
        String(clients),
        z.opsPerSecond.toFixed(0),
        s.opsPerSecond.toFixed(0),
        (s.opsPerSecond / z.opsPerSecond).toFixed(2),
        z.p50Ms.toFixed(2),
        s.p50Ms.toFixed(2),
        z.serverCpuMsPerOp.toFixed(3),
        s.serverCpuMsPerOp.toFixed(3),
        (s.serverCpuMsPerOp / z.serverCpuMsPerOp).toFixed(2),
      ];
      rows.push(row);
      console.log(row.join('\t'));
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  console.log(`\n${rows.map((r) => r.map((cell, i) => cell.padStart(widths[i]!)).join('  ')).join('\n')}`);
} finally {
  await stopServers(targets.flatMap((t) => t.servers));
  await rm(base, { recursive: true, force: true });
}
