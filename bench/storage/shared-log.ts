/**
 * Shared log benchmark: many groups persisting at once, each group on its own
 * FileStorage (the baseline, measured in the same run) against all groups on one
 * SharedFileLog.
 *
 * - Directory: a fresh temporary directory under `SYNOD_BENCH_DIR` (default the OS temp
 *   directory) per run, removed after it.
 * - Workload: {@link groupsDefault} groups; in each round every group persists one
 *   accepted entry (a fresh slot, one command of {@link commandBytes} bytes), all
 *   issued together, as the leaders of many groups accept at once; the next round
 *   starts when all resolved. {@link roundsDefault} rounds per run.
 * - Rows: the two set-ups interleaved, {@link repeats} times each, so a change in the
 *   machine's load hits both. Measures: persists per second, fdatasyncs (from
 *   `stats`), and the load average at the start of the row.
 *
 * A benchmark, not a test: it reports and never fails. Run with
 * `npx tsx bench/storage/shared-log.ts [--groups 16] [--rounds 200]`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type PersistBatch, batch } from '../../src/core/index.js';
import type { Storage } from '../../src/runtime/storage.js';
import { FileStorage, SharedFileLog } from '../../src/storage/file/index.js';

const commandBytes = 100;
const groupsDefault = 16;
const roundsDefault = 200;
const repeats = 3;
const command = new Uint8Array(commandBytes).fill(0x5a);
const ballot = { round: 1, node: 'n1' };

function persistOf(slot: number): PersistBatch {
  return { accepted: [{ slot, ballot, value: batch([command]) }], chosen: [] };
}

interface Row {
  readonly persistsPerSecond: number;
  readonly fsyncs: number;
}

async function run(kind: 'separate' | 'shared', groups: number, rounds: number): Promise<Row> {
  const dir = await mkdtemp(join(process.env['SYNOD_BENCH_DIR'] ?? os.tmpdir(), 'synod-bench-shared-'));
  try {
    let storages: Storage[];
    let fsyncs: () => number;
    let close: () => Promise<void>;
    if (kind === 'shared') {
      const log = await SharedFileLog.open(dir);
      storages = Array.from({ length: groups }, (_, g) => log.group(g));
      fsyncs = () => log.stats.fsyncs;
      close = () => log.close();
    } else {
      const each = await Promise.all(Array.from({ length: groups }, (_, g) => FileStorage.open(join(dir, String(g)))));
      storages = each;
      fsyncs = () => each.reduce((n, s) => n + s.stats.fsyncs, 0);
      close = async () => {
        for (const s of each) await s.close();
      };
    }
    const start = performance.now();
    for (let slot = 1; slot <= rounds; slot++) await Promise.all(storages.map((s) => s.persist(persistOf(slot))));
    const seconds = (performance.now() - start) / 1000;
    const row = { persistsPerSecond: (groups * rounds) / seconds, fsyncs: fsyncs() };
    await close();
    return row;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function argument(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}

async function main(): Promise<void> {
  const groups = argument('--groups', groupsDefault);
  const rounds = argument('--rounds', roundsDefault);
  console.log(`# ${groups} groups persisting together, ${rounds} rounds: a FileStorage per group vs one SharedFileLog\n`);
  console.log(`${os.cpus().length} CPUs, Node ${process.version}, directory ${process.env['SYNOD_BENCH_DIR'] ?? os.tmpdir()}\n`);
  console.log('| set-up | run | load avg (1 min) | persists/s | fdatasyncs | persists/fdatasync |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (let i = 1; i <= repeats; i++) {
    for (const kind of ['separate', 'shared'] as const) {
      const load = os.loadavg()[0]!.toFixed(2);
      const row = await run(kind, groups, rounds);
      const name = kind === 'shared' ? 'one SharedFileLog' : 'a FileStorage per group (baseline)';
      console.log(`| ${name} | ${i} | ${load} | ${Math.round(row.persistsPerSecond)} | ${row.fsyncs} | ${((groups * rounds) / row.fsyncs).toFixed(1)} |`);
    }
  }
}

await main();
