/**
 * File storage benchmark: FileStorage's persist throughput and latency, with a raw
 * `write` + `fdatasync` loop on the same disk measured in the same run as the baseline,
 * and the time to open a large data directory.
 *
 * - Directory: a fresh temporary directory under `SYNOD_BENCH_DIR` (default the OS temp
 *   directory), so the baseline and the storage share a disk; removed at the end.
 * - Persist: one accepted entry (a fresh slot, ballot 1.n1, one command of
 *   {@link commandBytes} bytes) and a commit index: a replica accepting one slot.
 *   Slots cycle through {@link slotsLive} values, so the in-memory state stays the same
 *   size however fast the row runs (a log that is compacted).
 * - Baseline: one file opened with `fs.promises`, a loop of `write` at the end of the
 *   file of as many bytes as one persist's record (frame included), then `fdatasync`:
 *   the cost of making one record durable, with nothing else.
 * - Rows: 1, 16 and 256 writers on one FileStorage (default options, a fresh directory
 *   per row), each awaiting its persist before issuing the next. Measures: persists
 *   resolved per second of the window; p50 and p99 latency of `persist()` from a
 *   uniform sample; persists per fdatasync (the group-commit factor) from `stats`. The
 *   same rows again with `syncOnEventLoop: false` (every log write and sync through
 *   libuv's thread pool), for what the default's blocking calls save.
 * - Targets: at 1 writer, p50 at most 1.2x the baseline's p50; at 256 writers,
 *   throughput at least 50x the baseline's rate.
 * - Open: a directory holding {@link openEntries} entries (9 in 10 accepted, 1 in 10
 *   chosen, each one distinct 16-byte command), written in batches of {@link openBatchEntries}, and
 *   a snapshot of {@link openSnapshotBytes} bytes. Timed, each round in a fresh process
 *   (this file run again with `--measure-open DIR`), as a restarting replica would:
 *   `FileStorage.open` (replays the log) and then `load()` (the sorted state a replica
 *   restarts from); median of {@link openRounds} rounds, with the files in the page
 *   cache (just written). Target: open under 2 s.
 *
 * A benchmark, not a test: it reports and never fails. Run with `npm run bench` or
 * `npx tsx bench/storage/run.ts`. Environment: `SYNOD_BENCH_SECONDS` (measured seconds
 * per row, default 3), `SYNOD_BENCH_WARMUP_SECONDS` (default 1), `SYNOD_BENCH_DIR`.
 * Options: `--rows 1,16,256` (writer counts), `--no-open` to skip the open measurement,
 * `--open-only`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type AcceptedEntry, type ChosenEntry, type PersistBatch, type Value, batch } from '../../src/core/index.js';
import { FileStorage, type FileStorageOptions, type FileStorageStats } from '../../src/storage/file/index.js';
import { RecordType, encodeBatch, encodeRecord } from '../../src/storage/file/record.js';
import { secondsFromEnv } from '../env.js';
import { Window } from '../window.js';

const commandBytes = 100;
const slotsLive = 1 << 16;
const rowsDefault = [1, 16, 256] as const;
/** Latencies kept per row (a uniform reservoir sample of the window's operations). */
const latencySamplesMax = 1 << 16;
const openEntries = 1_000_000;
const openBatchEntries = 10_000;
const openSnapshotBytes = 4 * 1024 * 1024;
const openRounds = 3;
const openTargetMs = 2000;
const latencyTargetRatio = 1.2;
const throughputTargetRatio = 50;
const throughputTargetWriters = 256;

/**
 * Lets `loops` (which stop when `window.stopped`) run through a warm-up, then a measured
 * window, calling `edge` as it opens and as it closes; the seconds measured.
 */
async function measure(window: Window, loops: Promise<void>[], warmupSeconds: number, seconds: number, edge = (): void => {}): Promise<number> {
  await sleep(warmupSeconds * 1000);
  edge();
  window.measuring = true;
  const start = performance.now();
  await sleep(seconds * 1000);
  window.measuring = false;
  const elapsed = (performance.now() - start) / 1000;
  edge();
  window.stopped = true;
  await Promise.all(loops);
  return elapsed;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const command = new Uint8Array(commandBytes).fill(0x5a);
const ballot = { round: 1, node: 'n1' };

/** The persist of slot `n` (cycling through {@link slotsLive} slots). */
function persistOf(n: number): PersistBatch {
  const entry: AcceptedEntry = { slot: (n % slotsLive) + 1, ballot, value: batch([command]) };
  return { accepted: [entry], chosen: [], commitIndex: 0 };
}

const recordBytes = encodeRecord(RecordType.batch, encodeBatch(persistOf(0))).byteLength;

// ------------------------------------------------------------------ baseline

interface Result {
  readonly opsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Persists per fdatasync (FileStorage rows only). */
  readonly perSync?: number;
}

async function baseline(dir: string, warmupSeconds: number, seconds: number): Promise<Result> {
  const handle = await open(join(dir, 'baseline.log'), 'wx');
  const record = new Uint8Array(recordBytes).fill(0xa5);
  const window = new Window(latencySamplesMax);
  let position = 0;
  const loop = async (): Promise<void> => {
    while (!window.stopped) {
      const start = performance.now();
      await handle.write(record, 0, record.byteLength, position);
      await handle.datasync();
      position += record.byteLength;
      window.record(performance.now() - start);
    }
  };
  try {
    const elapsed = await measure(window, [loop()], warmupSeconds, seconds);
    return { opsPerSecond: window.completed / elapsed, p50Ms: window.quantile(0.5), p99Ms: window.quantile(0.99) };
  } finally {
    await handle.close();
  }
}

// ------------------------------------------------------------------ FileStorage rows

async function storageRow(dir: string, writers: number, warmupSeconds: number, seconds: number, options: FileStorageOptions = {}): Promise<Result> {
  const storage = await FileStorage.open(dir, options);
  const window = new Window(latencySamplesMax);
  let next = 0;
  const writer = async (): Promise<void> => {
    while (!window.stopped) {
      const start = performance.now();
      await storage.persist(persistOf(next++));
      window.record(performance.now() - start);
    }
  };
  const loops = Array.from({ length: writers }, () => writer());
  // Counters are read at the window's edges: the warm-up's persists do not count.
  const edges: FileStorageStats[] = [];
  const elapsed = await measure(window, loops, warmupSeconds, seconds, () => edges.push(storage.stats));
  await storage.close();
  const [before, after] = edges as [FileStorageStats, FileStorageStats];
  const fsyncs = after.fsyncs - before.fsyncs;
  return {
    opsPerSecond: window.completed / elapsed,
    p50Ms: window.quantile(0.5),
    p99Ms: window.quantile(0.99),
    perSync: fsyncs === 0 ? Number.NaN : (after.persists - before.persists) / fsyncs,
  };
}

// ------------------------------------------------------------------ open time

interface OpenResult {
  readonly buildSeconds: number;
  readonly logBytes: number;
  readonly openMs: number;
  readonly loadMs: number;
  readonly entries: number;
}

/** A directory with {@link openEntries} entries and a snapshot; then the median open and load. */
async function openTime(dir: string): Promise<OpenResult> {
  // Distinct bytes per entry, so that nothing can share them.
  const valueOf = (slot: number): Value => {
    const command = new Uint8Array(16);
    new DataView(command.buffer).setFloat64(0, slot, true);
    return batch([command]);
  };
  const buildStart = performance.now();
  const storage = await FileStorage.open(dir);
  const snapshotSlot = 1000;
  await storage.saveSnapshot({ slot: snapshotSlot, data: new Uint8Array(openSnapshotBytes).fill(3) });
  let slot = snapshotSlot + 1;
  let logBytes = 0;
  for (let written = 0; written < openEntries; written += openBatchEntries) {
    const accepted: AcceptedEntry[] = [];
    const chosen: ChosenEntry[] = [];
    for (let i = 0; i < openBatchEntries; i++, slot++) {
      if (i % 10 === 9) chosen.push({ slot, value: valueOf(slot) });
      else accepted.push({ slot, ballot, value: valueOf(slot) });
    }
    const b: PersistBatch = { accepted, chosen, commitIndex: slot - 1 };
    logBytes += encodeRecord(RecordType.batch, encodeBatch(b)).byteLength;
    await storage.persist(b);
  }
  await storage.close();
  const buildSeconds = (performance.now() - buildStart) / 1000;

  const opens: number[] = [];
  const loads: number[] = [];
  let entries = 0;
  for (let round = 0; round < openRounds; round++) {
    const measured = measureOpenInChild(dir);
    opens.push(measured.openMs);
    loads.push(measured.loadMs);
    entries = measured.entries;
  }
  return { buildSeconds, logBytes, openMs: median(opens), loadMs: median(loads), entries };
}

interface OpenMeasured {
  readonly openMs: number;
  readonly loadMs: number;
  readonly entries: number;
}

/** Opens and loads `dir` in a fresh process, as a restarting replica would: this file, run with `--measure-open`. */
function measureOpenInChild(dir: string): OpenMeasured {
  const args = [...process.execArgv, process.argv[1]!, '--measure-open', dir];
  const child = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 120_000 });
  if (child.status !== 0) throw new Error(`the open measurement failed (status ${child.status}):\n${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').pop()!) as OpenMeasured;
}

/** The child's side of {@link measureOpenInChild}. */
async function measureOpen(dir: string): Promise<OpenMeasured> {
  const start = performance.now();
  const storage = await FileStorage.open(dir);
  const opened = performance.now();
  const state = await storage.load();
  const loaded = performance.now();
  await storage.close();
  return { openMs: opened - start, loadMs: loaded - opened, entries: state.accepted.length + state.chosen.length };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

// ------------------------------------------------------------------ main

function parseArgs(argv: readonly string[]): { rows: number[]; open: boolean; persist: boolean } {
  let rows: number[] = [...rowsDefault];
  let openRow = true;
  let persist = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--rows') {
      const list = argv[++i] ?? '';
      rows = list.split(',').map(Number);
      if (rows.some((w) => !Number.isSafeInteger(w) || w < 1)) throw new Error(`--rows ${list}: expected writer counts like 1,16,256`);
    } else if (a === '--no-open') openRow = false;
    else if (a === '--open-only') persist = false;
    else throw new Error(`unknown argument ${a}; use --rows 1,16,256, --no-open, --open-only`);
  }
  return { rows, open: openRow, persist };
}

function format(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function ms(n: number): string {
  return Number.isNaN(n) ? 'n/a' : n.toFixed(3);
}

async function main(): Promise<void> {
  if (process.argv[2] === '--measure-open') {
    process.stdout.write(`${JSON.stringify(await measureOpen(process.argv[3]!))}\n`);
    return;
  }
  const args = parseArgs(process.argv.slice(2));
  const seconds = secondsFromEnv('SYNOD_BENCH_SECONDS', 3);
  const warmupSeconds = secondsFromEnv('SYNOD_BENCH_WARMUP_SECONDS', 1);
  const parent = process.env.SYNOD_BENCH_DIR ?? os.tmpdir();
  const root = await mkdtemp(join(parent, 'synod-bench-storage-'));
  try {
    let raw: Result | undefined;
    const rows: { writers: number; result: Result }[] = [];
    // The same rows with every log write and sync through the thread pool: what syncOnEventLoop saves.
    const pooledRows: { writers: number; result: Result }[] = [];
    if (args.persist) {
      raw = await baseline(root, warmupSeconds, seconds);
      for (const writers of args.rows) {
        rows.push({ writers, result: await storageRow(join(root, `row-${writers}`), writers, warmupSeconds, seconds) });
        pooledRows.push({ writers, result: await storageRow(join(root, `pooled-${writers}`), writers, warmupSeconds, seconds, { syncOnEventLoop: false }) });
      }
    }
    const opened = args.open ? await openTime(join(root, 'open')) : undefined;

    const cpus = os.cpus();
    const load = os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
    console.log(`# synod file storage (FileStorage, default options) vs raw write + fdatasync\n`);
    console.log(
      `machine: ${cpus[0]?.model ?? 'unknown cpu'}, ${cpus.length} cores, node ${process.version}, ${os.platform()} ${os.arch()}, load average ${load}`,
    );
    console.log(
      `directory: ${root}; ${recordBytes}-byte records (one accepted slot, one ${commandBytes}-byte command); ${warmupSeconds} s warm-up then ${seconds} s measured per row\n`,
    );
    if (raw !== undefined) {
      console.log('| row | writers | ops/s | p50 ms | p99 ms | persists/fsync | ops/s vs raw | p50 vs raw |');
      console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
      console.log(`| raw write + fdatasync (baseline) | 1 | ${format(raw.opsPerSecond)} | ${ms(raw.p50Ms)} | ${ms(raw.p99Ms)} | 1 | 1.00 | 1.00 |`);
      for (const { writers, result: r, name } of [
        ...rows.map((row) => ({ ...row, name: 'FileStorage.persist' })),
        ...pooledRows.map((row) => ({ ...row, name: 'FileStorage.persist, syncOnEventLoop: false (thread pool)' })),
      ]) {
        const cells = [
          name,
          format(writers),
          format(r.opsPerSecond),
          ms(r.p50Ms),
          ms(r.p99Ms),
          (r.perSync ?? Number.NaN).toFixed(1),
          (r.opsPerSecond / raw.opsPerSecond).toFixed(2),
          (r.p50Ms / raw.p50Ms).toFixed(2),
        ];
        console.log(`| ${cells.join(' | ')} |`);
      }
      console.log('');
    }
    if (opened !== undefined) {
      console.log('| open | entries | log MiB | snapshot MiB | build s | open ms | load ms | open + load ms |');
      console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
      console.log(
        `| FileStorage.open (fresh process, median of ${openRounds}, warm page cache) | ${format(opened.entries)} | ${(opened.logBytes / 2 ** 20).toFixed(1)} | ${(openSnapshotBytes / 2 ** 20).toFixed(1)} | ${opened.buildSeconds.toFixed(1)} | ${format(opened.openMs)} | ${format(opened.loadMs)} | ${format(opened.openMs + opened.loadMs)} |`,
      );
      console.log('');
    }
    if (raw !== undefined) {
      console.log('- ops/s: persists (or raw record writes) completed per second of the window; p50/p99: latency of one,');
      console.log(`  from a uniform sample of at most ${format(latencySamplesMax)}. Each writer awaits its persist before issuing the next.`);
      console.log('- persists/fsync: the group-commit factor, from FileStorage.stats over the window.');
      console.log('- baseline: one fs.promises FileHandle, write the record at the end of the file, then datasync, in a loop.');
    }
    if (opened !== undefined) {
      console.log('- open: FileStorage.open replays the log; load() then builds the sorted state a replica restarts from;');
      console.log('  each round in a fresh process, so the heap the benchmark built does not weigh on it.');
    }
    console.log('');
    if (raw !== undefined) {
      const single = rows.find((r) => r.writers === 1);
      if (single !== undefined) {
        const ratio = single.result.p50Ms / raw.p50Ms;
        console.log(
          `- p50 at 1 writer / raw fdatasync p50: ${ms(single.result.p50Ms)} / ${ms(raw.p50Ms)} ms = ${ratio.toFixed(2)} vs target <= ${latencyTargetRatio}: ${ratio <= latencyTargetRatio ? 'met' : 'NOT met'}`,
        );
      }
      const many = rows.find((r) => r.writers === throughputTargetWriters);
      if (many !== undefined) {
        const ratio = many.result.opsPerSecond / raw.opsPerSecond;
        console.log(
          `- persists/s at ${throughputTargetWriters} writers / raw fdatasyncs/s: ${format(many.result.opsPerSecond)} / ${format(raw.opsPerSecond)} = ${ratio.toFixed(1)} vs target >= ${throughputTargetRatio}: ${ratio >= throughputTargetRatio ? 'met' : 'NOT met'}`,
        );
      }
    }
    if (opened !== undefined) {
      const ratio = opened.openMs / openTargetMs;
      console.log(
        `- open of ${format(opened.entries)} entries: ${format(opened.openMs)} ms / target ${format(openTargetMs)} ms = ${ratio.toFixed(2)}: ${opened.openMs < openTargetMs ? 'met' : 'NOT met'}`,
      );
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
