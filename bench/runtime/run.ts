/**
 * Runtime throughput benchmark: three `createNode` nodes in one process, on a
 * `MemoryNetwork` and `MemoryStorage`, with the core's batched figure measured in the
 * same run as the baseline.
 *
 * - Nodes: the runtime's defaults (`tickMs` 50, `batchCommandsMax` 256,
 *   `inflightSlotsMax` 1,024, `pendingProposalsMax` 10,000), `bytesCodec`, and a counter
 *   state machine that adds each command's first byte, so the numbers are the runtime's
 *   cost and not the application's.
 * - Network: `MemoryNetwork` with its defaults (no delay, loss or duplication) on the
 *   system clock: never inside `send()`, but in one deferred turn (`Clock.defer`, a
 *   `setImmediate`) that delivers every message sent since, in send order.
 * - Storage: `MemoryStorage`, whose writes resolve after a microtask.
 * - Proposers: N async loops, each proposing a 16-byte command (its own, built before
 *   timing), awaiting the result, and proposing again. They all propose on the leader,
 *   except the `follower` row, where they propose on a follower that forwards to the leader.
 * - Rows: 1, 64 and 1,024 proposers on the leader, and 1,024 on a follower. Each row runs
 *   on a fresh cluster (the core keeps its log in memory, so rows stay alike): elect,
 *   start the proposers, warm up, then measure for a fixed time.
 * - Measures: proposals resolved per second of the window; p50 and p99 latency of
 *   `propose()` in ms, from a uniform sample of the window's proposals; commands per
 *   slot (batching) and slots/s from the leader's `metrics().applied`; the leader's
 *   storage writes per second and core outputs per write (group commit) from
 *   `metrics().persist`; messages delivered per second from the network's counts; the
 *   process's CPU time per proposal (all three nodes share the process).
 * - Baseline: the core benchmark's `batched` row (`bench/core/batched.ts`), run first;
 *   the ratio is the runtime's proposals/s at 1,024 proposers on the leader over it.
 *   Target: at least 0.5. Also printed: the ceiling a closed loop of 1,024 proposers can
 *   reach at the single proposer's latency (Little's law: proposers / latency). A
 *   benchmark, not a test: it reports and never fails.
 *
 * Run with `npm run bench` (after the core benchmark) or `npx tsx bench/runtime/run.ts`.
 * Environment: `SYNOD_BENCH_SECONDS` (measured seconds per row, default 3),
 * `SYNOD_BENCH_WARMUP_SECONDS` (default 1). Options: `--row leader|follower:N`
 * (repeatable) to run only some rows, `--no-core` to skip the baseline (handy under `--cpu-prof`).
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { MemoryNetwork, MemoryStorage, type NodeId, type NodeMetrics, type StateMachine, type SynodNode, bytesCodec, createNode } from '../../src/index.js';
import { type CoreBatched, measureCoreBatched } from '../core/batched.js';
import { secondsFromEnv } from '../env.js';
import { Window as MeasuredWindow } from '../window.js';

/** Where the proposers send their commands, and how many of them there are. */
interface Row {
  readonly target: 'leader' | 'follower';
  readonly proposers: number;
}

const rows: readonly Row[] = [
  { target: 'leader', proposers: 1 },
  { target: 'leader', proposers: 64 },
  { target: 'leader', proposers: 1024 },
  { target: 'follower', proposers: 1024 },
];
const ids: readonly NodeId[] = ['a', 'b', 'c'];
const commandBytes = 16;
/** Latencies kept per row (a uniform reservoir sample of the window's proposals). */
const latencySamplesMax = 1 << 16;
/** How long a fresh cluster may take to agree on a leader, in ms. */
const electionMsMax = 10_000;
/** Rounds of the core baseline (its median is used), as in `npm run bench`. */
const coreRounds = 7;
/** How long a proposer waits after a rejected proposal before proposing again, in ms. */
const failureBackoffMs = 10;

/** Adds each command's first byte: the cheapest apply that still reads the command. */
class Counter implements StateMachine<Uint8Array, number> {
  total = 0;

  apply(command: Uint8Array): number {
    this.total += command[0]!;
    return this.total;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ------------------------------------------------------------------ the cluster

interface Cluster {
  readonly network: MemoryNetwork;
  readonly nodes: readonly SynodNode<Uint8Array, number>[];
  readonly leader: SynodNode<Uint8Array, number>;
  readonly follower: SynodNode<Uint8Array, number>;
}

/** Three started nodes that agree on a leader. */
async function startCluster(): Promise<Cluster> {
  const network = new MemoryNetwork();
  const nodes = ids.map((id) =>
    createNode({ id, members: ids, transport: network.transport(id), storage: new MemoryStorage(), stateMachine: new Counter(), codec: bytesCodec }),
  );
  await Promise.all(nodes.map((n) => n.start()));
  const deadline = performance.now() + electionMsMax;
  while (performance.now() < deadline) {
    const leader = nodes.find((n) => n.status().role === 'leader');
    if (leader !== undefined && nodes.every((n) => n.status().leader === leader.id)) {
      return { network, nodes, leader, follower: nodes.find((n) => n !== leader)! };
    }
    await sleep(10);
  }
  await Promise.all(nodes.map((n) => n.close()));
  throw new Error(`no leader elected in ${electionMsMax} ms`);
}

// ------------------------------------------------------------------ proposers

/** The shared window, plus the proposals rejected (at any time), by error name. */
class Window extends MeasuredWindow {
  readonly failures = new Map<string, { count: number; first: string }>();

  fail(error: unknown): void {
    const name = error instanceof Error ? error.name : typeof error;
    const seen = this.failures.get(name);
    if (seen === undefined) this.failures.set(name, { count: 1, first: error instanceof Error ? error.message : String(error) });
    else seen.count++;
  }
}

async function proposer(node: SynodNode<Uint8Array, number>, command: Uint8Array, window: Window): Promise<void> {
  while (!window.stopped) {
    const start = performance.now();
    try {
      await node.propose(command);
    } catch (error) {
      window.fail(error);
      if (node.status().state !== 'running') return;
      // Back off: a loop that retries at once would starve the event loop's timers.
      await sleep(failureBackoffMs);
      continue;
    }
    window.record(performance.now() - start);
  }
}

// ------------------------------------------------------------------ one row

function leaderChanges(cluster: Cluster): number {
  let sum = 0;
  for (const n of cluster.nodes) sum += n.metrics().leaderChanges;
  return sum;
}

interface RowResult {
  readonly row: Row;
  readonly proposalsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly commandsPerSlot: number;
  readonly slotsPerSecond: number;
  readonly writesPerSecond: number;
  readonly outputsPerWrite: number;
  readonly messagesPerSecond: number;
  /** Process CPU time (user + system, all three nodes) per resolved proposal, in µs. */
  readonly cpuMicrosPerProposal: number;
  readonly failures: ReadonlyMap<string, { readonly count: number; readonly first: string }>;
  /** Leader changes any node saw in the window: an election spoils the row. */
  readonly leaderChanges: number;
}

async function runRow(row: Row, warmupSeconds: number, seconds: number): Promise<RowResult> {
  const cluster = await startCluster();
  const { leader, network } = cluster;
  const node = row.target === 'leader' ? leader : cluster.follower;
  const window = new Window(latencySamplesMax);
  const loops: Promise<void>[] = [];
  for (let i = 0; i < row.proposers; i++) {
    const command = new Uint8Array(commandBytes);
    new DataView(command.buffer).setUint32(0, i);
    loops.push(proposer(node, command, window));
  }
  await sleep(warmupSeconds * 1000);

  const before: NodeMetrics = leader.metrics();
  const changesBefore = leaderChanges(cluster);
  const deliveredBefore = network.counts.delivered;
  const cpuBefore = process.cpuUsage();
  window.measuring = true;
  const start = performance.now();
  await sleep(seconds * 1000);
  window.measuring = false;
  const elapsed = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const after: NodeMetrics = leader.metrics();
  const changesAfter = leaderChanges(cluster);
  const deliveredAfter = network.counts.delivered;

  window.stopped = true;
  await Promise.all(loops);
  await Promise.all(cluster.nodes.map((n) => n.close()));

  const slots = after.applied.slots - before.applied.slots;
  const commands = after.applied.commands - before.applied.commands;
  const writes = after.persist.writes - before.persist.writes;
  const outputs = after.persist.batches - before.persist.batches;
  return {
    row,
    proposalsPerSecond: window.completed / elapsed,
    p50Ms: window.quantile(0.5),
    p99Ms: window.quantile(0.99),
    commandsPerSlot: slots === 0 ? 0 : commands / slots,
    slotsPerSecond: slots / elapsed,
    writesPerSecond: writes / elapsed,
    outputsPerWrite: writes === 0 ? 0 : outputs / writes,
    messagesPerSecond: (deliveredAfter - deliveredBefore) / elapsed,
    cpuMicrosPerProposal: window.completed === 0 ? Number.NaN : (cpu.user + cpu.system) / window.completed,
    failures: window.failures,
    leaderChanges: changesAfter - changesBefore,
  };
}

// ------------------------------------------------------------------ main

function parseArgs(argv: readonly string[]): { only: Row[]; core: boolean } {
  const wanted: string[] = [];
  let core = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--row') wanted.push(argv[++i] ?? '');
    else if (a === '--no-core') core = false;
    else throw new Error(`unknown argument ${a}; use --row leader|follower:N (repeatable), --no-core`);
  }
  if (wanted.length === 0) return { only: [...rows], core };
  const only = wanted.map((w) => {
    const parts = w.split(':');
    const [target, count] = parts;
    const proposers = Number(count);
    if (parts.length !== 2 || (target !== 'leader' && target !== 'follower') || !Number.isSafeInteger(proposers) || proposers < 1) {
      throw new Error(`--row ${w}: expected leader|follower:N with N a positive integer`);
    }
    return { target, proposers } satisfies Row;
  });
  return { only, core };
}

function format(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function ms(n: number): string {
  return Number.isNaN(n) ? 'n/a' : n.toFixed(2);
}

async function main(): Promise<void> {
  const { only, core: withCore } = parseArgs(process.argv.slice(2));
  const seconds = secondsFromEnv('SYNOD_BENCH_SECONDS', 3);
  const warmupSeconds = secondsFromEnv('SYNOD_BENCH_WARMUP_SECONDS', 1);

  const core: CoreBatched | undefined = withCore ? measureCoreBatched(coreRounds) : undefined;
  const results: RowResult[] = [];
  for (const row of only) results.push(await runRow(row, warmupSeconds, seconds));

  const cpus = os.cpus();
  console.log(`# synod runtime throughput (3 nodes, one process, MemoryNetwork, MemoryStorage)\n`);
  console.log(`machine: ${cpus[0]?.model ?? 'unknown cpu'}, ${cpus.length} cores, node ${process.version}, ${os.platform()} ${os.arch()}`);
  console.log(`${commandBytes}-byte commands, default node options; each row on a fresh cluster, ${warmupSeconds} s warm-up then ${seconds} s measured\n`);
  console.log(
    '| proposals to | proposers | proposals/s | p50 ms | p99 ms | CPU µs/proposal | commands/slot | slots/s | leader writes/s | outputs/write | messages/s |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const cells = [
      r.row.target,
      format(r.row.proposers),
      format(r.proposalsPerSecond),
      ms(r.p50Ms),
      ms(r.p99Ms),
      r.cpuMicrosPerProposal.toFixed(1),
      r.commandsPerSlot.toFixed(1),
      format(r.slotsPerSecond),
      format(r.writesPerSecond),
      r.outputsPerWrite.toFixed(2),
      format(r.messagesPerSecond),
    ];
    console.log(`| ${cells.join(' | ')} |`);
  }
  console.log('');
  if (core !== undefined) {
    console.log(`| baseline | commands/s |`);
    console.log('|---|---:|');
    console.log(`| core, batched (${core.commandsPerSlot} cmd/slot, median of ${coreRounds} rounds, same run) | ${format(core.commandsPerSecond)} |`);
    console.log('');
  }
  console.log('- proposals/s: `propose()` calls resolved (applied on the node proposed to) per second of the window.');
  console.log(`- p50/p99: latency of \`propose()\`, from a uniform sample of at most ${format(latencySamplesMax)} proposals of the window.`);
  console.log("- commands/slot and slots/s: from the leader's metrics (no-op slots count as slots); writes/s and");
  console.log("  outputs/write (group commit): the leader's storage writes, and core outputs each one carried.");
  console.log("- CPU µs/proposal: the process's CPU time (user + system, all three nodes) over the window, per proposal.");
  console.log('- messages/s: messages the network delivered, among all three nodes.');
  console.log('- network: MemoryNetwork defaults (zero delay, no loss); messages are delivered in one deferred turn');
  console.log('  (setImmediate), in send order, never inside send(). Storage: MemoryStorage, writes resolve after a microtask.');
  for (const r of results) {
    if (r.failures.size === 0) continue;
    const list = [...r.failures].map(([name, { count, first }]) => `${format(count)} ${name} (first: ${first})`).join(', ');
    console.log(`- ${r.row.target} ${format(r.row.proposers)}: proposals rejected: ${list}`);
  }
  for (const r of results) {
    if (r.leaderChanges > 0) console.log(`- ${r.row.target} ${format(r.row.proposers)}: ${r.leaderChanges} leader changes in the window; discard this row`);
  }
  const find = (proposers: number): RowResult | undefined => results.find((r) => r.row.target === 'leader' && r.row.proposers === proposers);
  const headline = find(1024);
  const single = find(1);
  if (headline !== undefined && single !== undefined) {
    const ceiling = headline.row.proposers / (single.p50Ms / 1000);
    const vsCore = core === undefined ? '' : ` (${(ceiling / core.commandsPerSecond).toFixed(3)} of the core's batched figure)`;
    console.log(
      `- closed-loop ceiling at ${format(headline.row.proposers)} proposers and the 1-proposer p50 of ${ms(single.p50Ms)} ms: ${format(ceiling)} proposals/s${vsCore}`,
    );
  }
  if (core !== undefined && headline !== undefined) {
    const ratio = headline.proposalsPerSecond / core.commandsPerSecond;
    console.log('');
    console.log(
      `- runtime at 1,024 proposers / core batched: ${format(headline.proposalsPerSecond)} / ${format(core.commandsPerSecond)} = ${ratio.toFixed(3)} vs target 0.5: ${ratio >= 0.5 ? 'met' : 'NOT met'}`,
    );
  }
}

await main();
