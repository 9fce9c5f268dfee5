/**
 * Cost curves: how each system's cost grows as the work grows, synod beside etcd and
 * ZooKeeper on the same machine in the same run, each as local processes with fsync on.
 *
 * - `clients`: throughput and p99 against closed-loop clients, up to 1,024 (100 B values);
 * - `values`: throughput and p99 against the value size, 100 B to 1 MB (16 clients);
 * - `members`: throughput, p99 and server CPU per operation against the cluster size, 3, 5 and 7;
 * - `keys`: each server's resident memory against the number of keys (100 B values), 1k to 1M;
 * - `sessions`, `watches`: the same against open sessions (etcd: leases) and against watches, 1k to 100k;
 * - `restart`: one member's restart time against the data it holds, 10 MB to 1 GB, beside
 *   the same run's raw read of that member's data directory.
 *
 * Each curve's slope on log-log axes between its last two points says how it grows: 1 is
 * linear; a cost curve above 1.15 is named in the output as growing worse than linearly.
 * Writes `curves.json` and one SVG per figure into `--out`. A benchmark, not a test: it
 * never fails on its numbers. Needs bench/compare/setup.sh (`npm run bench:curves` runs it).
 *
 *   npx tsx bench/compare/curves.ts --curves keys --keys 1000,10000 --systems synod   # a smoke run
 */
import { readdir, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { curveFigure, type CurveRow } from './curve-plot.js';
import { measurePoint, type PointResult } from './point.js';
import { killServersOnExit, restartServer, type ServerProcess, stopServers } from './processes.js';
import { machineStat } from './proc-stat.js';
import { type Held, inLanes, type RunningCluster, type SystemName, systemNames } from './system.js';
import { systems } from './systems.js';

const curveNames = ['clients', 'values', 'members', 'keys', 'sessions', 'watches', 'restart'] as const;
type CurveName = (typeof curveNames)[number];

const usage =
  'usage: tsx bench/compare/curves.ts [--curves clients,values,members,keys,restart] [--systems etcd,zookeeper,synod] [--seconds 5] [--warmup 2] ' +
  '[--clients 1,4,16,64,256,1024] [--values 100,1024,16384,131072,1000000] [--members 3,5,7] [--keys 1000,10000,100000,1000000] [--held 1000,10000,100000] [--data-mb 10,100,1000] [--out DIR]';

function parse(argv: readonly string[]) {
  const given = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    if (!flag.startsWith('--') || value === undefined || given.has(flag.slice(2)))
      throw new Error(`${flag}: not an option, no value, or given twice\n${usage}`);
    given.set(flag.slice(2), value);
  }
  const known = new Set(['curves', 'systems', 'seconds', 'warmup', 'clients', 'values', 'members', 'keys', 'held', 'data-mb', 'out']);
  for (const name of given.keys()) if (!known.has(name)) throw new Error(`--${name} is not an option\n${usage}`);
  const list = (name: string, fallback: string) => {
    const values = (given.get(name) ?? fallback).split(',').map(Number);
    if (!values.every((n) => Number.isSafeInteger(n) && n > 0)) throw new Error(`--${name} must be positive integers separated by commas\n${usage}`);
    return values;
  };
  const names = <T extends string>(name: string, all: readonly T[]) => {
    const picked = (given.get(name) ?? all.join(',')).split(',');
    for (const p of picked) if (!(all as readonly string[]).includes(p)) throw new Error(`--${name}: ${p} is not one of ${all.join(', ')}\n${usage}`);
    return picked as T[];
  };
  const positive = (name: string, fallback: number) => {
    const value = Number(given.get(name) ?? fallback);
    if (!(value > 0)) throw new Error(`--${name} must be a positive number\n${usage}`);
    return value;
  };
  return {
    curves: names<CurveName>('curves', curveNames),
    systems: names<SystemName>('systems', systemNames),
    seconds: positive('seconds', 5),
    warmupSeconds: positive('warmup', 2),
    clients: list('clients', '1,4,16,64,256,1024'),
    values: list('values', '100,1024,16384,131072,1000000'),
    members: list('members', '3,5,7'),
    keys: list('keys', '1000,10000,100000,1000000'),
    held: list('held', '1000,10000,100000'),
    dataMb: list('data-mb', '10,100,1000'),
    out: resolve(given.get('out') ?? join(fileURLToPath(new URL('.', import.meta.url)), 'results')),
  };
}

const options = parse(process.argv.slice(2));
/** ZooKeeper keeps every znode in its heap (1,000 MB, zkServer.sh's default): larger data is not loaded into it. */
const zookeeperDataMbMax = 400;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cpus = os.cpus();
const machine = {
  cores: cpus.length,
  model: cpus[0]?.model ?? 'unknown',
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  node: process.version,
  date: new Date().toISOString(),
};
const caption = `${machine.date.slice(0, 10)}: ${machine.cores} × ${machine.model}, Node ${machine.node}; ${options.seconds} s windows after ${options.warmupSeconds} s warm-up`;
console.log(`curves: ${caption}`);

const base = await mkdtemp(join(process.env['SYNOD_BENCH_DIR'] ?? os.tmpdir(), 'synod-curves-'));
const running = new Set<RunningCluster>();
const serversOf = () => [...running].flatMap((c) => c.servers);
killServersOnExit(serversOf);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stopServers(serversOf()).finally(() => process.exit(130)));

let clusterCount = 0;
async function startCluster(name: SystemName, members = 3): Promise<RunningCluster> {
  const dir = join(base, `${name}-${++clusterCount}`);
  await mkdir(dir);
  const cluster = await systems[name].start(dir, members);
  running.add(cluster);
  return cluster;
}
async function stopCluster(cluster: RunningCluster): Promise<void> {
  await stopServers(cluster.servers);
  running.delete(cluster);
  await rm(cluster.dir, { recursive: true, force: true });
}

/** A process's resident memory, in bytes (VmRSS of /proc/PID/status). */
async function rssBytes(pid: number): Promise<number> {
  const match = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return match === null ? Number.NaN : Number(match[1]) * 1024;
}
const meanRssMb = async (cluster: RunningCluster) =>
  (await Promise.all(cluster.servers.map((s) => rssBytes(s.pid)))).reduce((a, b) => a + b, 0) / cluster.servers.length / 1e6;

/** Every file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(entries.map((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.isFile() ? [join(dir, e.name)] : [])));
  return nested.flat();
}
/** Reads every file under `dir` as a restart would find them: bytes and MB/s. */
async function rawRead(dir: string): Promise<{ bytes: number; mbPerSecond: number }> {
  const files = await filesUnder(dir);
  const t = performance.now();
  let bytes = 0;
  for (const file of files) bytes += (await readFile(file)).byteLength;
  return { bytes, mbPerSecond: bytes / 1e6 / ((performance.now() - t) / 1000) };
}
async function bytesUnder(dir: string): Promise<number> {
  let bytes = 0;
  for (const file of await filesUnder(dir)) bytes += (await stat(file)).size;
  return bytes;
}

/**
 * Creates keys `first` to `last - 1` of `name(i)`, over 16 connections, with at most
 * 256 requests and about 32 MiB in flight; keys per second. A request that fails (a
 * timeout on a loaded machine) is sent again, up to 5 times: a create that had taken
 * effect is then found there (ZooKeeper's create answers that it exists, which the
 * adapter takes as done) or written again (etcd's and synod's batches are blind puts).
 */
async function load(cluster: RunningCluster, first: number, last: number, name: (i: number) => string, valueBytes: number): Promise<number> {
  const system = systems[cluster.system];
  const adapters = await Promise.all(Array.from({ length: 16 }, (_, i) => system.connect(cluster, i, [])));
  const value = new Uint8Array(valueBytes).fill(120);
  const batched = adapters[0]!.createMany !== undefined;
  // At most 100 keys and about 512 KiB a request: under etcd's 1.5 MiB and synod's command limit.
  const perRequest = batched ? Math.max(1, Math.min(100, Math.floor((512 * 1024) / valueBytes))) : 1;
  const lanes = Math.max(1, Math.min(256, Math.floor((32 * 1024 * 1024) / (perRequest * valueBytes))));
  const requests = Math.ceil((last - first) / perRequest);
  const t = performance.now();
  try {
    await inLanes(requests, lanes, async (r) => {
      const from = first + r * perRequest;
      const keys = Array.from({ length: Math.min(perRequest, last - from) }, (_, j) => name(from + j));
      const adapter = adapters[r % adapters.length]!;
      for (let attempt = 1; ; attempt++) {
        try {
          if (batched) await adapter.createMany!(keys, value);
          else await adapter.create(keys[0]!, value);
          return;
        } catch (error) {
          if (attempt >= 5) throw error;
          await sleep(200 * attempt);
        }
      }
    });
  } finally {
    await Promise.all(adapters.map((a) => a.close()));
  }
  return (last - first) / ((performance.now() - t) / 1000);
}

const results: Record<string, unknown[]> = {};
const figures: string[] = [];
/** Cost curves whose last segment grows faster than linearly, named at the end. */
const steep: string[] = [];

/** The slope of `y` against `x` on log-log axes between the last two points, per system. */
function slopes(rows: readonly CurveRow[]): Map<string, number> {
  const bySeries = new Map<string, CurveRow[]>();
  for (const r of rows) bySeries.set(r.series, [...(bySeries.get(r.series) ?? []), r]);
  const out = new Map<string, number>();
  for (const [series, points] of bySeries) {
    const sorted = points.filter((p) => p.y > 0 && Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
    const [a, b] = sorted.slice(-2);
    if (a !== undefined && b !== undefined && b.x > a.x) out.set(series, Math.log(b.y / a.y) / Math.log(b.x / a.x));
  }
  return out;
}
function reportSlopes(what: string, rows: readonly CurveRow[], linearIsFine = true): void {
  for (const [series, slope] of slopes(rows)) {
    console.log(`  ${what}, ${series}: log-log slope of the last segment ${slope.toFixed(2)}`);
    if (linearIsFine && slope > 1.15) steep.push(`${what}, ${series}: slope ${slope.toFixed(2)}`);
  }
}

async function draw(file: string, title: string, rows: readonly CurveRow[], x: { title: string; log: boolean }, y: { title: string; log: boolean }) {
  await curveFigure(join(options.out, file), { title, subtitle: caption }, rows, x, y);
  figures.push(file);
}

/** Closed-loop points on clusters of 3 running side by side, rotated so drift hits all alike. */
async function loadCurves(): Promise<void> {
  const clusters: RunningCluster[] = [];
  for (const name of options.systems) clusters.push(await startCluster(name));
  const points = async (label: string, shape: readonly { clients: number; valueBytes: number }[]) => {
    const measured: PointResult[] = [];
    for (const [k, { clients, valueBytes }] of shape.entries()) {
      for (let j = 0; j < clusters.length; j++) {
        const cluster = clusters[(j + k) % clusters.length]!;
        const p = await measurePoint({
          system: systems[cluster.system],
          cluster,
          idle: clusters.filter((c) => c !== cluster),
          pass: measured.length + 1,
          clients,
          valueBytes,
          seconds: options.seconds,
          warmupSeconds: options.warmupSeconds,
        });
        measured.push(p);
        await systems[cluster.system].compact(cluster);
        console.log(
          `| ${label} | ${p.system} | ${clients} | ${valueBytes} B | ${Math.round(p.opsPerSecond)} | ${p.cas.p50Ms.toFixed(2)} / ${p.cas.p99Ms.toFixed(2)} | ${Math.round(p.serverCpuPerOpUs)} | ${p.machine.otherPercent.toFixed(0)} | ${p.errors}, ${p.conflicts}, ${p.staleReads} |`,
        );
      }
    }
    return measured;
  };
  console.log('| curve | system | clients | value | ops/s | CAS p50 / p99 ms | server CPU µs/op | other load % | errors, conflicts, stale |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---|');
  try {
    if (options.curves.includes('clients')) {
      const measured = await points(
        'clients',
        options.clients.map((clients) => ({ clients, valueBytes: 100 })),
      );
      results['clients'] = measured;
      const ops = measured.map((p) => ({ series: p.system, x: p.clients, y: p.opsPerSecond }));
      const p99 = measured.map((p) => ({ series: p.system, x: p.clients, y: p.cas.p99Ms }));
      reportSlopes('CAS p99 against clients', p99);
      await draw(
        'curve-clients-throughput.svg',
        'Throughput against clients (100 B values)',
        ops,
        { title: 'closed-loop clients', log: true },
        { title: 'operations/s (CAS + get)', log: false },
      );
      await draw(
        'curve-clients-p99.svg',
        'CAS p99 latency against clients (100 B values)',
        p99,
        { title: 'closed-loop clients', log: true },
        { title: 'CAS p99, ms (log)', log: true },
      );
    }
    if (options.curves.includes('values')) {
      const measured = await points(
        'values',
        options.values.map((valueBytes) => ({ clients: 16, valueBytes })),
      );
      results['values'] = measured;
      const mbps = measured.map((p) => ({ series: p.system, x: p.valueBytes, y: (p.cas.count * p.valueBytes) / p.seconds / 1e6 }));
      const p99 = measured.map((p) => ({ series: p.system, x: p.valueBytes, y: p.cas.p99Ms }));
      const cpu = measured.map((p) => ({ series: p.system, x: p.valueBytes, y: p.serverCpuPerOpUs }));
      reportSlopes('CAS p99 against value size', p99);
      reportSlopes('server CPU per op against value size', cpu);
      await draw(
        'curve-values-throughput.svg',
        'Written MB/s against value size (16 clients)',
        mbps,
        { title: 'value, bytes (log)', log: true },
        { title: 'MB/s written by CAS (log)', log: true },
      );
      await draw(
        'curve-values-p99.svg',
        'CAS p99 latency against value size (16 clients)',
        p99,
        { title: 'value, bytes (log)', log: true },
        { title: 'CAS p99, ms (log)', log: true },
      );
    }
  } finally {
    for (const c of clusters) await stopCluster(c);
  }
}

/** One cluster at a time: each size of each system on its own, started fresh. */
async function membersCurve(): Promise<void> {
  const measured: (PointResult & { members: number })[] = [];
  console.log('| members | system | clients | ops/s | CAS p50 / p99 ms | server CPU µs/op (all members) | errors |');
  console.log('|---:|---|---:|---:|---:|---:|---|');
  for (const members of options.members) {
    for (const name of options.systems) {
      const cluster = await startCluster(name, members);
      try {
        for (const clients of [16, 64]) {
          const p = await measurePoint({
            system: systems[name],
            cluster,
            idle: [],
            pass: measured.length + 1,
            clients,
            valueBytes: 100,
            seconds: options.seconds,
            warmupSeconds: options.warmupSeconds,
          });
          measured.push({ ...p, members });
          console.log(
            `| ${members} | ${name} | ${clients} | ${Math.round(p.opsPerSecond)} | ${p.cas.p50Ms.toFixed(2)} / ${p.cas.p99Ms.toFixed(2)} | ${Math.round(p.serverCpuPerOpUs)} | ${p.errors} |`,
          );
        }
      } finally {
        await stopCluster(cluster);
      }
    }
  }
  results['members'] = measured;
  const at64 = measured.filter((p) => p.clients === 64);
  const ops = at64.map((p) => ({ series: p.system, x: p.members, y: p.opsPerSecond }));
  const cpu = at64.map((p) => ({ series: p.system, x: p.members, y: p.serverCpuPerOpUs }));
  reportSlopes('server CPU per op against members (64 clients)', cpu);
  await draw(
    'curve-members-throughput.svg',
    'Throughput against cluster size (64 clients, 100 B)',
    ops,
    { title: 'members', log: false },
    { title: 'operations/s (CAS + get)', log: false },
  );
  await draw(
    'curve-members-cpu.svg',
    'Server CPU per operation against cluster size (64 clients)',
    cpu,
    { title: 'members', log: false },
    { title: 'CPU µs per op, all members', log: false },
  );
}

/** Key `i` of the keys curve: distinct for every `i` below 2^32 (an odd multiplier modulo 2^32), far from its neighbours. */
const scrambledKey = (i: number): string => `k${String((i * 2654435761) % 4294967296).padStart(10, '0')}`;

/** Resident memory per member as keys are added, each system on its own. */
async function keysCurve(): Promise<void> {
  const rows: { system: SystemName; keys: number; rssMb: number; baselineMb: number; bytesPerKey: number; loadKeysPerSecond: number }[] = [];
  console.log('| system | keys | RSS per member, MB | bytes per key above idle | load, keys/s |');
  console.log('|---|---:|---:|---:|---:|');
  for (const name of options.systems) {
    const cluster = await startCluster(name);
    try {
      await sleep(2_000);
      const baselineMb = await meanRssMb(cluster);
      let loaded = 0;
      for (const keys of options.keys) {
        // Keys in a scrambled order, as a real workload writes them: each new key lands
        // anywhere in the index (in order, a key index that is slow to insert into the
        // middle looks fast: synod's was quadratic, unseen here while keys came in order).
        const rate = await load(cluster, loaded, keys, scrambledKey, 100);
        loaded = keys;
        await sleep(2_000);
        const rssMb = await meanRssMb(cluster);
        const row = { system: name, keys, rssMb, baselineMb, bytesPerKey: ((rssMb - baselineMb) * 1e6) / keys, loadKeysPerSecond: rate };
        rows.push(row);
        console.log(`| ${name} | ${keys} | ${rssMb.toFixed(0)} (idle ${baselineMb.toFixed(0)}) | ${row.bytesPerKey.toFixed(0)} | ${Math.round(rate)} |`);
      }
    } finally {
      await stopCluster(cluster);
    }
  }
  results['keys'] = rows;
  const rss = rows.map((r) => ({ series: r.system, x: r.keys, y: r.rssMb }));
  // How the memory a key costs grows: the slope of what lies above the idle server's.
  reportSlopes(
    'resident memory above idle against keys',
    rows.map((r) => ({ series: r.system, x: r.keys, y: r.rssMb - r.baselineMb })),
  );
  await draw(
    'curve-keys-rss.svg',
    'Resident memory per member against keys (100 B values)',
    rss,
    { title: 'keys (log)', log: true },
    { title: 'RSS per member, MB (log)', log: true },
  );
}

/** Resident memory per member as sessions or watches are opened and held, each system on its own. */
async function heldCurve(kind: 'sessions' | 'watches'): Promise<void> {
  const rows: { system: SystemName; count: number; rssMb: number; baselineMb: number; bytesEach: number; openPerSecond: number }[] = [];
  console.log(`| system | ${kind} | RSS per member, MB | bytes each above idle | opened per second |`);
  console.log('|---|---:|---:|---:|---:|');
  for (const name of options.systems) {
    const cluster = await startCluster(name);
    const held: Held[] = [];
    try {
      await sleep(2_000);
      const baselineMb = await meanRssMb(cluster);
      let open = 0;
      for (const count of options.held) {
        const t = performance.now();
        try {
          held.push(await (kind === 'sessions' ? systems[name].holdSessions(cluster, count - open) : systems[name].holdWatches(cluster, count - open)));
        } catch (error) {
          console.log(`| ${name} | ${count} | not measured: ${(error as Error).message} | | |`);
          break;
        }
        const openPerSecond = (count - open) / ((performance.now() - t) / 1000);
        open = count;
        await sleep(2_000);
        const rssMb = await meanRssMb(cluster);
        const row = { system: name, count, rssMb, baselineMb, bytesEach: ((rssMb - baselineMb) * 1e6) / count, openPerSecond };
        rows.push(row);
        console.log(
          `| ${name} | ${count} | ${rssMb.toFixed(0)} (idle ${baselineMb.toFixed(0)}) | ${row.bytesEach.toFixed(0)} | ${Math.round(openPerSecond)} |`,
        );
      }
    } finally {
      for (const h of held) await h.close().catch(() => undefined);
      await stopCluster(cluster);
    }
  }
  results[kind] = rows;
  const rss = rows.map((r) => ({ series: r.system, x: r.count, y: r.rssMb }));
  reportSlopes(
    `resident memory above idle against ${kind}`,
    rows.map((r) => ({ series: r.system, x: r.count, y: r.rssMb - r.baselineMb })),
  );
  await draw(
    `curve-${kind}-rss.svg`,
    `Resident memory per member against open ${kind}`,
    rss,
    { title: `${kind} (log)`, log: true },
    { title: 'RSS per member, MB (log)', log: true },
  );
}

/** One member restarted as its data grows, timed to its first linearizable read, beside a raw read of its directory. */
async function restartCurve(): Promise<void> {
  const rows: { system: SystemName; dataMb: number; onDiskMb: number; restartMs: number; emptyMs: number; rawReadMbPerSecond: number; rawReadMs: number }[] =
    [];
  console.log(
    '| system | data loaded, MB | member directory, MB | restart to first read, ms | raw read of the directory, MB/s (ms) | (restart − fixed part) ÷ raw read |',
  );
  console.log('|---|---:|---:|---:|---:|---:|');
  const valueBytes = 64 * 1024;
  for (const name of options.systems) {
    const cluster = await startCluster(name);
    const servers: ServerProcess[] = [...cluster.servers];
    const live: RunningCluster = { ...cluster, servers };
    running.delete(cluster);
    running.add(live);
    try {
      // What a restart costs with no data (the process's start, the election, the first read): the fixed part.
      let t = performance.now();
      servers[1] = await restartServer(servers[1]!);
      await systems[name].ready(live, 1, 600_000);
      const emptyMs = performance.now() - t;
      console.log(`| ${name} | 0 | | ${Math.round(emptyMs)} (the fixed part) | | |`);
      let loaded = 0;
      for (const dataMb of options.dataMb) {
        if (name === 'zookeeper' && dataMb > zookeeperDataMbMax) {
          console.log(`| ${name} | ${dataMb} | – | not loaded: ZooKeeper keeps all data in its 1,000 MB heap | | |`);
          continue;
        }
        const target = Math.ceil((dataMb * 1e6) / valueBytes);
        await load(live, loaded, target, (i) => `r${String(i).padStart(8, '0')}`, valueBytes);
        loaded = target;
        const member = 1;
        const dir = live.dataDirs[member]!;
        // Caught up (it answers a linearizable read) before its directory is measured.
        await systems[name].ready(live, member, 600_000);
        const onDisk = await bytesUnder(dir);
        // Restart first, then read the directory: both find it in the page cache as the load left it.
        t = performance.now();
        servers[member] = await restartServer(servers[member]!);
        await systems[name].ready(live, member, 600_000);
        const restartMs = performance.now() - t;
        const raw = await rawRead(dir);
        const rawReadMs = (raw.bytes / 1e6 / raw.mbPerSecond) * 1000;
        rows.push({ system: name, dataMb, onDiskMb: onDisk / 1e6, restartMs, emptyMs, rawReadMbPerSecond: raw.mbPerSecond, rawReadMs });
        console.log(
          `| ${name} | ${dataMb} | ${(onDisk / 1e6).toFixed(0)} | ${Math.round(restartMs)} | ${Math.round(raw.mbPerSecond)} (${Math.round(rawReadMs)}) | ${((restartMs - emptyMs) / rawReadMs).toFixed(1)} |`,
        );
      }
    } finally {
      running.delete(live);
      await stopCluster(live);
    }
  }
  results['restart'] = rows;
  const restart = rows.map((r) => ({ series: r.system, x: r.dataMb, y: r.restartMs }));
  reportSlopes(
    'restart time above the fixed part against data',
    rows.map((r) => ({ series: r.system, x: r.dataMb, y: r.restartMs - r.emptyMs })),
  );
  await draw(
    'curve-restart.svg',
    'One member restarted: time to its first linearizable read against its data',
    restart,
    { title: 'data loaded, MB (log)', log: true },
    { title: 'restart, ms (log)', log: true },
  );
}

try {
  await mkdir(options.out, { recursive: true });
  const before = await machineStat();
  await sleep(2_000);
  const after = await machineStat();
  const busyPercent = (100 * (after.busy - before.busy)) / (after.total - before.total);
  console.log(`before the servers start: ${busyPercent.toFixed(0)}% of the cores busy`);
  if (options.curves.includes('clients') || options.curves.includes('values')) await loadCurves();
  if (options.curves.includes('members')) await membersCurve();
  if (options.curves.includes('keys')) await keysCurve();
  for (const kind of ['sessions', 'watches'] as const) if (options.curves.includes(kind)) await heldCurve(kind);
  if (options.curves.includes('restart')) await restartCurve();
  await writeFile(
    join(options.out, 'curves.json'),
    `${JSON.stringify({ machine, beforeServersBusyPercent: busyPercent, options, caption, results, steep }, null, 2)}\n`,
  );
  console.log(
    steep.length === 0 ? '\nno cost curve grows faster than linearly in its last segment' : `\ngrowing faster than linearly:\n  ${steep.join('\n  ')}`,
  );
  console.log(`wrote curves.json, ${figures.join(', ')} in ${options.out}`);
} finally {
  await stopServers(serversOf());
  await rm(base, { recursive: true, force: true });
}
process.exit(0);
