/**
 * Many groups benchmark (issue "Many consensus groups per process", section 3): three
 * processes on this machine, each a `GroupHost` running every group (ids 0 to G - 1,
 * all on the same three members) over one `TcpTransport`, with a `FileStorage` per group
 * or one shared log (fsync on). Writes per second at `--clients` closed-loop clients (default 256) with
 * 1, 8 and 64 groups, against the single group's figure of the same run; each with one
 * `SharedFileLog` for all groups and with a `FileStorage` per group (`--logs`).
 *
 * - Leaders are spread evenly: group g is led by member g mod 3 (moved there with
 *   `transferLeadership` after the start).
 * - A client is a closed loop in the process that leads its group, proposing a 100-byte
 *   command on the group's node and awaiting it; the clients are spread over the groups
 *   evenly. This measures the library (a `SynodNode` per group, no KV and no client
 *   connection): the sharded KV is not built yet.
 * - CPU per write: user + system of the three processes over the window
 *   (`process.cpuUsage()`), over the writes chosen.
 * - CPU and memory of idle groups (1,000 and 10,000): `idle.ts` (`npm run bench:groups:idle`).
 *
 * A benchmark, not a test: it reports and never fails on its numbers. Run:
 * `npx tsx bench/groups/run.ts [--groups 1,8,64] [--clients 256] [--seconds 5]`;
 * `SYNOD_BENCH_NODE_ARGS` is passed to each process's Node (for example `--cpu-prof`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/cli/cluster-up.js';
import { Child } from '../kv/child.js';
import { waitFor } from './wait-for.js';
import type { HostConfig, LoadResult } from './host-process.js';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : (process.argv[i + 1] ?? fallback);
}
const groupCounts = option('groups', '1,8,64').split(',').map(Number);
const clients = Number(option('clients', '256'));
const seconds = Number(option('seconds', '5'));
const logs = option('logs', 'shared,per-group').split(',') as HostConfig['log'][];
const warmupSeconds = 1;
const usage = 'usage: tsx bench/groups/run.ts [--groups 1,8,64] [--clients 256] [--seconds 5] [--logs shared,per-group]';
if (!groupCounts.every((g) => Number.isInteger(g) && g > 0) || !(clients > 0) || !(seconds > 0)) throw new Error(usage);
if (!logs.every((l) => l === 'shared' || l === 'per-group')) throw new Error(usage);

const members = ['a', 'b', 'c'];
/** Node flags for every process, from `SYNOD_BENCH_NODE_ARGS` (`--cpu-prof --cpu-prof-dir=DIR` profiles them). */
const nodeFlags = (process.env['SYNOD_BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
const script = fileURLToPath(new URL('./host-process.ts', import.meta.url));

interface Point {
  readonly log: HostConfig['log'];
  readonly groups: number;
  readonly writesPerSecond: number;
  readonly cpuMsPerWrite: number;
  /** The shared log's persists per fdatasync, all processes (NaN with a log per group). */
  readonly persistsPerSync: number;
}

async function measure(groups: number, log: HostConfig['log']): Promise<Point> {
  const dir = await mkdtemp(join(process.env['SYNOD_BENCH_DIR'] ?? os.tmpdir(), 'synod-groups-'));
  const ports: Record<string, number> = {};
  for (const m of members) ports[m] = await freePort();
  const hosts = members.map((id) => new Child(id, script, [JSON.stringify({ id, members, ports, groups, dir, log } satisfies HostConfig)], nodeFlags));
  try {
    await Promise.all(hosts.map((h) => h.ready()));
    const leaders = async (): Promise<number[][]> => Promise.all(hosts.map((h) => h.ask<number[]>('leaders')));
    await waitFor('a leader in every group', 60_000, async () => ((await leaders()).flat().length === groups ? true : undefined));
    // Spread: group g to member g mod 3.
    await waitFor('leaders spread evenly', 60_000, async () => {
      const now = await leaders();
      const moves: Promise<unknown>[] = [];
      for (const [i, led] of now.entries())
        for (const g of led) if (g % members.length !== i) moves.push(hosts[i]!.ask('transfer', { group: g, to: members[g % members.length] }).catch(() => {}));
      if (moves.length === 0 && now.flat().length === groups) return true;
      await Promise.all(moves);
      return undefined;
    });
    const spread = await leaders();
    const share = (i: number) => Math.round((clients * spread[i]!.length) / groups);
    await Promise.all(hosts.map((h, i) => h.ask('load', { clients: share(i), seconds: warmupSeconds })));
    const results = await Promise.all(hosts.map((h, i) => h.ask<LoadResult>('load', { clients: share(i), seconds }, (seconds + 30) * 1000)));
    const chosen = results.reduce((s, r) => s + r.chosen, 0);
    const window = Math.max(...results.map((r) => r.seconds));
    const cpuMs = results.reduce((s, r) => s + r.cpuMicros, 0) / 1000;
    const persists = results.reduce((s, r) => s + r.persists, 0);
    const fsyncs = results.reduce((s, r) => s + r.fsyncs, 0);
    return { log, groups, writesPerSecond: chosen / window, cpuMsPerWrite: cpuMs / chosen, persistsPerSync: fsyncs === 0 ? Number.NaN : persists / fsyncs };
  } finally {
    await Promise.all(hosts.map((h) => h.close()));
    await rm(dir, { recursive: true, force: true });
  }
}

console.log(
  `bench/groups: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}, load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}; ${clients} clients, ${seconds} s windows after ${warmupSeconds} s warm-up`,
);
const points: Point[] = [];
// Interleaved: each group count runs with each log kind before the next count.
for (const g of groupCounts) {
  for (const log of logs) {
    const p = await measure(g, log);
    points.push(p);
    const base = points.find((q) => q.groups === 1 && q.log === log) ?? points.find((q) => q.groups === 1);
    console.log(
      `${log.padEnd(9)} groups ${String(g).padStart(3)}: ${p.writesPerSecond.toFixed(0).padStart(7)} writes/s, ${p.cpuMsPerWrite.toFixed(3)} ms CPU per write` +
        (Number.isNaN(p.persistsPerSync) ? '' : `, ${p.persistsPerSync.toFixed(1)} persists per sync`) +
        (base !== undefined && g !== 1
          ? `; ÷ one group: ${(p.writesPerSecond / base.writesPerSecond).toFixed(2)} writes/s, ${(p.cpuMsPerWrite / base.cpuMsPerWrite).toFixed(2)} CPU per write`
          : ''),
    );
  }
}
