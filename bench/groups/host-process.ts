/**
 * One process of the groups benchmark, run by `run.ts` as `node --import tsx
 * host-process.ts CONFIG_JSON`: a {@link GroupHost} with `groups` groups (ids 0 to
 * groups - 1, each on the same three members), one {@link TcpTransport} shared by all of
 * them, and either one {@link SharedFileLog} for all groups or a {@link FileStorage} per
 * group (`log`; fsync on, the default) under `dir`.
 *
 * Requests (see `../kv/parent.ts`): `leaders`, the groups this process leads;
 * `transfer { group, to }`, hands a group's leadership to `to`; `load { clients,
 * seconds }`, runs `clients` closed loops on the groups this process leads (spread
 * evenly), each proposing a 100-byte command and awaiting it, for `seconds`, and
 * answers with the commands chosen and this process's CPU time over the window.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StateMachine, Storage, SynodNode } from '../../src/runtime/index.js';
import { answerParent, tellReady } from '../kv/parent.js';

// The library from src (through tsx), or with SYNOD_BENCH_BUILT=1 from the build, as a
// user runs it: tsx keeps every function's name with a helper that gives each closure
// a property store of its own, which adds about 8 KiB to every node's memory.
const built = process.env['SYNOD_BENCH_BUILT'] === '1';
const from = (src: string, dist: string): string => {
  const path = fileURLToPath(new URL(built ? `../../dist/${dist}` : `../../src/${src}`, import.meta.url));
  if (built && !existsSync(path)) throw new Error(`SYNOD_BENCH_BUILT=1 but ${path} is missing: run npm run build first`);
  return path;
};
const { GroupHost, bytesCodec, systemClock } = (await import(from('index.ts', 'index.js'))) as typeof import('../../src/index.js');
const { FileStorage, SharedFileLog } = (await import(
  from('storage/file/index.ts', 'storage/file/index.js')
)) as typeof import('../../src/storage/file/index.js');
const { TcpTransport } = (await import(from('transport/tcp/index.ts', 'transport/tcp/index.js'))) as typeof import('../../src/transport/tcp/index.js');

/** What `run.ts` passes on the command line, as JSON. */
export interface HostConfig {
  readonly id: string;
  readonly members: readonly string[];
  /** Every member's peer address, this one's included (it listens there). */
  readonly ports: Readonly<Record<string, number>>;
  readonly groups: number;
  readonly dir: string;
  /** One `SharedFileLog` for all groups, or a `FileStorage` per group. */
  readonly log: 'shared' | 'per-group';
  /** Whether idle groups quiesce (the host's default). Default true. */
  readonly quiescence?: boolean;
  /** Whether the groups tick on the host's one beat (the default), or each on timers of its own (a clock given to each group). Default true. */
  readonly beat?: boolean;
}

/** What `idle` answers: this process over a window with no load. */
export interface IdleResult {
  readonly cpuMicros: number;
  readonly seconds: number;
  /** V8 heap in use after a full GC, and the resident set, in bytes, at the window's end. */
  readonly heapUsed: number;
  readonly rss: number;
  /** This process's nodes that were quiesced at the window's end. */
  readonly quiesced: number;
  /** The groups' heartbeats and replies sent over the window, and the host messages that carried them. */
  readonly heartbeats: number;
  readonly heartbeatMessages: number;
}

/** What `load` answers. */
export interface LoadResult {
  readonly chosen: number;
  readonly cpuMicros: number;
  readonly seconds: number;
  readonly groupsLed: number;
  /** Persists and fdatasyncs of the shared log over the window (0 with a log per group). */
  readonly persists: number;
  readonly fsyncs: number;
}

/** Counts commands: the state machine's own work stays negligible. */
class Counter implements StateMachine<Uint8Array, number> {
  private n = 0;
  apply(): number {
    return ++this.n;
  }
}

const config = JSON.parse(process.argv[2]!) as HostConfig;
const address = (id: string) => ({ host: '127.0.0.1', port: config.ports[id]! });
const transport = new TcpTransport({
  id: config.id,
  clusterId: 'bench-groups',
  listen: address(config.id),
  peers: Object.fromEntries(config.members.filter((m) => m !== config.id).map((m) => [m, address(m)])),
  secret: 'bench-groups-secret-0123456789abcdef',
});
const storages = new Map<number, Storage>();
const shared = config.log === 'shared' ? await SharedFileLog.open(join(config.dir, config.id)) : undefined;
for (let g = 0; g < config.groups; g++) {
  if (shared !== undefined) {
    storages.set(g, shared.group(g));
    continue;
  }
  const dir = join(config.dir, config.id, String(g));
  await mkdir(dir, { recursive: true });
  storages.set(g, await FileStorage.open(dir));
}
const host = new GroupHost({ id: config.id, transport, storage: (g) => storages.get(g)!, ...(config.quiescence === false ? { quiescence: false } : {}) });
await host.start();
const nodes: SynodNode<Uint8Array, number>[] = [];
for (let g = 0; g < config.groups; g++)
  nodes.push(
    host.createGroup<Uint8Array, number>(g, {
      members: config.members,
      stateMachine: new Counter(),
      codec: bytesCodec,
      ...(config.beat === false ? { clock: systemClock } : {}),
    }),
  );
await Promise.all(nodes.map((n) => n.start()));

const led = (): number[] => nodes.flatMap((n, g) => (n.status().role === 'leader' ? [g] : []));

async function load(clients: number, seconds: number): Promise<LoadResult> {
  const groups = led();
  const command = new Uint8Array(100).fill(7);
  let chosen = 0;
  let running = true;
  const loop = async (node: SynodNode<Uint8Array, number>) => {
    while (running) {
      await node.propose(command);
      chosen++;
    }
  };
  const loops = groups.length === 0 ? [] : Array.from({ length: clients }, (_, i) => loop(nodes[groups[i % groups.length]!]!));
  const cpu = process.cpuUsage();
  const logBefore = shared?.stats;
  const started = performance.now();
  const before = chosen;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const done = chosen - before;
  const elapsed = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const logAfter = shared?.stats;
  running = false;
  await Promise.allSettled(loops);
  return {
    chosen: done,
    cpuMicros: used.user + used.system,
    seconds: elapsed,
    groupsLed: groups.length,
    persists: (logAfter?.persists ?? 0) - (logBefore?.persists ?? 0),
    fsyncs: (logAfter?.fsyncs ?? 0) - (logBefore?.fsyncs ?? 0),
  };
}

const quiesced = (): number => nodes.reduce((n, node) => n + (node.status().quiesced ? 1 : 0), 0);

/** A window with no load: CPU time over it, then memory after a full GC (node --expose-gc). */
async function idle(seconds: number): Promise<IdleResult> {
  const cpu = process.cpuUsage();
  const counts = host.counts();
  const started = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const elapsed = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const after = host.counts();
  (globalThis as { gc?: () => void }).gc?.();
  const memory = process.memoryUsage();
  return {
    cpuMicros: used.user + used.system,
    seconds: elapsed,
    heapUsed: memory.heapUsed,
    rss: memory.rss,
    quiesced: quiesced(),
    heartbeats: after.heartbeats - counts.heartbeats,
    heartbeatMessages: after.heartbeatMessages - counts.heartbeatMessages,
  };
}

answerParent(
  {
    leaders: () => led(),
    quiesced: () => quiesced(),
    idle: (r) => idle(r['seconds'] as number),
    transfer: async (r) => {
      await nodes[r['group'] as number]!.transferLeadership(r['to'] as string, { timeoutMs: 10_000 });
      return null;
    },
    load: (r) => load(r['clients'] as number, r['seconds'] as number),
  },
  async () => {
    await host.close();
    await shared?.close();
  },
);
tellReady({ id: config.id });
