/**
 * KV benchmark: the replicated KV as it runs for real, three `KvServer` processes and a
 * process of clients on one machine, against the floors measured in the same run.
 *
 * - Servers (`server-process.ts`): three processes on 127.0.0.1, each a KvServer with
 *   FileStorage (fsync on, the default) in its own directory under a fresh temporary
 *   directory (`SYNOD_BENCH_DIR`, default the OS's), the options of `synod serve`.
 * - Clients (`load-process.ts`): one more process running N logical clients, each in a
 *   closed loop on its own key with its own KvClient (one TCP connection each:
 *   `--connections` shares fewer). `cas`: a versioned compare-and-set of a
 *   {@link valueBytes}-byte value (`put` with `expectedVersion` = the version the last put
 *   returned); `read`: a linearizable `get`. Clients connect to the leader first
 *   (`--target spread` rotates them over the three servers; followers forward).
 * - Points: each op at 1, 16 and 64 clients; per point a warm-up, then a measured window:
 *   operations completed per second; p50 and p99 latency of a uniform sample; CPU time
 *   (user + system, every thread) per operation of the servers summed (and of the leader
 *   alone) and of the client process. Server CPU comes from each server's own
 *   `process.cpuUsage()` (µs), asked over IPC at the window's edges; `/proc/<pid>/stat`
 *   (clock ticks) is read too, as a cross-check. For the diagnosis: the leader's
 *   commands per slot, fdatasyncs and peer messages per operation, the leader's system
 *   calls per operation (`/proc/<pid>/io`), and the CPU other processes took (the
 *   machine's busy time from `/proc/stat` less ours). {@link passesDefault} passes over
 *   every point, one row each, then the medians.
 * - Floors, same run: the raw round trip over one `node:net` connection on 127.0.0.1 to
 *   `echo-server.ts`, a CAS request's bytes out and its answer's back, from the client
 *   process (before the points and again after); and `write` + `fdatasync` of
 *   {@link valueBytes} bytes appended to a file in the servers' directory (and, for
 *   context, the same write to a file opened `O_DSYNC`); each with its CPU time per
 *   operation. A CAS needs at least two round trips (client to leader, leader to a
 *   follower) and one fdatasync; a linearizable read two round trips.
 * - Targets (from the issue): one client's CAS p50 at most {@link casP50TargetMs} ms; at
 *   {@link manyClients} clients at least {@link casPerSecondTarget} CAS/s and
 *   {@link readsPerSecondTarget} reads/s; at most {@link serverCpuPerWriteTargetMs} ms of
 *   server CPU per committed write, every replica summed.
 *
 * A benchmark, not a test: it reports and never fails on its numbers. Run with
 * `npx tsx bench/kv/run.ts`. Options: `--seconds S` (measured per point, default
 * {@link secondsDefault}), `--warmup S` (default {@link warmupSecondsDefault}),
 * `--passes N` (default {@link passesDefault}), `--quick` (1 s measured, 0.5 s warm-up:
 * a smoke run), `--ops cas,read`, `--clients 1,16,64`, `--connections N`, `--target
 * leader|spread`, `--snapshot-every SLOTS` (default {@link snapshotEverySlotsDefault}, as `synod serve`),
 * `--profile DIR` (a CPU profile of each server's main thread over each measured
 * window, `DIR/<op>-<clients>-pass<n>-<id>.cpuprofile`; see `profile-top.ts`),
 * `--shards N` (a sharded cluster of N ranges, the clients' keys spread over them),
 * `--route` (clients send each key to its range's leader).
 */
import { execFileSync } from 'node:child_process';
import { constants, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { type FileHandle, mkdtemp, open } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { readClusterConfig } from '../../src/cli/cluster-config.js';
import { writeLocalCluster } from '../../src/cli/cluster-up.js';
import { secondsFromEnv } from '../env.js';
import { Window } from '../window.js';
import { Child, atExit } from './child.js';
import type { FrameSizes, Kind, LoadMark, LoadWindow, RawRoundTrips, SetupRequest } from './load-process.js';
import type { ServerMark, ServerStatus } from './server-process.js';

const secondsDefault = 10;
const warmupSecondsDefault = 2;
const passesDefault = 2;
const clientsDefault = [1, 16, 64] as const;
const kindsDefault: readonly Kind[] = ['cas', 'read'];
const valueBytes = 100;
const members = 3;
/** `synod serve`'s snapshot interval (src/cli/serve.ts), in slots: the servers' unless `--snapshot-every`. */
const snapshotEverySlotsDefault = 10_000;
/** Measured seconds of each floor, at most (and its warm-up). */
const floorSecondsMax = 3;
const floorWarmupSeconds = 0.5;
/** How long the servers may take to agree on a leader, in ms. */
const electionWaitMsMax = 15_000;

const casP50TargetMs = 0.5;
const manyClients = 64;
const casPerSecondTarget = 10_000;
const readsPerSecondTarget = 10_000;
const serverCpuPerWriteTargetMs = 0.15;

const here = fileURLToPath(new URL('.', import.meta.url));
const script = (name: string): string => join(here, name);

// ------------------------------------------------------------------ options

type Target = 'leader' | 'spread';

interface Settings {
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly passes: number;
  readonly kinds: readonly Kind[];
  readonly clients: readonly number[];
  /** KvClients (connections) in the load process; undefined: one per logical client. */
  readonly connections: number | undefined;
  readonly target: Target;
  readonly profileDir: string | undefined;
  /** Slots between a server's snapshots; undefined: `synod serve`'s default. */
  readonly snapshotEverySlots: number | undefined;
  /** Ranges of a sharded cluster (`--shards N`); undefined: one group. */
  readonly shards: number | undefined;
  /** Clients route each key to its range's leader (`--route`: `routeToLeaders`). */
  readonly route: boolean;
}

function parseArgs(argv: readonly string[]): Settings {
  let seconds = secondsFromEnv('SYNOD_BENCH_SECONDS', secondsDefault);
  let warmupSeconds = secondsFromEnv('SYNOD_BENCH_WARMUP_SECONDS', warmupSecondsDefault);
  let passes = passesDefault;
  let kinds = kindsDefault;
  let clients: readonly number[] = clientsDefault;
  let connections: number | undefined;
  let target: Target = 'leader';
  let profileDir: string | undefined;
  let snapshotEverySlots: number | undefined;
  let shards: number | undefined;
  let route = false;
  const usage =
    'use --seconds S, --warmup S, --passes N, --quick, --ops cas,read, --clients 1,16,64, --connections N, --target leader|spread, --snapshot-every SLOTS, --profile DIR, --shards N, --route';
  const positive = (flag: string, text: string | undefined, integer: boolean): number => {
    const n = Number(text);
    if (!(n > 0) || (integer && !Number.isSafeInteger(n))) throw new Error(`${flag} ${text}: expected a positive ${integer ? 'integer' : 'number'}; ${usage}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--seconds') seconds = positive(a, argv[++i], false);
    else if (a === '--warmup') warmupSeconds = positive(a, argv[++i], false);
    else if (a === '--passes') passes = positive(a, argv[++i], true);
    else if (a === '--quick') {
      seconds = 1;
      warmupSeconds = 0.5;
    } else if (a === '--ops') {
      const list = (argv[++i] ?? '').split(',');
      if (list.some((k) => k !== 'cas' && k !== 'read')) throw new Error(`--ops ${list.join(',')}: expected cas and/or read; ${usage}`);
      kinds = list as Kind[];
    } else if (a === '--clients') clients = (argv[++i] ?? '').split(',').map((n) => positive(a, n, true));
    else if (a === '--connections') connections = positive(a, argv[++i], true);
    else if (a === '--target') {
      const t = argv[++i];
      if (t !== 'leader' && t !== 'spread') throw new Error(`--target ${t}: expected leader or spread; ${usage}`);
      target = t;
    } else if (a === '--snapshot-every') snapshotEverySlots = positive(a, argv[++i], true);
    else if (a === '--profile') profileDir = resolve(argv[++i] ?? '.');
    else if (a === '--shards') shards = positive(a, argv[++i], true);
    else if (a === '--route') route = true;
    else throw new Error(`unknown argument ${a}; ${usage}`);
  }
  return { seconds, warmupSeconds, passes, kinds, clients, connections, target, profileDir, snapshotEverySlots, shards, route };
}

// ------------------------------------------------------------------ the cluster

/** A server process and its member id. */
interface Server {
  readonly id: string;
  readonly child: Child;
}

/** Clock ticks per second of `/proc/<pid>/stat`'s CPU times. */
const clockTicksPerSecond = ((): number => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** Process `pid`'s CPU time (utime + stime) from `/proc/<pid>/stat`, in µs; undefined off Linux. */
function procCpuMicros(pid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1e6) / clockTicksPerSecond : undefined;
  } catch {
    return undefined;
  }
}

/** The machine's CPU time so far, all of it, busy (not idle nor waiting for I/O), and stolen by the hypervisor, in ticks (Linux only). */
function cpuTicks(): { total: number; busy: number; steal: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    if (fields.length < 8 || fields.some((n) => !Number.isFinite(n))) return undefined;
    const total = fields.reduce((a, b) => a + b, 0);
    return { total, busy: total - fields[3]! - fields[4]!, steal: fields[7]! };
  } catch {
    return undefined;
  }
}

/** Polls the servers until every one names the same leader and that one leads; its id. */
/** How long a sharded cluster is given to spread its groups' leaders before the clients connect, in ms. */
const shardsSettleMs = 4_000;

async function leaderOf(servers: readonly Server[]): Promise<string> {
  const deadline = performance.now() + electionWaitMsMax;
  while (performance.now() < deadline) {
    const statuses = await Promise.all(servers.map((s) => s.child.ask<ServerStatus>('status')));
    const leader = statuses[0]?.leader;
    const agreed = leader !== undefined && statuses.every((s) => s.leader === leader);
    if (agreed && statuses[servers.findIndex((s) => s.id === leader)]?.role === 'leader') return leader;
    await sleep(50);
  }
  throw new Error(`no leader agreed on within ${electionWaitMsMax} ms`);
}

/** Each connection's servers in the order it tries them. */
function ordersOf(ids: readonly string[], leader: string, target: Target): string[][] {
  if (target === 'leader') return [[leader, ...ids.filter((id) => id !== leader)]];
  return ids.map((_, i) => [...ids.slice(i), ...ids.slice(0, i)]);
}

// ------------------------------------------------------------------ floors

interface Floor {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU time per operation, in µs: this end's, and the other end's (the echo server; 0 for the disk). */
  readonly cpuMicros: number;
  readonly peerCpuMicros: number;
}

/**
 * Runs `step` (one timed operation) back to back, `settle` (untimed) before each: a
 * warm-up, then `seconds` measured, with this process's CPU time per operation.
 */
async function diskLoopFloor(step: () => Promise<void>, warmupSeconds: number, seconds: number, settle?: () => Promise<unknown>): Promise<Floor> {
  const window = new Window(1 << 16);
  const looping = (async () => {
    while (!window.stopped) {
      await settle?.();
      const start = performance.now();
      await step();
      window.record(performance.now() - start);
    }
  })();
  await sleep(warmupSeconds * 1000);
  const before = process.cpuUsage();
  window.measuring = true;
  await sleep(seconds * 1000);
  window.measuring = false;
  const cpu = process.cpuUsage(before);
  window.stopped = true;
  await looping;
  return {
    count: window.completed,
    p50Ms: window.quantile(0.5),
    p99Ms: window.quantile(0.99),
    cpuMicros: (cpu.user + cpu.system) / window.completed,
    peerCpuMicros: 0,
  };
}

/** Zeros written (and synced) ahead in a preallocated floor file: more than a floor's loop writes. */
const floorPreallocatedBytes = 32 * 1024 * 1024;

/**
 * Where a floor's writes go: `append`, at the file's end (each fdatasync also commits the
 * new size); `preallocated`, over zeros written and synced beforehand, as FileStorage's
 * log does (the fdatasync flushes data only).
 */
type Layout = 'append' | 'preallocated';

/** Opens a new floor file; `preallocated` fills it with synced zeros first. */
async function openFloorFile(file: string, layout: Layout, flags: string | number = 'wx'): Promise<FileHandle> {
  if (layout === 'preallocated') {
    const fill = await open(file, 'wx');
    await fill.write(new Uint8Array(floorPreallocatedBytes), 0, floorPreallocatedBytes, 0);
    await fill.sync();
    await fill.close();
    return open(file, typeof flags === 'number' ? flags & ~(constants.O_CREAT | constants.O_EXCL) : 'r+');
  }
  return open(file, flags);
}

/**
 * A loop of `write` of {@link valueBytes} bytes after the last one in a file in `dir`:
 * then `fdatasync` (`sync` 'fdatasync'), or nothing with the file opened `O_DSYNC` (each
 * write durable when it returns: one thread-pool trip instead of two).
 */
async function diskFloor(dir: string, sync: 'fdatasync' | 'O_DSYNC', layout: Layout, warmupSeconds: number, seconds: number): Promise<Floor> {
  const flags = sync === 'fdatasync' ? 'wx' : constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_DSYNC;
  const handle = await openFloorFile(join(dir, `${sync}-${layout}-floor.log`), layout, flags);
  const record = new Uint8Array(valueBytes).fill(0xa5);
  let position = 0;
  try {
    return await diskLoopFloor(
      async () => {
        await handle.write(record, 0, record.byteLength, position);
        if (sync === 'fdatasync') await handle.datasync();
        position += record.byteLength;
      },
      warmupSeconds,
      seconds,
    );
  } finally {
    await handle.close();
  }
}

/**
 * Three files on the same disk, each written ({@link valueBytes} bytes after the last
 * one) and fdatasynced at once, as the three replicas do for one write: the time until
 * the second of the three is durable (a quorum). One disk serves the three flushes, so
 * this is a CAS's real disk floor here, above one lone fdatasync. The third flush is
 * waited for after the timing, before the next round.
 */
async function quorumDiskFloor(dir: string, layout: Layout, warmupSeconds: number, seconds: number): Promise<Floor> {
  const handles = await Promise.all([0, 1, 2].map((i) => openFloorFile(join(dir, `quorum-${layout}-floor-${i}.log`), layout)));
  const record = new Uint8Array(valueBytes).fill(0xa5);
  let position = 0;
  let straggler: Promise<unknown> = Promise.resolve();
  try {
    return await diskLoopFloor(
      async () => {
        let durable = 0;
        let quorum!: () => void;
        const quorumReached = new Promise<void>((resolve) => (quorum = resolve));
        straggler = Promise.all(
          handles.map(async (handle) => {
            await handle.write(record, 0, record.byteLength, position);
            await handle.datasync();
            if (++durable === 2) quorum();
          }),
        );
        position += record.byteLength;
        await quorumReached;
      },
      warmupSeconds,
      seconds,
      () => straggler,
    );
  } finally {
    await straggler;
    await Promise.all(handles.map((h) => h.close()));
  }
}

/** A worker of {@link blockingDiskFloor}: on each round, one write and fdatasync with blocking calls. */
const blockingFloorWorkerSource = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { file, bytes, shared } = workerData;
const state = new Int32Array(shared);
const fd = fs.openSync(file, 'r+');
const record = new Uint8Array(bytes).fill(0xa5);
let round = 0;
for (;;) {
  Atomics.wait(state, 0, round);
  round = Atomics.load(state, 0);
  if (Atomics.load(state, 2) === 1) break;
  fs.writeSync(fd, record, 0, bytes, (round - 1) * bytes);
  fs.fdatasyncSync(fd);
  Atomics.add(state, 1, 1);
  Atomics.notify(state, 1);
}
fs.closeSync(fd);
`;

/**
 * `copies` preallocated files, each written ({@link valueBytes} bytes after the last
 * one) and fdatasynced by its own thread with blocking calls, as FileStorage's log does
 * on each replica's event loop, all at once: the time until `quorum` of them are
 * durable. The disk's floor without thread-pool trips or event-loop wake-ups.
 */
async function blockingDiskFloor(dir: string, copies: number, quorum: number, warmupSeconds: number, seconds: number): Promise<Floor> {
  const files = Array.from({ length: copies }, (_, i) => join(dir, `blocking-${copies}-floor-${i}.log`));
  for (const file of files) await (await openFloorFile(file, 'preallocated')).close();
  const shared = new SharedArrayBuffer(3 * Int32Array.BYTES_PER_ELEMENT);
  const state = new Int32Array(shared); // [round, durable this round, stop]
  const workers = files.map((file) => new Worker(blockingFloorWorkerSource, { eval: true, workerData: { file, bytes: valueBytes, shared } }));
  const exited = workers.map((w) => new Promise((r) => w.once('exit', r)));
  await sleep(100); // the workers start and wait
  const window = new Window(1 << 16);
  const maxRounds = Math.floor(floorPreallocatedBytes / valueBytes);
  const waitFor = (count: number): void => {
    for (let seen = Atomics.load(state, 1); seen < count; seen = Atomics.load(state, 1)) Atomics.wait(state, 1, seen, 1000);
  };
  // Blocking loops, one per phase, yielding between them so timers run.
  const run = (ms: number): number => {
    const end = performance.now() + ms;
    let rounds = 0;
    while (performance.now() < end && Atomics.load(state, 0) < maxRounds) {
      Atomics.store(state, 1, 0);
      const start = performance.now();
      Atomics.add(state, 0, 1);
      Atomics.notify(state, 0);
      waitFor(quorum);
      window.record(performance.now() - start);
      waitFor(copies); // the stragglers, untimed
      rounds++;
    }
    return rounds;
  };
  try {
    run(warmupSeconds * 1000);
    const before = process.cpuUsage();
    window.measuring = true;
    run(seconds * 1000);
    window.measuring = false;
    const cpu = process.cpuUsage(before);
    return {
      count: window.completed,
      p50Ms: window.quantile(0.5),
      p99Ms: window.quantile(0.99),
      cpuMicros: (cpu.user + cpu.system) / window.completed,
      peerCpuMicros: 0,
    };
  } finally {
    Atomics.store(state, 2, 1);
    Atomics.add(state, 0, 1);
    Atomics.notify(state, 0);
    await Promise.all(exited);
  }
}

/** The raw round trip from the load process to the echo server, one at a time. */
async function rttFloor(load: Child, echo: Child, port: number, sizes: FrameSizes, seconds: number): Promise<Floor> {
  const before = await echo.ask<number>('mark');
  const r = await load.ask<RawRoundTrips>('rtt', {
    port,
    requestBytes: sizes.casRequestBytes,
    answerBytes: sizes.casAnswerBytes,
    warmupSeconds: floorWarmupSeconds,
    seconds,
  });
  const after = await echo.ask<number>('mark');
  // The echo server's figure spans the warm-up too; it does nothing else.
  return {
    count: r.roundTrips,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    cpuMicros: r.cpuMicros / r.roundTrips,
    peerCpuMicros: (after - before) / (r.roundTrips * (1 + floorWarmupSeconds / seconds)),
  };
}

function floorRow(name: string, f: Floor): string {
  return `| ${name} | ${format(f.count)} | ${fixed(f.p50Ms, 3)} | ${fixed(f.p99Ms, 3)} | ${fixed(f.cpuMicros, 1)}${f.peerCpuMicros === 0 ? '' : ` + ${fixed(f.peerCpuMicros, 1)}`} |`;
}

// ------------------------------------------------------------------ points

interface Point {
  readonly kind: Kind;
  readonly clients: number;
  readonly pass: number;
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU time per operation, in ms: every server summed, the leader alone, the client process. */
  readonly serverCpuMs: number;
  readonly leaderCpuMs: number;
  readonly clientCpuMs: number;
  /** Servers' and client's CPU time over the wall time: cores kept busy. */
  readonly coresBusy: number;
  /** The machine's busy CPU time less the servers' and the client's, over the wall time: cores other processes took (NaN off Linux). */
  readonly otherCores: number;
  /** The leader's commands per slot applied (batching). */
  readonly commandsPerSlot: number;
  /** Storage writes per operation, every server summed. */
  readonly writesPerOp: number;
  /** fdatasyncs (and fsyncs) per operation, every server summed. */
  readonly fsyncsPerOp: number;
  /** Peer messages sent per operation, every server summed. */
  readonly messagesPerOp: number;
  /** The leader's read-family and write-family system calls (sockets and files) per operation. */
  readonly leaderReadCallsPerOp: number;
  readonly leaderWriteCallsPerOp: number;
  readonly failures: number;
  readonly firstFailure: string | undefined;
  /** The leader as the window opened and as it closed (they differ if it moved meanwhile). */
  readonly leaderBefore: string;
  readonly leaderAfter: string;
  /** Snapshots saved and campaigns started in the window, every server summed. */
  readonly snapshots: number;
  readonly campaigns: number;
  /** Servers' CPU time in the window, in µs: from process.cpuUsage(), and from /proc (undefined off Linux). */
  readonly serverCpuMicros: number;
  readonly serverProcCpuMicros: number | undefined;
}

/** Every process's counters at one edge of a measured window. */
interface Edge<L extends LoadMark> {
  readonly load: L;
  readonly servers: readonly ServerMark[];
  /** Each server's CPU time from /proc, in µs. */
  readonly proc: readonly (number | undefined)[];
  readonly machine: ReturnType<typeof cpuTicks>;
}

/** Opens (`open`) or closes (`close`) the load process's window and reads every server's counters alongside. */
async function edge<L extends LoadMark>(load: Child, servers: readonly Server[], loadOp: 'open' | 'close'): Promise<Edge<L>> {
  const [loadMark, serverMarks] = await Promise.all([load.ask<L>(loadOp), Promise.all(servers.map((s) => s.child.ask<ServerMark>('mark')))]);
  return { load: loadMark, servers: serverMarks, proc: servers.map((s) => procCpuMicros(s.child.pid)), machine: cpuTicks() };
}

/** Each server's view of the cluster, in one round of questions. */
async function statusesOf(servers: readonly Server[]): Promise<ServerStatus[]> {
  return Promise.all(servers.map((x) => x.child.ask<ServerStatus>('status')));
}

/** The server leading by its own word, if exactly one claims it. */
function leaderIn(servers: readonly Server[], statuses: readonly ServerStatus[]): string {
  const leading = servers.filter((_, i) => statuses[i]!.role === 'leader');
  return leading.length === 1 ? leading[0]!.id : '?';
}

/** One point: the loops started, a warm-up, the measured window, the loops stopped. `leader` leads as it starts. */
async function runPoint(load: Child, servers: readonly Server[], leader: string, kind: Kind, clients: number, pass: number, s: Settings): Promise<Point> {
  const leaderIndex = servers.findIndex((x) => x.id === leader);
  await load.ask('start', { kind, clients });
  await sleep(s.warmupSeconds * 1000);
  if (s.profileDir !== undefined) await Promise.all(servers.map((x) => x.child.ask('profileStart')));
  const before = await edge<LoadMark>(load, servers, 'open');
  await sleep(s.seconds * 1000);
  const after = await edge<LoadWindow>(load, servers, 'close');
  const leaderAfter = leaderIn(servers, await statusesOf(servers));
  if (s.profileDir !== undefined) {
    const dir = s.profileDir;
    await Promise.all(servers.map((x) => x.child.ask('profileStop', { path: join(dir, `${kind}-${clients}-pass${pass}-${x.id}.cpuprofile`) })));
  }
  await load.ask('stop');
  const w = after.load;
  const ops = w.completed;
  const wallMicros = (w.atMs - before.load.atMs) * 1000;
  const delta = (i: number, field: keyof ServerMark): number => after.servers[i]![field] - before.servers[i]![field];
  const sum = (field: keyof ServerMark): number => servers.reduce((total, _, i) => total + delta(i, field), 0);
  const serverCpuMicros = sum('cpuMicros');
  const clientCpuMicros = w.cpuMicros - before.load.cpuMicros;
  const procDeltas = servers.map((_, i) => (after.proc[i] === undefined || before.proc[i] === undefined ? undefined : after.proc[i]! - before.proc[i]!));
  return {
    kind,
    clients,
    pass,
    opsPerSecond: ops / (wallMicros / 1e6),
    p50Ms: w.p50Ms,
    p99Ms: w.p99Ms,
    serverCpuMs: serverCpuMicros / 1000 / ops,
    leaderCpuMs: delta(leaderIndex, 'cpuMicros') / 1000 / ops,
    clientCpuMs: clientCpuMicros / 1000 / ops,
    coresBusy: (serverCpuMicros + clientCpuMicros) / wallMicros,
    // /proc/stat counts in ticks: a small negative difference is rounding, shown as 0.
    otherCores:
      before.machine === undefined || after.machine === undefined
        ? Number.NaN
        : Math.max(0, (((after.machine.busy - before.machine.busy) * 1e6) / clockTicksPerSecond - serverCpuMicros - clientCpuMicros) / wallMicros),
    commandsPerSlot: delta(leaderIndex, 'commandsApplied') / delta(leaderIndex, 'slotsApplied'),
    writesPerOp: sum('persistWrites') / ops,
    fsyncsPerOp: sum('fsyncs') / ops,
    messagesPerOp: sum('messagesOut') / ops,
    leaderReadCallsPerOp: delta(leaderIndex, 'readCalls') / ops,
    leaderWriteCallsPerOp: delta(leaderIndex, 'writeCalls') / ops,
    failures: w.failures,
    firstFailure: w.firstFailure,
    leaderBefore: leader,
    leaderAfter,
    snapshots: sum('snapshotsSaved'),
    campaigns: sum('campaigns'),
    serverCpuMicros,
    serverProcCpuMicros: procDeltas.some((d) => d === undefined) ? undefined : procDeltas.reduce((a, b) => a! + b!, 0),
  };
}

// ------------------------------------------------------------------ output

function format(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? 'n/a' : Math.round(n).toLocaleString('en-US');
}

function fixed(n: number | undefined, digits: number): string {
  return n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(digits);
}

function median(values: readonly number[]): number {
  const sorted = [...values].filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = sorted.length / 2;
  return sorted.length % 2 === 1 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function verdict(ok: boolean): string {
  return ok ? 'met' : 'NOT met';
}

const header =
  '| op | clients | pass | ops/s | p50 ms | p99 ms | p50 / RTT | p50 / floor | server CPU ms/op | leader CPU ms/op | client CPU ms/op | cores busy | other cores | cmds/slot | writes/op | fsyncs/op | peer msgs/op | leader syscalls/op r+w | failures | events |';
const rule = '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|';

/** The leader (`b→a`: it moved in the window), snapshots saved and campaigns, if any. */
function eventsOf(p: Pick<Point, 'leaderBefore' | 'leaderAfter' | 'snapshots' | 'campaigns'>): string {
  const events = [p.leaderBefore === p.leaderAfter ? `leader ${p.leaderBefore}` : `leader ${p.leaderBefore}→${p.leaderAfter}`];
  if (p.snapshots > 0) events.push(`${p.snapshots} snapshots`);
  if (p.campaigns > 0) events.push(`${p.campaigns} campaigns`);
  return events.join(', ');
}

/** A row of the table; `floorMs` is the op's physical floor (see the notes). */
function row(p: Omit<Point, 'pass'> & { pass: string }, rttMs: number, floorMs: number): string {
  const cells = [
    p.kind === 'cas' ? 'CAS' : 'linearizable read',
    String(p.clients),
    p.pass,
    format(p.opsPerSecond),
    fixed(p.p50Ms, 3),
    fixed(p.p99Ms, 3),
    fixed(p.p50Ms / rttMs, 1),
    fixed(p.p50Ms / floorMs, 1),
    fixed(p.serverCpuMs, 3),
    fixed(p.leaderCpuMs, 3),
    fixed(p.clientCpuMs, 3),
    fixed(p.coresBusy, 2),
    fixed(p.otherCores, 2),
    p.kind === 'cas' ? fixed(p.commandsPerSlot, 1) : '–',
    fixed(p.writesPerOp, 2),
    fixed(p.fsyncsPerOp, 2),
    fixed(p.messagesPerOp, 2),
    `${fixed(p.leaderReadCallsPerOp, 1)}+${fixed(p.leaderWriteCallsPerOp, 1)}`,
    format(p.failures),
    eventsOf(p),
  ];
  return `| ${cells.join(' | ')} |`;
}

// ------------------------------------------------------------------ main

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function main(): Promise<void> {
  const s = parseArgs(process.argv.slice(2));
  const clientsMax = Math.max(...s.clients);
  const parent = process.env.SYNOD_BENCH_DIR ?? os.tmpdir();
  const root = await mkdtemp(join(parent, 'synod-bench-kv-'));
  atExit(() => rmSync(root, { recursive: true, force: true }));
  if (s.profileDir !== undefined) mkdirSync(s.profileDir, { recursive: true });
  const ticksBefore = cpuTicks();
  const cpus = os.cpus();
  const loadAverage = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

  const configPath = await writeLocalCluster(root, members, s.shards);
  const config = await readClusterConfig(configPath);
  const ids = Object.keys(config.members);
  const servers: Server[] = ids.map((id) => ({
    id,
    child: new Child(`server ${id}`, script('server-process.ts'), [
      configPath,
      id,
      ...(s.snapshotEverySlots === undefined ? [] : [String(s.snapshotEverySlots)]),
    ]),
  }));
  const load = new Child('load process', script('load-process.ts'), [configPath]);
  let echo: Child | undefined;
  const points: Point[] = [];
  let leader = '';
  try {
    await Promise.all([...servers.map((x) => x.child.ready()), load.ready()]);
    // A sharded cluster moves its groups' leaders to spread them (a check a second): let it settle first.
    if (s.shards !== undefined) await sleep(shardsSettleMs);
    leader = await leaderOf(servers);
    const setUp = (): Promise<FrameSizes> => {
      const setup: SetupRequest = {
        clients: clientsMax,
        valueBytes,
        connections: s.connections ?? clientsMax,
        orders: ordersOf(ids, leader, s.target),
        route: s.route,
      };
      return load.ask<FrameSizes>('setup', setup, 60_000);
    };
    const sizes = await setUp();
    // (A sharded cluster's leader here is the meta group's, which the clients' keys never reach.)
    if (s.shards === undefined && (await leaderOf(servers)) !== leader) throw new Error('the leader changed during setup');
    const moves: string[] = [];

    // The floors, while the cluster idles.
    const floorSeconds = Math.min(s.seconds, floorSecondsMax);
    echo = new Child('echo server', script('echo-server.ts'), [String(sizes.casRequestBytes), String(sizes.casAnswerBytes)]);
    const { port } = await echo.ready<{ port: number }>();
    const rtt = await rttFloor(load, echo, port, sizes, floorSeconds);
    const sync = await diskFloor(root, 'fdatasync', 'append', floorWarmupSeconds, floorSeconds);
    const syncPreallocated = await diskFloor(root, 'fdatasync', 'preallocated', floorWarmupSeconds, floorSeconds);
    const dsyncPreallocated = await diskFloor(root, 'O_DSYNC', 'preallocated', floorWarmupSeconds, floorSeconds);
    const quorumSync = await quorumDiskFloor(root, 'append', floorWarmupSeconds, floorSeconds);
    const quorumSyncPreallocated = await quorumDiskFloor(root, 'preallocated', floorWarmupSeconds, floorSeconds);
    const quorumSyncBlocking = await blockingDiskFloor(root, 3, 2, floorWarmupSeconds, floorSeconds);
    const syncBlocking = await blockingDiskFloor(root, 1, 1, floorWarmupSeconds, floorSeconds);
    // The log writes over preallocated zeros: the lone flush it can do is the faster of the two.
    const oneSync = Math.min(sync.p50Ms, syncPreallocated.p50Ms, syncBlocking.p50Ms);
    const floorOf = (kind: Kind): number => 2 * rtt.p50Ms + (kind === 'cas' ? oneSync : 0);

    console.log('# synod KV: three server processes (FileStorage, fsync on), clients in another process, loopback\n');
    console.log(
      `machine: ${cpus[0]?.model ?? 'unknown cpu'}, ${cpus.length} cores, node ${process.version}, ${os.platform()} ${os.arch()}, load average ${loadAverage} at start`,
    );
    console.log(
      `cluster: ${ids.join(', ')} on 127.0.0.1, leader ${leader}, a snapshot every ${format(s.snapshotEverySlots ?? snapshotEverySlotsDefault)} slots; data in ${root}; servers' CPU from process.cpuUsage() over IPC (µs), /proc/<pid>/stat (${clockTicksPerSecond} ticks/s) as a cross-check`,
    );
    console.log(
      `clients: each its own key and ${s.connections === undefined ? 'its own KvClient (one TCP connection each)' : `one of ${s.connections} shared KvClients`}, connected to ${s.target === 'leader' ? 'the leader' : 'the three servers in turn (followers forward)'}; CAS: put of a ${valueBytes}-byte value with expectedVersion (request ${sizes.casRequestBytes} B, answer ${sizes.casAnswerBytes} B on the wire); read: linearizable get`,
    );
    console.log(
      `per point: ${s.warmupSeconds} s warm-up, then ${s.seconds} s measured; ${s.passes} passes over ${s.kinds.join(', ')} at ${s.clients.join(', ')} clients\n`,
    );
    const rttName = `raw round trip, one node:net connection on 127.0.0.1 (${sizes.casRequestBytes} B out, ${sizes.casAnswerBytes} B back)`;
    console.log('| floor (same run, before the points) | count | p50 ms | p99 ms | CPU µs/op |');
    console.log('|---|---:|---:|---:|---:|');
    console.log(floorRow(rttName, rtt));
    console.log(floorRow(`write ${valueBytes} B at a file's end + fdatasync, same disk`, sync));
    console.log(floorRow(`write ${valueBytes} B over preallocated zeros + fdatasync`, syncPreallocated));
    console.log(floorRow(`write ${valueBytes} B over preallocated zeros, file opened O_DSYNC (context)`, dsyncPreallocated));
    console.log(
      floorRow(`write ${valueBytes} B over preallocated zeros + fdatasync, blocking calls on a thread of their own (as FileStorage's log)`, syncBlocking),
    );
    console.log(floorRow(`three files written at their ends + fdatasynced at once, as three replicas: until two are durable`, quorumSync));
    console.log(floorRow(`the same over preallocated zeros`, quorumSyncPreallocated));
    console.log(
      floorRow(`the same over preallocated zeros, each file flushed by its own thread with blocking calls (as FileStorage's log)`, quorumSyncBlocking),
    );
    console.log('');
    console.log(header);
    console.log(rule);
    for (let pass = 1; pass <= s.passes; pass++) {
      for (const kind of s.kinds) {
        for (const clients of s.clients) {
          // The leader moved (an election under load): the clients follow it, on new connections.
          const now = await leaderOf(servers);
          if (now !== leader) {
            moves.push(`before ${kind} at ${clients} clients, pass ${pass}: ${leader}→${now}`);
            leader = now;
            if (s.target === 'leader') await setUp();
          }
          const p = await runPoint(load, servers, leader, kind, clients, pass, s);
          points.push(p);
          console.log(row({ ...p, pass: String(p.pass) }, rtt.p50Ms, floorOf(kind)));
        }
      }
    }
    const finalLeader = await leaderOf(servers);
    const rttAfter = await rttFloor(load, echo, port, sizes, floorSeconds);

    // Medians over the passes, field by field.
    const medians = new Map<string, Omit<Point, 'pass'> & { pass: string }>();
    console.log('');
    console.log(`medians over ${s.passes} passes:\n`);
    console.log(header);
    console.log(rule);
    for (const kind of s.kinds) {
      for (const clients of s.clients) {
        const ps = points.filter((p) => p.kind === kind && p.clients === clients);
        const m = (f: (p: Point) => number): number => median(ps.map(f));
        const mp = {
          kind,
          clients,
          pass: 'median',
          opsPerSecond: m((p) => p.opsPerSecond),
          p50Ms: m((p) => p.p50Ms),
          p99Ms: m((p) => p.p99Ms),
          serverCpuMs: m((p) => p.serverCpuMs),
          leaderCpuMs: m((p) => p.leaderCpuMs),
          clientCpuMs: m((p) => p.clientCpuMs),
          coresBusy: m((p) => p.coresBusy),
          otherCores: m((p) => p.otherCores),
          commandsPerSlot: m((p) => p.commandsPerSlot),
          writesPerOp: m((p) => p.writesPerOp),
          fsyncsPerOp: m((p) => p.fsyncsPerOp),
          messagesPerOp: m((p) => p.messagesPerOp),
          leaderReadCallsPerOp: m((p) => p.leaderReadCallsPerOp),
          leaderWriteCallsPerOp: m((p) => p.leaderWriteCallsPerOp),
          failures: ps.reduce((a, p) => a + p.failures, 0),
          firstFailure: ps.find((p) => p.firstFailure !== undefined)?.firstFailure,
          leaderBefore: [...new Set(ps.map((p) => p.leaderBefore))].join('/'),
          leaderAfter: [...new Set(ps.map((p) => p.leaderBefore))].join('/'),
          snapshots: ps.reduce((a, p) => a + p.snapshots, 0),
          campaigns: ps.reduce((a, p) => a + p.campaigns, 0),
          serverCpuMicros: m((p) => p.serverCpuMicros),
          serverProcCpuMicros: undefined,
        };
        medians.set(`${kind}/${clients}`, mp);
        console.log(row(mp, rtt.p50Ms, floorOf(kind)));
      }
    }
    const ticksAfter = cpuTicks();

    console.log('');
    console.log('| floor (same run, after the points) | count | p50 ms | p99 ms | CPU µs/op |');
    console.log('|---|---:|---:|---:|---:|');
    console.log(floorRow(rttName, rttAfter));
    console.log('');
    console.log("- floors: CPU µs/op is the measuring process's (for the round trip: the client's + the echo server's). The round trip is");
    console.log('  measured again after the points: on an idle VM a wake-up costs more, so it varies with what else runs.');
    console.log('- ops/s: operations completed per second of the measured window, all clients together; p50/p99: latency of one operation,');
    console.log('  as its client saw it (from the call to the answer), from a uniform sample of at most 131,072.');
    console.log(`- p50 / RTT: over the raw round trip's p50 (${fixed(rtt.p50Ms, 3)} ms). p50 / floor: over the op's physical floor, for a CAS two round trips`);
    console.log(
      `  (client to leader, leader to a follower) and one fdatasync, the fastest way measured (${fixed(floorOf('cas'), 3)} ms), for a linearizable read two round trips (${fixed(floorOf('read'), 3)} ms).`,
    );
    console.log('- CPU ms/op: CPU time (user + system, every thread) per operation; server: the three server processes summed; leader:');
    console.log('  the leader alone; client: the load process (all its clients). cores busy: servers + client CPU time over wall time;');
    console.log(
      `  other cores: the machine's busy CPU time less that, over wall time (other processes: a noisy machine shows here; ${cpus.length} cores in all).`,
    );
    console.log('- cmds/slot: commands per slot the leader applied (batching); writes/op: storage writes per operation; fsyncs/op: fdatasync');
    console.log('  and fsync calls per operation (a write of learner state only needs none), both');
    console.log("  the three servers summed; peer msgs/op: messages between the servers per operation; leader syscalls/op: the leader's");
    console.log('  read- and write-family system calls (sockets, files: /proc/<pid>/io) per operation. failures: timeouts, conflicts.');
    const procTotal = points.every((p) => p.serverProcCpuMicros !== undefined) ? points.reduce((a, p) => a + p.serverProcCpuMicros!, 0) : undefined;
    const usageTotal = points.reduce((a, p) => a + p.serverCpuMicros, 0);
    if (procTotal !== undefined) {
      console.log(
        `- cross-check: servers' CPU time over every window, process.cpuUsage() ${fixed(usageTotal / 1e6, 2)} s vs /proc/<pid>/stat ${fixed(procTotal / 1e6, 2)} s (ratio ${fixed(procTotal / usageTotal, 3)}).`,
      );
    }
    const steal =
      ticksBefore === undefined || ticksAfter === undefined
        ? 'n/a'
        : `${Math.round(((ticksAfter.steal - ticksBefore.steal) / (ticksAfter.total - ticksBefore.total)) * 100)}%`;
    console.log(
      `- CPU steal during the run: ${steal}; load average at the end ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}; leader at the end: ${finalLeader}.`,
    );
    console.log('- events: the leader in the window (b→a: it moved), snapshots saved and campaigns started by any server in it (medians: summed).');
    if (moves.length > 0) console.log(`- the leader moved between points (the clients reconnected to the new one): ${moves.join('; ')}.`);
    const failed = points.find((p) => p.firstFailure !== undefined);
    if (failed !== undefined) console.log(`- first failure (${failed.kind} at ${failed.clients} clients, pass ${failed.pass}): ${failed.firstFailure}`);
    console.log('- For scale, from the issue (same machine): ZooKeeper 3.8 about 640 CAS/s, p50 1.0 ms at 1 client, 2,000-3,500 CAS/s at');
    console.log('  64 clients; etcd 3.4 about 280 CAS/s, p50 3 ms at 1 client, about 1,550 CAS/s at 64; both 0.5-1 ms of server CPU per write.');
    console.log('');

    const one = medians.get('cas/1');
    if (one !== undefined) {
      console.log(
        `- one client's CAS p50: ${fixed(one.p50Ms, 3)} ms vs target <= ${casP50TargetMs} ms: ${verdict(one.p50Ms <= casP50TargetMs)} (ZooKeeper 1.0 ms, etcd 3 ms)`,
      );
      const quorumFloorMs = 2 * rtt.p50Ms + Math.min(quorumSync.p50Ms, quorumSyncPreallocated.p50Ms, quorumSyncBlocking.p50Ms);
      console.log(
        `  floor with the three replicas' flushes on one disk: two round trips + a quorum's fdatasync = ${fixed(quorumFloorMs, 3)} ms (p50 ${fixed(one.p50Ms / quorumFloorMs, 2)}x it)`,
      );
    }
    const cas = medians.get(`cas/${manyClients}`);
    if (cas !== undefined) {
      console.log(
        `- CAS/s at ${manyClients} clients: ${format(cas.opsPerSecond)} vs target >= ${format(casPerSecondTarget)}: ${verdict(cas.opsPerSecond >= casPerSecondTarget)} (ZooKeeper 2,000-3,500, etcd 1,550)`,
      );
    }
    const reads = medians.get(`read/${manyClients}`);
    if (reads !== undefined) {
      console.log(
        `- linearizable reads/s at ${manyClients} clients: ${format(reads.opsPerSecond)} vs target >= ${format(readsPerSecondTarget)}: ${verdict(reads.opsPerSecond >= readsPerSecondTarget)}`,
      );
    }
    const cpuPoint = cas ?? medians.get(`cas/${Math.max(...s.clients)}`);
    if (cpuPoint !== undefined) {
      const others = [...medians.values()].filter((m) => m.kind === 'cas' && m !== cpuPoint).map((m) => `${fixed(m.serverCpuMs, 3)} ms at ${m.clients}`);
      console.log(
        `- server CPU per committed write, all replicas summed, at ${cpuPoint.clients} clients: ${fixed(cpuPoint.serverCpuMs, 3)} ms vs target <= ${serverCpuPerWriteTargetMs} ms: ${verdict(cpuPoint.serverCpuMs <= serverCpuPerWriteTargetMs)}${others.length === 0 ? '' : ` (${others.join(', ')} clients)`}`,
      );
    }
    if (s.profileDir !== undefined) {
      console.log(
        `- CPU profiles of each window (the profiler's own cost is in these numbers): ${s.profileDir}/<op>-<clients>-pass<n>-<id>.cpuprofile; the leader was ${leader}.`,
      );
    }
  } finally {
    await load.close();
    await echo?.close();
    await Promise.all(servers.map((x) => x.child.close()));
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
