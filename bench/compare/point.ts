/**
 * One measured point: `clients` closed-loop clients against one running cluster, each
 * on its own key, alternating a CAS (by the version it last saw) and a linearizable get
 * of that key; after a warm-up, a window in which operations, latencies, the servers'
 * CPU time and the machine's load are counted.
 */
import { Window } from '../window.js';
import { clockTicksPerSecond, machineStat, processCpuTicks } from './proc-stat.js';
import type { RunningCluster, System, SystemName } from './system.js';

/** Latency quantiles of one kind of operation, in ms. */
interface Latency {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** What one point measured. */
export interface PointResult {
  readonly system: SystemName;
  readonly pass: number;
  readonly clients: number;
  readonly valueBytes: number;
  /** The window's length as measured, in seconds. */
  readonly seconds: number;
  /** CASes and gets completed in the window, per second. */
  readonly opsPerSecond: number;
  readonly cas: Latency;
  readonly get: Latency;
  /** Operations that failed (timeouts, lost connections), warm-up included. */
  readonly errors: number;
  /** CASes refused for a version mismatch: none expected, each client owns its key. */
  readonly conflicts: number;
  /** Gets that did not return the version the same client's CAS had just written: none expected of a linearizable read. */
  readonly staleReads: number;
  /** The measured system's servers' CPU time (all three, all threads) per operation, in µs. */
  readonly serverCpuPerOpUs: number;
  /** How the machine's CPU time went during the window, in % of all cores. */
  readonly machine: {
    readonly cores: number;
    /** Stolen by the hypervisor. */
    readonly stealPercent: number;
    /** The measured system's servers. */
    readonly serversPercent: number;
    /** The harness process: the clients. */
    readonly harnessPercent: number;
    /** The other systems' idle clusters. */
    readonly idleClustersPercent: number;
    /** Everything else busy: other work on the machine. */
    readonly otherPercent: number;
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function cpuTicks(clusters: readonly RunningCluster[]): Promise<number> {
  const ticks = await Promise.all(clusters.flatMap((c) => c.servers.map((s) => processCpuTicks(s.pid))));
  return ticks.reduce((a, b) => a + b, 0);
}

/** Measures one point of `system` on `cluster`; `idle` are the other systems' clusters, running meanwhile. */
export async function measurePoint(options: {
  readonly system: System;
  readonly cluster: RunningCluster;
  readonly idle: readonly RunningCluster[];
  readonly pass: number;
  readonly clients: number;
  readonly valueBytes: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
}): Promise<PointResult> {
  const { system, cluster, clients } = options;
  const cas = new Window();
  const get = new Window();
  let errors = 0;
  let conflicts = 0;
  let staleReads = 0;
  const keyOf = (i: number) => `p${options.pass}-s${options.valueBytes}-c${clients}-k${i}`;
  const adapters = await Promise.all(Array.from({ length: clients }, (_, i) => system.connect(cluster, i, [keyOf(i)])));
  let stopping = false;
  const loops = adapters.map(async (adapter, i) => {
    const key = keyOf(i);
    const value = new Uint8Array(options.valueBytes).fill(97 + (i % 26));
    let version: number | undefined;
    while (!stopping) {
      try {
        version ??= (await adapter.get(key))?.version ?? 0;
        let t = performance.now();
        const written = await adapter.cas(key, version, value);
        cas.record(performance.now() - t);
        if ('conflict' in written) {
          conflicts++;
          version = written.conflict;
          continue;
        }
        version = written.version;
        t = performance.now();
        const read = await adapter.get(key);
        get.record(performance.now() - t);
        if (read?.version !== version) staleReads++;
      } catch {
        errors++;
        version = undefined;
        await sleep(10);
      }
    }
  });
  try {
    await sleep(options.warmupSeconds * 1000);
    const before = {
      machine: await machineStat(),
      servers: await cpuTicks([cluster]),
      idle: await cpuTicks(options.idle),
      harness: process.cpuUsage(),
      at: performance.now(),
    };
    cas.measuring = get.measuring = true;
    await sleep(options.seconds * 1000);
    cas.measuring = get.measuring = false;
    const after = {
      machine: await machineStat(),
      servers: await cpuTicks([cluster]),
      idle: await cpuTicks(options.idle),
      harness: process.cpuUsage(before.harness),
      at: performance.now(),
    };
    const seconds = (after.at - before.at) / 1000;
    const ops = cas.completed + get.completed;
    const total = after.machine.total - before.machine.total;
    const percent = (ticks: number) => (total > 0 ? (100 * ticks) / total : Number.NaN);
    const serverTicks = after.servers - before.servers;
    const harnessTicks = ((after.harness.user + after.harness.system) / 1e6) * clockTicksPerSecond;
    const idleTicks = after.idle - before.idle;
    const busyTicks = after.machine.busy - before.machine.busy;
    const latency = (w: Window): Latency => ({ count: w.completed, p50Ms: w.quantile(0.5), p99Ms: w.quantile(0.99) });
    return {
      system: system.name,
      pass: options.pass,
      clients,
      valueBytes: options.valueBytes,
      seconds,
      opsPerSecond: ops / seconds,
      cas: latency(cas),
      get: latency(get),
      errors,
      conflicts,
      staleReads,
      serverCpuPerOpUs: ops > 0 ? ((serverTicks / clockTicksPerSecond) * 1e6) / ops : Number.NaN,
      machine: {
        cores: total / clockTicksPerSecond / seconds,
        stealPercent: percent(after.machine.steal - before.machine.steal),
        serversPercent: percent(serverTicks),
        harnessPercent: percent(harnessTicks),
        idleClustersPercent: percent(idleTicks),
        otherPercent: percent(Math.max(0, busyTicks - serverTicks - harnessTicks - idleTicks)),
      },
    };
  } finally {
    stopping = true;
    // A request lost for good (a server gone) would hold its loop: close after a while regardless, which fails it.
    await Promise.race([Promise.all(loops), sleep(30_000)]);
    await Promise.all(adapters.map((a) => a.close()));
    await Promise.all(loops);
  }
}
