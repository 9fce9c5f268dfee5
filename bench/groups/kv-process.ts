/**
 * One process of the sharded KV benchmark (`kv.ts`), run as `node --import tsx
 * kv-process.ts CONFIG_JSON`: a `ShardedKv` member with `ranges` ranges over one
 * `TcpTransport` and one `SharedFileLog` (fsync on) under `dir`, leaders spread by the
 * sharded KV itself.
 *
 * Requests (see `../kv/parent.ts`): `leaders`, the range groups this process leads;
 * `load { clients, seconds }`, runs `clients` closed loops on the ranges this process
 * leads (spread evenly), each compare-and-setting a key of its own in its range (a put
 * with the version it last wrote), and answers with the writes done and this process's
 * CPU time over the window.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { answerParent, tellReady } from '../kv/parent.js';

const built = process.env['SYNOD_BENCH_BUILT'] === '1';
const from = (src: string, dist: string): string => {
  const path = fileURLToPath(new URL(built ? `../../dist/${dist}` : `../../src/${src}`, import.meta.url));
  if (built && !existsSync(path)) throw new Error(`SYNOD_BENCH_BUILT=1 but ${path} is missing: run npm run build first`);
  return path;
};
const { createShardedKv } = (await import(from('kv/index.ts', 'kv/index.js'))) as typeof import('../../src/kv/index.js');
const { SharedFileLog } = (await import(from('storage/file/index.ts', 'storage/file/index.js'))) as typeof import('../../src/storage/file/index.js');
const { TcpTransport } = (await import(from('transport/tcp/index.ts', 'transport/tcp/index.js'))) as typeof import('../../src/transport/tcp/index.js');

/** What `kv.ts` passes on the command line, as JSON. */
export interface KvHostConfig {
  readonly id: string;
  readonly members: readonly string[];
  readonly ports: Readonly<Record<string, number>>;
  readonly ranges: number;
  readonly dir: string;
}

/** What `load` answers. */
export interface KvLoadResult {
  readonly writes: number;
  readonly cpuMicros: number;
  readonly seconds: number;
  readonly rangesLed: number;
}

/** The key range `i` of `n` starts at: ranges cut evenly over `k/0000` to `k/9999`. */
export function splitKeys(n: number): string[] {
  return Array.from({ length: n - 1 }, (_, i) => `k/${String(Math.round(((i + 1) * 10_000) / n)).padStart(4, '0')}`);
}

const config = JSON.parse(process.argv[2]!) as KvHostConfig;
const address = (id: string) => ({ host: '127.0.0.1', port: config.ports[id]! });
const transport = new TcpTransport({
  id: config.id,
  clusterId: 'bench-sharded-kv',
  listen: address(config.id),
  peers: Object.fromEntries(config.members.filter((m) => m !== config.id).map((m) => [m, address(m)])),
  secret: 'bench-sharded-kv-secret-0123456789',
});
const log = await SharedFileLog.open(join(config.dir, config.id));
const kv = createShardedKv({
  id: config.id,
  members: config.members,
  transport,
  storage: (g) => log.group(g),
  dropStorage: (g) => log.dropGroup(g),
  splitKeys: splitKeys(config.ranges),
});
await kv.start();

const led = (): number[] => kv.rangeMap.ranges.flatMap((r) => (kv.shard(r.group)?.node.status().role === 'leader' ? [r.group] : []));

async function load(clients: number, seconds: number): Promise<KvLoadResult> {
  const groups = led();
  const value = new Uint8Array(100).fill(7);
  let writes = 0;
  let running = true;
  const loop = async (i: number, group: number) => {
    const range = kv.rangeMap.ranges.find((r) => r.group === group)!;
    const key = `${range.start === '' ? 'k/' : range.start}/${config.id}/${i}`;
    let version = (await kv.get(key))?.version ?? 0;
    while (running) {
      version = (await kv.put(key, value, { expectedVersion: version })).version;
      writes++;
    }
  };
  const loops = groups.length === 0 ? [] : Array.from({ length: clients }, (_, i) => loop(i, groups[i % groups.length]!));
  const cpu = process.cpuUsage();
  const started = performance.now();
  const before = writes;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const done = writes - before;
  const elapsed = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  running = false;
  await Promise.allSettled(loops);
  return { writes: done, cpuMicros: used.user + used.system, seconds: elapsed, rangesLed: groups.length };
}

answerParent({ leaders: () => led(), load: (r) => load(r['clients'] as number, r['seconds'] as number) }, async () => {
  await kv.close();
  await log.close();
});
tellReady({ id: config.id });
