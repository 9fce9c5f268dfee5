/**
 * What idle groups cost (issue "Many consensus groups per process", section 3): three
 * processes on this machine, each a `GroupHost` running every group (ids 0 to G - 1, all
 * on the same three members) over one `TcpTransport` and one `SharedFileLog` (fsync on),
 * with no load. Per point: the groups start, elect, and (with quiescence, the host's
 * default) go quiet; then, over a window with no load, each process's CPU time, and its
 * V8 heap after a full GC (`--expose-gc`) and resident set at the window's end.
 *
 * - CPU: the three processes' user + system time over the window, as a share of one
 *   core, in all and per idle group (the machine's other load is printed with each point).
 * - Memory per group: (heap with G groups - heap with no group) / G, per process, and
 *   the same for the resident set. The no-group point runs in the same invocation.
 * - Baseline: the same groups with quiescence off (`quiescence: false`, every group
 *   ticking and heartbeating), at the counts given with `--ticking` (default the
 *   smallest: ticking 10,000 groups takes this 2-core machine over); ticking twice,
 *   on the host's one beat (the default: one timer, heartbeats to a peer in one host
 *   message a turn) and with a clock of its own per group (a timer each, ticks and
 *   heartbeats scattered), with the groups' heartbeats per host message of each.
 *
 * A benchmark, not a test: it reports and never fails on its numbers. Run:
 * `npx tsx bench/groups/idle.ts [--groups 1000,10000] [--ticking 1000] [--seconds 10]`.
 * `SYNOD_BENCH_BUILT=1` runs the processes on the build (`npm run build` first), as a
 * user runs the package: from src, tsx gives every closure a property store of its own
 * to keep function names, about 8 KiB more per node.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/cli/cluster-up.js';
import { Child } from '../kv/child.js';
import { waitFor } from './wait-for.js';
import type { HostConfig, IdleResult } from './host-process.js';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : (process.argv[i + 1] ?? fallback);
}
const groupCounts = option('groups', '1000,10000').split(',').map(Number);
const ticking = option('ticking', String(Math.min(...groupCounts)))
  .split(',')
  .filter(Boolean)
  .map(Number);
const seconds = Number(option('seconds', '10'));
const usage = 'usage: tsx bench/groups/idle.ts [--groups 1000,10000] [--ticking 1000] [--seconds 10]';
if (![...groupCounts, ...ticking].every((g) => Number.isInteger(g) && g > 0) || !(seconds > 0)) throw new Error(usage);

const members = ['a', 'b', 'c'];
const nodeFlags = ['--expose-gc', '--max-old-space-size=8192', ...(process.env['SYNOD_BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean)];
const script = fileURLToPath(new URL('./host-process.ts', import.meta.url));

interface Point {
  readonly groups: number;
  readonly quiescence: boolean;
  readonly beat: boolean;
  /** Groups' heartbeats and replies per host message carrying them, over the window. */
  readonly heartbeatsPerMessage: number;
  /** The three processes' CPU over the window, in ms per second (1,000 is one core). */
  readonly cpuMsPerSecond: number;
  /** Per process, averaged: heap after GC, resident set, in bytes. */
  readonly heapUsed: number;
  readonly rss: number;
  /** Nodes quiesced at the window's end, of 3 × groups. */
  readonly quiesced: number;
  readonly setupSeconds: number;
}

async function measure(groups: number, quiescence: boolean, beat = true): Promise<Point> {
  const dir = await mkdtemp(join(process.env['SYNOD_BENCH_DIR'] ?? os.tmpdir(), 'synod-groups-idle-'));
  const ports: Record<string, number> = {};
  for (const m of members) ports[m] = await freePort();
  const config = (id: string): HostConfig => ({ id, members, ports, groups, dir, log: 'shared', quiescence, beat });
  const hosts = members.map((id) => new Child(id, script, [JSON.stringify(config(id))], nodeFlags));
  const started = performance.now();
  try {
    await Promise.all(hosts.map((h) => h.ready()));
    if (groups > 0) {
      const ask = <T>(op: string): Promise<T[]> => Promise.all(hosts.map((h) => h.ask<T>(op, {}, 60_000)));
      await waitFor('a leader in every group', 600_000, async () => ((await ask<number[]>('leaders')).flat().length === groups ? true : undefined));
      if (quiescence) {
        await waitFor('every group quiesced', 600_000, async () =>
          (await ask<number>('quiesced')).reduce((a, b) => a + b, 0) === 3 * groups ? true : undefined,
        );
      } else {
        await new Promise((r) => setTimeout(r, 2_000));
      }
    }
    const setupSeconds = (performance.now() - started) / 1000;
    const results = await Promise.all(hosts.map((h) => h.ask<IdleResult>('idle', { seconds }, (seconds + 120) * 1000)));
    const window = Math.max(...results.map((r) => r.seconds));
    const cpuMs = results.reduce((s, r) => s + r.cpuMicros, 0) / 1000;
    const mean = (f: (r: IdleResult) => number) => results.reduce((s, r) => s + f(r), 0) / results.length;
    const sum = (f: (r: IdleResult) => number) => results.reduce((s, r) => s + f(r), 0);
    return {
      groups,
      quiescence,
      beat,
      heartbeatsPerMessage:
        sum((r) => r.heartbeats) /
        Math.max(
          1,
          sum((r) => r.heartbeatMessages),
        ),
      cpuMsPerSecond: cpuMs / window,
      heapUsed: mean((r) => r.heapUsed),
      rss: mean((r) => r.rss),
      quiesced: results.reduce((s, r) => s + r.quiesced, 0),
      setupSeconds,
    };
  } finally {
    await Promise.all(hosts.map((h) => h.close()));
    await rm(dir, { recursive: true, force: true });
  }
}

const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
console.log(`bench/groups/idle: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}, load ${load()}; ${seconds} s idle windows`);
const empty = await measure(0, true);
const kib = (bytes: number) => `${(bytes / 1024).toFixed(2)} KiB`;
console.log(
  `no group: ${empty.cpuMsPerSecond.toFixed(1)} ms CPU per s (3 processes), heap ${(empty.heapUsed / 2 ** 20).toFixed(1)} MiB, rss ${(empty.rss / 2 ** 20).toFixed(1)} MiB per process`,
);
const runs = [...groupCounts.map((g) => [g, true, true] as const), ...ticking.flatMap((g) => [[g, false, true] as const, [g, false, false] as const])];
for (const [groups, quiescence, beat] of runs) {
  const p = await measure(groups, quiescence, beat);
  const cpuPerGroup = (p.cpuMsPerSecond - empty.cpuMsPerSecond) / groups;
  const mode = quiescence ? 'quiescent' : beat ? 'ticking on one beat' : 'ticking, own timers';
  console.log(
    `${String(groups).padStart(6)} groups, ${mode}: ${p.quiesced}/${3 * groups} nodes quiesced; ${p.heartbeatsPerMessage.toFixed(1)} heartbeats a host message; ` +
      `CPU ${p.cpuMsPerSecond.toFixed(1)} ms/s (${((p.cpuMsPerSecond / 1000) * 100).toFixed(2)}% of one core; ${(cpuPerGroup * 1000).toFixed(2)} µs/s per group beyond no group); ` +
      `per group per process: heap ${kib((p.heapUsed - empty.heapUsed) / groups)}, rss ${kib((p.rss - empty.rss) / groups)}; ` +
      `set up in ${p.setupSeconds.toFixed(1)} s; load ${load()}`,
  );
}
