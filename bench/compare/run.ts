/**
 * The comparison benchmark: etcd, ZooKeeper and synod, each three local processes with
 * fsync on, driven by the same closed-loop clients through one adapter (see
 * point.ts), measured in the same run.
 *
 * All three clusters run for the whole benchmark; each point is measured for each
 * system in turn, in an order rotated every pass, so that drift in the machine's load
 * falls on all three alike. The servers' CPU is read from /proc/PID/stat, the
 * machine's steal and other load from /proc/stat, per point.
 *
 * Writes `compare.json` (every pass of every point, and the medians) and three SVG
 * figures into `--out`, and prints a table. A benchmark, not a test: it never fails on
 * its numbers. Needs the setup (bench/compare/setup.sh); `npm run bench:compare` runs
 * both. A short run: `--clients 1,16 --seconds 2 --warmup 1 --passes 1 --sizes 100`.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { saveCluster } from './cluster.js';
import { parseOptions } from './options.js';
import { measurePoint, type PointResult } from './point.js';
import { drawFigures, figureFiles } from './plot.js';
import { killServersOnExit, stopServers } from './processes.js';
import { machineStat } from './proc-stat.js';
import { summarize } from './summary.js';
import type { RunningCluster } from './system.js';
import { systems } from './systems.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const options = parseOptions(process.argv.slice(2), join(here, 'results'));
const out = resolve(options.out);
const cpus = os.cpus();
const machine = {
  cores: cpus.length,
  model: cpus[0]?.model ?? 'unknown',
  memoryGiB: Math.round(os.totalmem() / 2 ** 30),
  kernel: os.release(),
  node: process.version,
  date: new Date().toISOString(),
};
const caption = `${machine.date.slice(0, 10)}: ${machine.cores} × ${machine.model}, Node ${machine.node}; ${options.passes} pass(es), ${options.seconds} s windows after ${options.warmupSeconds} s warm-up`;
console.log(`compare: ${caption}`);

// The machine's load before any server starts: what the per-point "other" column compares with.
const quiet = await (async () => {
  const before = await machineStat();
  await new Promise((r) => setTimeout(r, 2_000));
  const after = await machineStat();
  const total = after.total - before.total;
  return { busyPercent: (100 * (after.busy - before.busy)) / total, stealPercent: (100 * (after.steal - before.steal)) / total };
})();
console.log(`before the servers start: ${quiet.busyPercent.toFixed(0)}% of the cores busy, ${quiet.stealPercent.toFixed(0)}% stolen`);

const base = await mkdtemp(join(process.env['SYNOD_BENCH_DIR'] ?? os.tmpdir(), 'synod-compare-'));
const clusters: RunningCluster[] = [];
let stopping: Promise<void> | undefined;
const stopAll = () =>
  (stopping ??= (async () => {
    await stopServers(clusters.flatMap((c) => c.servers));
    await rm(base, { recursive: true, force: true });
  })());
killServersOnExit(() => clusters.flatMap((c) => c.servers));
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void stopAll().finally(() => process.exit(130)));
}

try {
  for (const name of options.systems) {
    const dir = join(base, name);
    await mkdir(dir);
    const started = performance.now();
    const cluster = await systems[name].start(dir);
    clusters.push(cluster);
    await saveCluster(cluster);
    console.log(
      `${name}: serving on ${cluster.endpoints.join(', ')} after ${Math.round(performance.now() - started)} ms (pids ${cluster.servers.map((s) => s.pid).join(', ')}; state in ${dir})`,
    );
  }
  const points: PointResult[] = [];
  console.log(
    '| pass | system | value | clients | ops/s | CAS p50 / p99 ms | get p50 / p99 ms | server CPU µs/op | servers / clients / idle clusters / other / steal, % of cores | errors, conflicts, stale |',
  );
  console.log('|---:|---|---:|---:|---:|---:|---:|---:|---|---|');
  for (let pass = 1; pass <= options.passes; pass++) {
    for (const valueBytes of options.sizes) {
      for (const clients of options.clients) {
        for (let k = 0; k < clusters.length; k++) {
          const cluster = clusters[(k + pass - 1) % clusters.length]!;
          const p = await measurePoint({
            system: systems[cluster.system],
            cluster,
            idle: clusters.filter((c) => c !== cluster),
            pass,
            clients,
            valueBytes,
            seconds: options.seconds,
            warmupSeconds: options.warmupSeconds,
          });
          points.push(p);
          await systems[cluster.system].compact(cluster);
          const m = p.machine;
          console.log(
            `| ${pass} | ${p.system} | ${p.valueBytes} B | ${p.clients} | ${Math.round(p.opsPerSecond)} | ${p.cas.p50Ms.toFixed(2)} / ${p.cas.p99Ms.toFixed(2)} | ${p.get.p50Ms.toFixed(2)} / ${p.get.p99Ms.toFixed(2)} | ${Math.round(p.serverCpuPerOpUs)} | ${[m.serversPercent, m.harnessPercent, m.idleClustersPercent, m.otherPercent, m.stealPercent].map((v) => v.toFixed(0)).join(' / ')} | ${p.errors}, ${p.conflicts}, ${p.staleReads} |`,
          );
        }
      }
    }
  }
  const summary = summarize(points);
  await mkdir(out, { recursive: true });
  await writeFile(
    join(out, 'compare.json'),
    `${JSON.stringify({ machine, beforeServers: quiet, options: { ...options, out: undefined }, caption, summary, points }, null, 2)}\n`,
  );
  await drawFigures(summary, out, caption);
  console.log(`\nmedians over ${options.passes} pass(es):`);
  console.log('| system | value | clients | ops/s (min–max) | CAS p50 / p99 ms | get p50 / p99 ms | server CPU µs/op | max other load / steal % |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---|');
  for (const s of summary) {
    console.log(
      `| ${s.system} | ${s.valueBytes} B | ${s.clients} | ${Math.round(s.opsPerSecond)} (${Math.round(s.opsPerSecondMin)}–${Math.round(s.opsPerSecondMax)}) | ${s.casP50Ms.toFixed(2)} / ${s.casP99Ms.toFixed(2)} | ${s.getP50Ms.toFixed(2)} / ${s.getP99Ms.toFixed(2)} | ${Math.round(s.serverCpuPerOpUs)} | ${s.otherPercentMax.toFixed(0)} / ${s.stealPercentMax.toFixed(0)} |`,
    );
  }
  console.log(`\nwrote compare.json, ${Object.values(figureFiles).join(', ')} in ${out}`);
} finally {
  await stopAll();
}
process.exit(0);
