/**
 * The sharded KV benchmark (issue "Many consensus groups per process", sections 2 and
 * 3): three processes on this machine, each a `ShardedKv` member (`kv-process.ts`) with
 * every range on all three, one `TcpTransport` and one `SharedFileLog` each (fsync on),
 * the ranges' leaders spread by the sharded KV (group g led by member g mod 3).
 * Compare-and-set writes per second at `--clients` closed-loop clients (default 256)
 * with 1, 8 and 64 ranges, against one range's figure of the same run, passes
 * interleaved.
 *
 * A client is a closed loop in the process that leads its range, writing a key of its
 * own with the version it last wrote: the sharded KV's routing and a range's KV state
 * machine, without a client connection. CPU per write: user + system of the three
 * processes over the window, over the writes done.
 *
 * A benchmark, not a test. Run: `npx tsx bench/groups/kv.ts [--ranges 1,8,64]
 * [--clients 256] [--seconds 5] [--passes 2]` (`npm run bench:groups:kv`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/cli/cluster-up.js';
import { Child } from '../kv/child.js';
import { waitFor } from './wait-for.js';
import type { KvHostConfig, KvLoadResult } from './kv-process.js';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : (process.argv[i + 1] ?? fallback);
}
const rangeCounts = option('ranges', '1,8,64').split(',').map(Number);
const clients = Number(option('clients', '256'));
const seconds = Number(option('seconds', '5'));
const passes = Number(option('passes', '2'));
const warmupSeconds = 1;
if (!rangeCounts.every((g) => Number.isInteger(g) && g > 0) || !(clients > 0) || !(seconds > 0) || !(passes > 0))
  throw new Error('usage: tsx bench/groups/kv.ts [--ranges 1,8,64] [--clients 256] [--seconds 5] [--passes 2]');

const members = ['a', 'b', 'c'];
const nodeFlags = (process.env['SYNOD_BENCH_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
const script = fileURLToPath(new URL('./kv-process.ts', import.meta.url));

interface Point {
  readonly ranges: number;
  readonly pass: number;
  readonly writesPerSecond: number;
  readonly cpuMsPerWrite: number;
}

async function measure(ranges: number, pass: number): Promise<Point> {
  const dir = await mkdtemp(join(process.env['SYNOD_BENCH_DIR'] ?? os.tmpdir(), 'synod-sharded-kv-'));
  const ports: Record<string, number> = {};
  for (const m of members) ports[m] = await freePort();
  const hosts = members.map((id) => new Child(id, script, [JSON.stringify({ id, members, ports, ranges, dir } satisfies KvHostConfig)], nodeFlags));
  try {
    await Promise.all(hosts.map((h) => h.ready()));
    // The sharded KV spreads the leaders by itself: wait until each range is led by its member.
    await waitFor('leaders spread', 60_000, async () => {
      const led = await Promise.all(hosts.map((h) => h.ask<number[]>('leaders')));
      return led.every((groups, i) => groups.every((g) => g % members.length === i)) && led.flat().length === ranges ? true : undefined;
    });
    const led = await Promise.all(hosts.map((h) => h.ask<number[]>('leaders')));
    const share = (i: number) => Math.round((clients * led[i]!.length) / ranges);
    await Promise.all(hosts.map((h, i) => h.ask('load', { clients: share(i), seconds: warmupSeconds })));
    const results = await Promise.all(hosts.map((h, i) => h.ask<KvLoadResult>('load', { clients: share(i), seconds }, (seconds + 30) * 1000)));
    const writes = results.reduce((s, r) => s + r.writes, 0);
    const window = Math.max(...results.map((r) => r.seconds));
    const cpuMs = results.reduce((s, r) => s + r.cpuMicros, 0) / 1000;
    return { ranges, pass, writesPerSecond: writes / window, cpuMsPerWrite: cpuMs / writes };
  } finally {
    await Promise.all(hosts.map((h) => h.close()));
    await rm(dir, { recursive: true, force: true });
  }
}

console.log(
  `bench/groups/kv: ${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}, load ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}; ${clients} clients, ${seconds} s windows after ${warmupSeconds} s warm-up, ${passes} passes`,
);
const points: Point[] = [];
for (let pass = 1; pass <= passes; pass++) {
  for (const ranges of rangeCounts) {
    const p = await measure(ranges, pass);
    points.push(p);
    const base = points.find((q) => q.ranges === 1 && q.pass === pass);
    console.log(
      `pass ${pass} ranges ${String(ranges).padStart(3)}: ${p.writesPerSecond.toFixed(0).padStart(7)} CAS/s, ${p.cpuMsPerWrite.toFixed(3)} ms CPU per write` +
        (base !== undefined && ranges !== 1
          ? `; ÷ one range: ${(p.writesPerSecond / base.writesPerSecond).toFixed(2)} CAS/s, ${(p.cpuMsPerWrite / base.cpuMsPerWrite).toFixed(2)} CPU per write`
          : ''),
    );
  }
}
console.log(JSON.stringify({ clients, seconds, points }));
