/**
 * Core throughput benchmark: three real `Replica`s in one process, no runtime, no I/O.
 *
 * - Network: zero latency and synchronous, a plain FIFO array of messages; every
 *   message is delivered in order, and each replica's output is drained right after it
 *   is stepped.
 * - Storage: instant. The driver honours the output contract (persist, report
 *   `persisted(persistSeq)`, then send, apply and report `applied(slot)`), but the
 *   persist itself is a no-op, so the numbers are the protocol's own cost.
 * - Election: the replicas tick (randomness from a seeded `Prng`) until one leads and
 *   the others follow it; no tick happens afterwards, so no heartbeat, retransmission
 *   or election disturbs the measurement.
 * - Pipeline: propose a chunk of `chunkSlots` slots' worth of commands to the leader,
 *   then deliver until the network is quiescent, and repeat. Followers learn a chunk's
 *   commit index from the next chunk's accepts (as they would in production), so
 *   they run one chunk behind the leader; the throughput counts what the leader applied.
 * - Commands: 16 bytes each, taken from a pool built before timing (a client allocates
 *   its commands; we measure what the protocol allocates).
 * - Modes: `unbatched` (`batchCommandsMax: 1`, one command a slot, target in slots/s)
 *   and `batched` (`batchCommandsMax: 64`, commands proposed in groups so each slot
 *   carries 64, target in commands/s), both with 64-slot chunks, so one accept carries
 *   64 slots (pipelining); and `one-slot`, no target, with one-slot chunks, so every
 *   accept carries one slot and the per-message cost shows. `inflightSlotsMax` 4096 and
 *   `proposalQueueMax` 2^20 never bind.
 * - Timing: warm-up rounds, then several measured rounds, each on a fresh cluster
 *   (the core keeps its whole log in memory, so a fresh cluster keeps rounds alike);
 *   the table shows the median round.
 * - Allocation: measured in a child process (this file, run again with
 *   `--expose-gc --min-semi-space-size=128 --max-semi-space-size=128 ... --alloc`): after
 *   warm-up rounds, elect a fresh cluster, `gc()`, read `v8.getHeapStatistics().used_heap_size`,
 *   run a slice of the workload from the cluster's first slot (so the growth of its logs
 *   is amortized as in a long run) small enough to fit the new space, read it again. A
 *   `PerformanceObserver` counts 'gc' entries; a slice during which any collection ran
 *   is discarded, so nothing was freed and the delta is exactly the bytes allocated on
 *   the V8 heap (garbage and retained log alike, by all three replicas and the driver).
 *   The median over slices, divided by the slice's commands, is reported.
 * - Baseline: in the same run, as many small message-like objects as the median round
 *   exchanged protocol messages are created, pushed onto a plain array and shifted off
 *   it, with no protocol logic; the ratio is protocol messages/s over baseline messages/s.
 *
 * Run with `npm run bench`. Options: `--only unbatched|batched|one-slot`, `--rounds N`, and
 * `--no-alloc` to skip the allocation child (handy under `--cpu-prof`).
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import { type Mode, chunksFor, commandBytes, median, medianRound, modes, pump, round, setUp, warmupRounds } from './cluster.js';

/** Creates, pushes and shifts `count` message-like objects through a plain array; seconds taken. */
function baselineOnce(count: number): number {
  const queue: { type: string; from: string; to: string; firstSlot: number; count: number }[] = [];
  let sum = 0;
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    queue.push({ type: 'accepted', from: 'b', to: 'a', firstSlot: i, count: 1 });
    const m = queue.shift()!;
    sum += m.firstSlot + m.count;
  }
  const seconds = (performance.now() - start) / 1000;
  if (sum !== (count * (count - 1)) / 2 + count) throw new Error('baseline lost a message');
  return seconds;
}

function baselineRate(count: number, rounds: number): number {
  baselineOnce(1_000_000); // warm-up, so the loop is optimized before it is timed
  // Repeat the same count to smooth timer noise: each repetition is timed alone.
  const rates: number[] = [];
  for (let i = 0; i < rounds; i++) rates.push(count / baselineOnce(count));
  return median(rates);
}

// ------------------------------------------------------------------ allocation (child)

const allocSlices = 5;
/** Commands in one allocation slice, per mode. */
const allocSliceCommands: Record<Mode['name'], number> = { unbatched: 32_768, batched: 262_144, 'one-slot': 4096 };

/** Heap bytes per command: allocated while running, and still retained afterwards. */
interface Allocation {
  readonly allocated: number;
  readonly retained: number;
}

/** Measured as described at the top. Needs `--expose-gc`. */
async function allocationPerCommand(mode: Mode): Promise<Allocation> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('the allocation measurement needs node --expose-gc');
  let gcs = 0;
  const observer = new PerformanceObserver((list) => {
    gcs += list.getEntries().length;
  });
  observer.observe({ entryTypes: ['gc'] });
  // Lets the observer hear of any collection before the count is read.
  const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));
  const used = (): number => v8.getHeapStatistics().used_heap_size;
  const chunks = chunksFor(mode);
  for (let i = 0; i < warmupRounds; i++) round(mode, chunks);
  // A slice runs a new cluster from its first slot, so the geometric growth of its
  // logs is amortized as in a long run; tens of MiB, within the 128 MiB new space.
  const sliceChunks = Math.ceil(allocSliceCommands[mode.name] / (mode.chunkSlots * mode.commandsPerSlot));
  const allocated: number[] = [];
  const retained: number[] = [];
  for (let attempt = 0; attempt < 3 * allocSlices && allocated.length < allocSlices; attempt++) {
    const { cluster, leader } = setUp(mode);
    gc();
    await settle();
    const gcsBefore = gcs;
    const before = used();
    pump(cluster, leader, chunks, sliceChunks);
    const after = used();
    await settle();
    if (gcs !== gcsBefore) continue; // a collection freed memory during the slice: discard it
    const commands = cluster.appliedCommands.get(leader.id)!;
    allocated.push((after - before) / commands);
    gc(); // the cluster is still referenced: what survives is its logs and state
    retained.push((used() - before) / commands);
  }
  observer.disconnect();
  if (allocated.length === 0) throw new Error(`${mode.name}: every allocation slice saw a collection`);
  return { allocated: median(allocated), retained: median(retained) };
}

function measureAllocationInChild(only: readonly Mode[]): Map<string, Allocation> {
  const args = [
    ...process.execArgv,
    '--expose-gc',
    '--min-semi-space-size=128',
    '--max-semi-space-size=128',
    process.argv[1]!,
    '--alloc',
    ...only.flatMap((m) => ['--only', m.name]),
  ];
  const child = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 60_000 });
  if (child.status !== 0) {
    process.stderr.write(`allocation measurement failed (status ${child.status}):\n${child.stderr}\n`);
    return new Map();
  }
  const parsed = JSON.parse(child.stdout.trim().split('\n').pop()!) as Record<string, Allocation>;
  return new Map(Object.entries(parsed));
}

// ------------------------------------------------------------------ main

function parseArgs(argv: readonly string[]): { only: Mode[]; rounds: number; alloc: boolean; skipAlloc: boolean } {
  const names: string[] = [];
  let rounds = 7;
  let alloc = false;
  let skipAlloc = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--only') names.push(argv[++i] ?? '');
    else if (a === '--rounds') rounds = Number(argv[++i]);
    else if (a === '--alloc') alloc = true;
    else if (a === '--no-alloc') skipAlloc = true;
    else throw new Error(`unknown argument ${a}; use --only unbatched|batched|one-slot, --rounds N, --no-alloc`);
  }
  const only = names.length === 0 ? [...modes] : modes.filter((m) => names.includes(m.name));
  if (only.length !== names.length && names.length > 0) throw new Error(`unknown mode in ${names.join(', ')}`);
  if (!Number.isSafeInteger(rounds) || rounds < 1) throw new Error('--rounds must be a positive integer');
  return { only, rounds, alloc, skipAlloc };
}

function format(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

async function main(): Promise<void> {
  const { only, rounds, alloc, skipAlloc } = parseArgs(process.argv.slice(2));
  if (alloc) {
    const out: Record<string, Allocation> = {};
    for (const mode of only) out[mode.name] = await allocationPerCommand(mode);
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }

  const rows: string[] = [];
  const verdicts: string[] = [];
  const retainedNotes: string[] = [];
  const allocation = skipAlloc ? new Map<string, Allocation>() : measureAllocationInChild(only);
  for (const mode of only) {
    const mid = medianRound(mode, rounds);
    const commandsRate = mid.commands / mid.seconds;
    const slotsRate = mid.slots / mid.seconds;
    const messagesRate = mid.messages / mid.seconds;
    const baseline = baselineRate(mid.messages, rounds);
    const bytes = allocation.get(mode.name);
    if (bytes !== undefined) retainedNotes.push(`${mode.name} ${bytes.retained.toFixed(0)}`);
    rows.push(
      `| ${mode.name} (${mode.commandsPerSlot} cmd/slot, ${mode.chunkSlots} slot/chunk) | ${format(commandsRate)} | ${format(slotsRate)} | ${format(messagesRate)} | ${bytes === undefined ? 'n/a' : bytes.allocated.toFixed(0)} | ${format(baseline)} | ${(messagesRate / baseline).toFixed(4)} |`,
    );
    if (mode.name === 'one-slot') continue;
    if (mode.name === 'batched')
      verdicts.push(`batched: ${format(commandsRate)} commands/s vs target 2,000,000: ${commandsRate >= 2_000_000 ? 'met' : 'NOT met'}`);
    else verdicts.push(`unbatched: ${format(slotsRate)} slots/s vs target 200,000: ${slotsRate >= 200_000 ? 'met' : 'NOT met'}`);
  }

  const cpus = os.cpus();
  console.log(`# synod core throughput (3 replicas, one process, zero-latency network, instant persistence)\n`);
  console.log(`machine: ${cpus[0]?.model ?? 'unknown cpu'}, ${cpus.length} cores, node ${process.version}, ${os.platform()} ${os.arch()}`);
  console.log(
    `${commandBytes}-byte commands; each chunk of slots is proposed, then the network drained; median of ${rounds} rounds after ${warmupRounds} warm-up rounds\n`,
  );
  console.log('| mode | commands/s | slots/s | messages/s | bytes allocated/command | baseline msgs/s | protocol/baseline |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(r);
  console.log('');
  console.log('- messages/s: protocol messages delivered (accept, accepted) per second of the median round.');
  console.log('- one-slot: no target; one slot in flight, so each accept carries one slot: the per-message cost.');
  console.log('- bytes allocated/command: V8 heap bytes allocated by all three replicas and the driver, per command,');
  console.log('  from used_heap_size deltas across GC-free slices after gc() (node --expose-gc, 128 MiB semi-space; median of 5 slices).');
  if (retainedNotes.length > 0) {
    console.log(`  Of these, still live after a gc() at the end of the slice (the in-memory log): ${retainedNotes.join(', ')} bytes/command.`);
  }
  console.log('- baseline: the same number of message-like objects created, pushed and shifted through a plain array.');
  console.log('');
  for (const v of verdicts) console.log(`- ${v}`);
}

await main();
