/**
 * Transport benchmark: messages per second and round-trip latency of TcpTransport
 * between two OS processes on one machine, with raw `node:net` sockets moving the same
 * bytes measured in the same run as the baseline.
 *
 * - Processes: this one sends (node `a`, which dials); one sink process per variant
 *   (`sink.ts`, node `b`, spawned with this process's node flags) listens on a free
 *   port, counts what arrives and replies. All of them run side by side, over loopback.
 * - Variants (`endpoint.ts`): `tcp`, a TcpTransport at each end (shared secret, default
 *   options); `raw`, the baseline, a socket writing each message's frame (encoded once,
 *   before timing: the bytes TcpTransport puts on the wire), the frames of one event-loop
 *   turn concatenated into one write on `setImmediate` (TcpTransport's own coalescing),
 *   split on arrival with the codec's FrameReader and not decoded; `raw-codec`, `raw`
 *   plus the codec (each record encoded when sent, each frame decoded on arrival), which
 *   splits the gap between `raw` and `tcp` into the codec's share and the rest of the
 *   transport's; `raw-per-write`, for context, one `socket.write` per frame, at once.
 * - Rows (`payloads.ts`): an `accepted` (a follower acknowledging a slot, the smallest
 *   frequent message) and an `accept` of one slot holding 10 commands of 100 bytes. The
 *   sink's reply is always an `accepted`.
 * - Throughput: the sender keeps {@link windowMessages} messages unacknowledged and
 *   sends at most {@link turnMessagesMax} of them per event-loop turn (a turn's sends
 *   coalesce into one write, for `tcp` and `raw` alike); the sink replies once every
 *   {@link replyEvery} messages, and the sender refills the window on the next turn.
 *   Measured: messages acknowledged per second; messages per socket write on the
 *   sender; each process's CPU time per message and its share of one core (a process
 *   near 100% is the bottleneck).
 * - Latency: ping-pong, one message in flight: the sender sends, the sink replies at
 *   once, the sender records the round trip and sends again. p50 and p99 of a uniform
 *   sample of the measured round trips, in µs.
 * - Schedule: per row and measurement, each variant first warms up, then the variants
 *   take turns in short blocks, {@link roundsDefault} rounds, the order reversed every
 *   other round, so that all of them see the same machine (a loaded 2-core VM drifts by
 *   tens of percent from one second to the next). A variant's figure pools its blocks;
 *   the spread of the per-round tcp/raw ratios is printed too. The first
 *   {@link blockRampSeconds} of each block are not measured.
 * - Targets, on each row: `tcp` messages/s at least {@link throughputTargetRatio} of
 *   `raw`; `tcp` RTT p50 at most {@link latencyTargetRatio}x `raw`'s.
 *
 * A benchmark, not a test: it reports and never fails on its numbers. Run with
 * `npm run bench` or `npx tsx bench/transport/run.ts`. Environment:
 * `SYNOD_BENCH_SECONDS` (measured seconds per variant and measurement, over all its
 * rounds; default 2), `SYNOD_BENCH_WARMUP_SECONDS` (default 0.25),
 * `SYNOD_BENCH_READ_VALUES=1` (the receivers that decode read every command of what
 * they decode, as a node does: the codec makes those views only when read). Options:
 * `--rounds N`, and, each repeatable, `--row accepted|accept-10x100B`,
 * `--variant raw|raw-codec|tcp|raw-per-write`, `--measure throughput|latency`: handy
 * under `node --cpu-prof --import tsx bench/transport/run.ts`, whose flags the sinks
 * inherit (each writes its own profile).
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { secondsFromEnv } from '../env.js';
import { Window } from '../window.js';
import { type Endpoint, type EndpointCounts, RawEndpoint, TcpEndpoint, type Variant, rawModeOf, variants } from './endpoint.js';
import { type Payload, type RowName, loadOf, reply, rowNames, senderId, sinkId } from './payloads.js';
import type { SinkMark } from './sink.js';
import { SinkProcess, within } from './sink-process.js';

/** Messages the throughput sender keeps unacknowledged. A multiple of {@link replyEvery}. */
const windowMessages = 4096;
/**
 * Messages the throughput sender sends in one event-loop turn, at most (a multiple of
 * {@link replyEvery}). Without a bound the whole window would leave in one write, the
 * sink would answer it with one write, and the two processes would take turns instead
 * of working at the same time.
 */
const turnMessagesMax = 256;
/** Messages per reply from the sink in the throughput measurement. */
const replyEvery = 32;
/** Rounds of blocks per row and measurement. */
const roundsDefault = 5;
/** The unmeasured start of each block, in s: the window fills, the path warms up again. */
const blockRampSeconds = 0.02;
const throughputTargetRatio = 0.8;
const latencyTargetRatio = 1.2;
/** Round trips kept per variant and row (a uniform reservoir sample). */
const latencySamplesMax = 1 << 16;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A variant's sender endpoint and the sink process at its other end. */
interface Contestant {
  readonly variant: Variant;
  readonly sink: SinkProcess;
  readonly endpoint: Endpoint;
}

async function connect(variant: Variant, port: number): Promise<Endpoint> {
  if (variant === 'tcp') return within(TcpEndpoint.start(senderId, sinkId, port, true), 'connecting the TcpTransport');
  return within(RawEndpoint.connect(port, rawModeOf(variant)), 'connecting the raw socket');
}

/** One sink per variant, started side by side, each with a connected endpoint. */
async function setUp(list: readonly Variant[]): Promise<Contestant[]> {
  const sinks = list.map((variant) => new SinkProcess(variant));
  try {
    return await Promise.all(
      sinks.map(async (sink) => {
        const { port } = await sink.next<{ port: number }>('listening');
        return { variant: sink.variant, sink, endpoint: await connect(sink.variant, port) };
      }),
    );
  } catch (error) {
    await Promise.all(sinks.map((s) => s.close()));
    throw error;
  }
}

async function tearDown(contestants: readonly Contestant[]): Promise<void> {
  for (const c of contestants) await c.endpoint.close();
  await Promise.all(contestants.map((c) => c.sink.close()));
}

/** Resolves once `done()` holds, checked each time `poke` is called. */
function until(done: () => boolean): { poke: () => void; reached: Promise<void> } {
  let resolve: () => void = () => {};
  const reached = new Promise<void>((r) => {
    resolve = r;
  });
  return {
    poke: () => {
      if (done()) resolve();
    },
    reached,
  };
}

// ------------------------------------------------------------------ throughput

/** Both processes' counters at one edge of a measured block. */
interface Edge {
  readonly acked: number;
  readonly atMs: number;
  readonly cpuMicros: number;
  readonly counts: EndpointCounts;
  readonly sink: SinkMark;
}

/** Sums over a variant's measured throughput blocks. */
class ThroughputTally {
  messages = 0;
  micros = 0;
  senderCpuMicros = 0;
  sinkCpuMicros = 0;
  sinkMicros = 0;
  sinkReceived = 0;
  sent = 0;
  writes = 0;
  sinkSent = 0;
  sinkWrites = 0;
  /** Messages per second of each block, by round. */
  readonly perRound: number[] = [];

  add(before: Edge, after: Edge): void {
    const messages = after.acked - before.acked;
    const micros = (after.atMs - before.atMs) * 1000;
    this.messages += messages;
    this.micros += micros;
    this.senderCpuMicros += after.cpuMicros - before.cpuMicros;
    this.sinkCpuMicros += after.sink.cpuMicros - before.sink.cpuMicros;
    this.sinkMicros += (after.sink.atMs - before.sink.atMs) * 1000;
    this.sinkReceived += after.sink.received - before.sink.received;
    this.sent += after.counts.messagesSent - before.counts.messagesSent;
    this.writes += after.counts.writes - before.counts.writes;
    this.sinkSent += after.sink.messagesSent - before.sink.messagesSent;
    this.sinkWrites += after.sink.writes - before.sink.writes;
    this.perRound.push(messages / (micros / 1e6));
  }
}

/**
 * Streams `load` from `c`'s endpoint for `rampSeconds + seconds` and drains; measures the
 * last `seconds` into `tally` (none: a warm-up).
 */
async function throughputBlock(c: Contestant, load: Payload, rampSeconds: number, seconds: number, tally?: ThroughputTally): Promise<void> {
  const { endpoint, sink } = c;
  let inflight = 0;
  let acked = 0;
  let stopped = false;
  let pumpQueued = false;
  const drained = until(() => stopped && inflight === 0);
  // One turn's sends: at most turnMessagesMax, within the window; again next turn if room is left.
  const pump = (): void => {
    pumpQueued = false;
    if (stopped) return;
    const n = Math.min(turnMessagesMax, windowMessages - inflight);
    for (let i = 0; i < n; i++) endpoint.send(load);
    inflight += n;
    if (inflight < windowMessages) schedule();
  };
  const schedule = (): void => {
    if (pumpQueued) return;
    pumpQueued = true;
    setImmediate(pump);
  };
  endpoint.onMessage = () => {
    inflight -= replyEvery;
    acked += replyEvery;
    if (!stopped) schedule();
    else drained.poke();
  };
  const edge = async (): Promise<Edge> => {
    const at = { acked, atMs: performance.now(), cpu: process.cpuUsage(), counts: endpoint.counts };
    const mark = await sink.ask<SinkMark>({ op: 'mark' });
    return { acked: at.acked, atMs: at.atMs, cpuMicros: at.cpu.user + at.cpu.system, counts: at.counts, sink: mark };
  };
  pump();
  await sleep(rampSeconds * 1000);
  const before = tally === undefined ? undefined : await edge();
  await sleep(seconds * 1000);
  const after = tally === undefined ? undefined : await edge();
  stopped = true;
  drained.poke();
  await within(drained.reached, `draining the ${c.variant} throughput window`);
  if (tally !== undefined) tally.add(before!, after!);
}

interface Throughput {
  readonly messagesPerSecond: number;
  /** Sender's messages per socket write: the coalescing factor. */
  readonly messagesPerWrite: number;
  /** Sender process CPU time per message, in µs, and its share of one core. */
  readonly senderCpuMicros: number;
  readonly senderCpuShare: number;
  readonly sinkCpuMicros: number;
  readonly sinkCpuShare: number;
  /** Sink's replies per socket write. */
  readonly sinkMessagesPerWrite: number;
  readonly perRound: readonly number[];
}

function throughputOf(t: ThroughputTally): Throughput {
  return {
    messagesPerSecond: t.messages / (t.micros / 1e6),
    messagesPerWrite: t.sent / t.writes,
    senderCpuMicros: t.senderCpuMicros / t.messages,
    senderCpuShare: t.senderCpuMicros / t.micros,
    sinkCpuMicros: t.sinkCpuMicros / t.sinkReceived,
    sinkCpuShare: t.sinkCpuMicros / t.sinkMicros,
    sinkMessagesPerWrite: t.sinkSent / t.sinkWrites,
    perRound: t.perRound,
  };
}

// ------------------------------------------------------------------ latency

/**
 * Ping-pongs `load` on `c`'s endpoint for `rampSeconds + seconds`; records the last
 * `seconds`' round trips, in ms, into `windows` (none: a warm-up).
 */
async function latencyBlock(c: Contestant, load: Payload, rampSeconds: number, seconds: number, windows: readonly Window[] = []): Promise<void> {
  const { endpoint } = c;
  let sentAt = 0;
  let outstanding = false;
  let stopped = false;
  const drained = until(() => stopped && !outstanding);
  const ping = (): void => {
    outstanding = true;
    sentAt = performance.now();
    endpoint.send(load);
  };
  endpoint.onMessage = () => {
    const ms = performance.now() - sentAt;
    for (const w of windows) w.record(ms);
    outstanding = false;
    if (!stopped) ping();
    else drained.poke();
  };
  ping();
  await sleep(rampSeconds * 1000);
  for (const w of windows) w.measuring = true;
  await sleep(seconds * 1000);
  for (const w of windows) w.measuring = false;
  stopped = true;
  drained.poke();
  await within(drained.reached, `the ${c.variant} last round trip`);
}

interface Latency {
  readonly p50Micros: number;
  readonly p99Micros: number;
  readonly roundTrips: number;
  /** p50 of each block, by round, in µs. */
  readonly perRound: readonly number[];
}

// ------------------------------------------------------------------ schedule

type Measure = 'throughput' | 'latency';
const measures: readonly Measure[] = ['throughput', 'latency'];

/** What one variant measured for one row (each part unless `--measure` left it out). */
interface RowResult {
  throughput?: Throughput;
  latency?: Latency;
}

interface Settings {
  readonly warmupSeconds: number;
  readonly seconds: number;
  readonly rounds: number;
}

/** The contestants in round `round`'s order: as given, reversed every other round. */
function orderOf(contestants: readonly Contestant[], round: number): Contestant[] {
  return round % 2 === 0 ? [...contestants] : [...contestants].reverse();
}

async function measureThroughput(contestants: readonly Contestant[], load: Payload, s: Settings): Promise<Map<Variant, Throughput>> {
  for (const c of contestants) await c.sink.ask({ op: 'replyEvery', n: replyEvery });
  for (const c of contestants) await throughputBlock(c, load, 0, s.warmupSeconds);
  const tallies = new Map(contestants.map((c) => [c.variant, new ThroughputTally()]));
  for (let round = 0; round < s.rounds; round++) {
    for (const c of orderOf(contestants, round)) await throughputBlock(c, load, blockRampSeconds, s.seconds / s.rounds, tallies.get(c.variant)!);
  }
  return new Map([...tallies].map(([variant, tally]) => [variant, throughputOf(tally)]));
}

async function measureLatency(contestants: readonly Contestant[], load: Payload, s: Settings): Promise<Map<Variant, Latency>> {
  for (const c of contestants) await c.sink.ask({ op: 'replyEvery', n: 1 });
  for (const c of contestants) await latencyBlock(c, load, 0, s.warmupSeconds);
  const pooled = new Map(contestants.map((c) => [c.variant, new Window(latencySamplesMax)]));
  const perRound = new Map(contestants.map((c) => [c.variant, [] as number[]]));
  for (let round = 0; round < s.rounds; round++) {
    for (const c of orderOf(contestants, round)) {
      const block = new Window(latencySamplesMax);
      await latencyBlock(c, load, blockRampSeconds, s.seconds / s.rounds, [pooled.get(c.variant)!, block]);
      perRound.get(c.variant)!.push(block.quantile(0.5) * 1000);
    }
  }
  return new Map(
    contestants.map((c) => {
      const w = pooled.get(c.variant)!;
      return [
        c.variant,
        { p50Micros: w.quantile(0.5) * 1000, p99Micros: w.quantile(0.99) * 1000, roundTrips: w.completed, perRound: perRound.get(c.variant)! },
      ];
    }),
  );
}

// ------------------------------------------------------------------ main

interface Args {
  readonly rounds: number;
  readonly rows: RowName[];
  readonly variants: Variant[];
  readonly measures: Measure[];
}

function parseArgs(argv: readonly string[]): Args {
  let rounds = roundsDefault;
  const rows: RowName[] = [];
  const only: Variant[] = [];
  const onlyMeasures: Measure[] = [];
  const usage = `use --rounds N, and, each repeatable, --row ${rowNames.join('|')}, --variant ${variants.join('|')}, --measure ${measures.join('|')}`;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = argv[i + 1] ?? '';
    const oneOf = <T extends string>(list: readonly T[]): T => {
      if (!(list as readonly string[]).includes(value)) throw new Error(`${a} ${value}: expected one of ${list.join(', ')}`);
      i++;
      return value as T;
    };
    if (a === '--rounds') {
      rounds = Number(value);
      if (!Number.isSafeInteger(rounds) || rounds < 1) throw new Error(`--rounds ${value}: expected a positive integer`);
      i++;
    } else if (a === '--row') rows.push(oneOf(rowNames));
    else if (a === '--variant') only.push(oneOf(variants));
    else if (a === '--measure') onlyMeasures.push(oneOf(measures));
    else throw new Error(`unknown argument ${a}; ${usage}`);
  }
  return {
    rounds,
    rows: rows.length === 0 ? [...rowNames] : rows,
    // In the declared order whatever the command line's, so `raw` leads when present.
    variants: variants.filter((v) => only.length === 0 || only.includes(v)),
    measures: onlyMeasures.length === 0 ? [...measures] : onlyMeasures,
  };
}

function format(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? 'n/a' : Math.round(n).toLocaleString('en-US');
}

function fixed(n: number | undefined, digits: number): string {
  return n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(digits);
}

function percent(share: number | undefined): string {
  return share === undefined || !Number.isFinite(share) ? 'n/a' : `${Math.round(share * 100)}%`;
}

/** `a / b`, or undefined when either is missing. */
function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined ? undefined : a / b;
}

/** "min / median / max" of the per-round ratios `a[i] / b[i]`. */
function spread(a: readonly number[] | undefined, b: readonly number[] | undefined): string {
  if (a === undefined || b === undefined || a.length === 0) return 'n/a';
  const ratios = a.map((x, i) => x / b[i]!).sort((x, y) => x - y);
  return `${fixed(ratios[0], 2)} / ${fixed(ratios[Math.floor(ratios.length / 2)], 2)} / ${fixed(ratios[ratios.length - 1], 2)}`;
}

/** The machine's CPU time so far and the part of it stolen by the hypervisor, in ticks (Linux only). */
function cpuTicks(): { total: number; steal: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    if (fields.length < 8 || fields.some((n) => !Number.isFinite(n))) return undefined;
    return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7]! };
  } catch {
    return undefined;
  }
}

function verdict(ok: boolean): string {
  return ok ? 'met' : 'NOT met';
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const settings: Settings = {
    seconds: secondsFromEnv('SYNOD_BENCH_SECONDS', 2),
    warmupSeconds: secondsFromEnv('SYNOD_BENCH_WARMUP_SECONDS', 0.25),
    rounds: args.rounds,
  };

  const results = new Map<RowName, Map<Variant, RowResult>>();
  const ticksBefore = cpuTicks();
  const contestants = await setUp(args.variants);
  let tcpStats: ReturnType<typeof statsOf>;
  try {
    for (const row of args.rows) {
      const load = loadOf(row);
      const byVariant = new Map(args.variants.map((v) => [v, {} as RowResult]));
      results.set(row, byVariant);
      if (args.measures.includes('throughput')) {
        for (const [variant, t] of await measureThroughput(contestants, load, settings)) byVariant.get(variant)!.throughput = t;
      }
      if (args.measures.includes('latency')) {
        for (const [variant, l] of await measureLatency(contestants, load, settings)) byVariant.get(variant)!.latency = l;
      }
    }
    tcpStats = statsOf(contestants);
  } finally {
    await tearDown(contestants);
  }
  const ticksAfter = cpuTicks();

  const cpus = os.cpus();
  const load = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  console.log('# synod transport: TcpTransport vs raw node:net sockets, two processes, loopback\n');
  // Time the hypervisor gave to other guests: a noisy neighbour shows here.
  const steal =
    ticksBefore === undefined || ticksAfter === undefined
      ? ''
      : `, CPU steal ${percent((ticksAfter.steal - ticksBefore.steal) / (ticksAfter.total - ticksBefore.total))} during the run`;
  console.log(
    `machine: ${cpus[0]?.model ?? 'unknown cpu'}, ${cpus.length} cores, node ${process.version}, ${os.platform()} ${os.arch()}, load average ${load}${steal}`,
  );
  const frames = args.rows.map((row) => `${row} ${format(loadOf(row).frame.byteLength)} B`).join(', ');
  if (process.env['SYNOD_BENCH_READ_VALUES'] === '1') console.log('receivers that decode read every command they decode (SYNOD_BENCH_READ_VALUES=1)');
  console.log(`frames on the wire (length prefix included): ${frames}; the sink's replies: accepted ${reply.frame.byteLength} B`);
  console.log(
    `per row and measurement: ${settings.warmupSeconds} s warm-up per variant, then ${settings.seconds} s measured per variant in ${settings.rounds} rounds of blocks (variants take turns: ${args.variants.join(' > ')}, reversed every other round)\n`,
  );
  console.log(
    '| message | variant | msgs/s | vs raw | msgs/write | sink replies/write | sender CPU µs/msg | sink CPU µs/msg | sender CPU | sink CPU | RTT p50 µs | RTT p99 µs | p50 vs raw |',
  );
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const [row, byVariant] of results) {
    const raw = byVariant.get('raw');
    for (const [variant, { throughput: t, latency: l }] of byVariant) {
      const cells = [
        row,
        variant === 'raw' ? 'raw (baseline)' : variant,
        format(t?.messagesPerSecond),
        fixed(ratio(t?.messagesPerSecond, raw?.throughput?.messagesPerSecond), 2),
        fixed(t?.messagesPerWrite, 1),
        fixed(t?.sinkMessagesPerWrite, 1),
        fixed(t?.senderCpuMicros, 2),
        fixed(t?.sinkCpuMicros, 2),
        percent(t?.senderCpuShare),
        percent(t?.sinkCpuShare),
        fixed(l?.p50Micros, 1),
        fixed(l?.p99Micros, 1),
        fixed(ratio(l?.p50Micros, raw?.latency?.p50Micros), 2),
      ];
      console.log(`| ${cells.join(' | ')} |`);
    }
  }
  console.log('');
  console.log(`- msgs/s: messages the sink received and acknowledged per second; at most ${format(windowMessages)} unacknowledged and ${turnMessagesMax}`);
  console.log(
    `  sent per event-loop turn, one reply per ${replyEvery}. msgs/write: the sender's messages per socket write (TcpTransport: from its stats); sink replies/write: the same for the sink's replies.`,
  );
  console.log("- CPU µs/msg: each process's CPU time (user + system) per message, its replies included; sender CPU and sink CPU:");
  console.log('  its share of one core while measuring (a process near 100% is the bottleneck).');
  console.log(`- RTT: ping-pong, one message in flight, the sink replying with an accepted at once; p50/p99 of a uniform sample of at`);
  console.log(`  most ${format(latencySamplesMax)} round trips.`);
  console.log("- raw: the same frames (encoded before timing); a turn's frames concatenated into one write on setImmediate, as TcpTransport");
  console.log('  does; split with FrameReader, not decoded. raw-codec: raw plus encoding each record when sent and decoding each frame.');
  console.log('  raw-per-write: one socket.write per frame, at once (context, not the baseline).');
  console.log('');
  for (const [row, byVariant] of results) {
    const raw = byVariant.get('raw');
    const tcp = byVariant.get('tcp');
    if (raw?.throughput !== undefined && tcp?.throughput !== undefined) {
      const r = tcp.throughput.messagesPerSecond / raw.throughput.messagesPerSecond;
      console.log(
        `- ${row}: TcpTransport msgs/s / raw msgs/s: ${format(tcp.throughput.messagesPerSecond)} / ${format(raw.throughput.messagesPerSecond)} = ${r.toFixed(3)} vs target >= ${throughputTargetRatio}: ${verdict(r >= throughputTargetRatio)} (per round, min / median / max: ${spread(tcp.throughput.perRound, raw.throughput.perRound)})`,
      );
    }
    if (raw?.latency !== undefined && tcp?.latency !== undefined) {
      const r = tcp.latency.p50Micros / raw.latency.p50Micros;
      console.log(
        `- ${row}: TcpTransport RTT p50 / raw RTT p50: ${fixed(tcp.latency.p50Micros, 1)} / ${fixed(raw.latency.p50Micros, 1)} µs = ${r.toFixed(3)} vs target <= ${latencyTargetRatio}: ${verdict(r <= latencyTargetRatio)} (per round, min / median / max: ${spread(tcp.latency.perRound, raw.latency.perRound)})`,
      );
    }
  }
  if (tcpStats !== undefined) {
    const s = tcpStats;
    console.log('');
    console.log(
      `- TcpTransport stats, sender, whole run (warm-ups included): ${format(s.messagesSent)} messages sent in ${format(s.writes)} writes (${fixed(s.messagesSent / s.writes, 1)} per write), ${format(s.messagesDelivered)} delivered, ${format(s.messagesDropped)} dropped, ${format(s.framesRejected)} frames rejected, ${format(s.connectionsEstablished)} connection(s)`,
    );
  }
}

/** The sending TcpTransport's stats, if `tcp` ran. */
function statsOf(contestants: readonly Contestant[]): TcpEndpoint['transport']['stats'] | undefined {
  const tcp = contestants.find((c) => c.endpoint instanceof TcpEndpoint)?.endpoint;
  return tcp instanceof TcpEndpoint ? tcp.transport.stats : undefined;
}

await main();
