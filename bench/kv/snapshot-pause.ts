/**
 * How long each step of a KV snapshot holds the event loop: the longest stretch in which
 * no other callback could run (a client's request waits that long), per step, for stores
 * of many small keys and of few large values. The steps are those a node takes: capture
 * (synchronous, so the state agrees with the slot), the state machine's encoding, the
 * runtime's framing, FileStorage's save (write, CRC, fsync), the save in pieces a node
 * on FileStorage makes instead of those two (no framed copy), reading it back by pieces
 * to send it, and on the receiving side the decode and restore.
 *
 * The probe: a timer every millisecond records how late it fires; the longest lateness
 * during a step is that step's longest block (the machine's own noise included: the
 * idle line, measured first in the same run, is that floor).
 *
 * A second table does the same for the runtime's part, the exactly-once table, with
 * `--clients` clients of 4 KV results each: the copy a capture made until 2026-12-06 and
 * the capture now, then encode, decode and import at once (the same code without
 * pauses: one piece, as a node ran them until then, the baseline) and in steps (what a
 * node does now).
 *
 * A third does it for the table's tombstones (forgotten clients, up to 200,000 with the
 * default limits): the copy of a map of them a capture made until 2026-12-07 (the
 * baseline, measured on a map of the same entries), the capture now (block copies of
 * typed arrays), then encode and import in steps.
 *
 * `npx tsx bench/kv/snapshot-pause.ts [--keys 10000,100000] [--large 100] [--clients
 * 10000,50000] [--tombstones 200000]` (large: MB in 64 KiB values). A benchmark: it
 * reports and never fails.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvStateMachine } from '../../src/kv/kv-state-machine.js';
import { kvResultCodec } from '../../src/kv/kv-codec.js';
import type { KvResult } from '../../src/kv/kv-command.js';
import { DedupTable, defaultDedupLimits } from '../../src/runtime/dedup-table.js';
import {
  copyBytesPerStep,
  decodeSnapshot,
  decodeSnapshotInSteps,
  encodeRuntimeState,
  encodeRuntimeStateInSteps,
  encodeSnapshot,
  encodeSnapshotHead,
} from '../../src/runtime/snapshot-format.js';
import { FileStorage } from '../../src/storage/file/index.js';

const argv = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
};
const keyCounts = arg('keys', '10000,100000').split(',').map(Number);
const largeMb = Number(arg('large', '100'));
const clientCounts = arg('clients', '10000,50000').split(',').filter(Boolean).map(Number);
const tombstoneCounts = arg('tombstones', '200000').split(',').filter(Boolean).map(Number);

/** The longest lateness of a 1 ms timer while `work` runs, and how long it took. */
async function blocked<T>(work: () => Promise<T> | T): Promise<{ value: T; blockMs: number; ms: number }> {
  let longest = 0;
  let expected = performance.now() + 1;
  let running = true;
  const probe = (): void => {
    const now = performance.now();
    longest = Math.max(longest, now - expected);
    expected = now + 1;
    if (running) setTimeout(probe, 1);
  };
  setTimeout(probe, 1);
  await new Promise((resolve) => setTimeout(resolve, 5));
  const start = performance.now();
  const value = await work();
  const ms = performance.now() - start;
  // The block that ends with the work is seen by the next probe.
  await new Promise((resolve) => setTimeout(resolve, 3));
  running = false;
  return { value, blockMs: longest, ms };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));
/** What a node pauses with between steps: after pending I/O, without a timer's 1 ms floor. */
const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function fill(machine: KvStateMachine, keys: number, valueBytes: number): void {
  const value = new Uint8Array(valueBytes).fill(7);
  for (let i = 0; i < keys; i++) {
    const slot = i + 1;
    machine.apply({ type: 'put', key: `key/${String(i).padStart(8, '0')}`, value }, { slot, timestamp: slot, clientId: 'c', seq: slot, origin: 'a' });
  }
}

interface Row {
  readonly store: string;
  readonly steps: { readonly name: string; readonly blockMs: number; readonly ms: number }[];
}

/** Runs a named step under {@link blocked}, adding its figures to `steps`. */
function stepper(steps: Row['steps']): <T>(name: string, work: () => Promise<T> | T) => Promise<T> {
  return async (name, work) => {
    const { value, blockMs, ms } = await blocked(work);
    steps.push({ name, blockMs, ms });
    return value;
  };
}

async function measure(label: string, keys: number, valueBytes: number): Promise<Row> {
  const machine = new KvStateMachine();
  fill(machine, keys, valueBytes);
  const steps: Row['steps'] = [];
  const step = stepper(steps);
  const capture = await step('capture', () => machine.snapshot());
  const encoded = await step('encode', () => capture.write());
  const runtime = encodeRuntimeState(
    { lastTimestamp: keys, dedup: { clients: [], tombstones: [], forgottenThrough: -Infinity, lastSweep: -Infinity } },
    kvResultCodec,
  );
  const data = await step('frame', () => encodeSnapshot(runtime, encoded, nextTurn));
  const dir = await mkdtemp(join(tmpdir(), 'synod-snapshot-pause-'));
  try {
    const storage = await FileStorage.open(dir);
    await step('save', () => storage.saveSnapshot({ slot: keys, data }));
    // What a node on FileStorage does instead of frame + save: the header and runtime's
    // part, then the state machine's bytes in pieces, through a snapshot writer.
    await step('save in pieces', async () => {
      const head = encodeSnapshotHead(runtime);
      const writer = storage.createSnapshot(keys + 1, head.reduce((n, piece) => n + piece.byteLength, 0) + encoded.byteLength);
      for (const piece of head) await writer.write(piece);
      for (let at = 0; at < encoded.byteLength; at += copyBytesPerStep)
        await writer.write(encoded.subarray(at, Math.min(encoded.byteLength, at + copyBytesPerStep)));
      await writer.commit();
    });
    await step('read by pieces', async () => {
      const reader = (await storage.openSnapshot())!;
      for (let at = 0; at < reader.byteLength; at += 4 * 1024 * 1024) await reader.read(at, Math.min(4 * 1024 * 1024, reader.byteLength - at));
      await reader.close();
    });
    const decoded = await step('decode', () => decodeSnapshot(data, kvResultCodec));
    const replica = new KvStateMachine();
    await step('restore', () => replica.restore(decoded.machine));
    await storage.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { store: `${label} (${(data.byteLength / 1e6).toFixed(1)} MB)`, steps };
}

/** The exactly-once table of `clients` clients with 4 results each, as a KV node holds it. */
async function measureTable(clients: number): Promise<Row> {
  const table = new DedupTable<KvResult>(defaultDedupLimits);
  for (let i = 0; i < clients; i++) {
    for (let seq = 1; seq <= 4; seq++) {
      table.check(`client-${i}`, seq, 0, 1_000 + i, 1_000 + i);
      table.record(`client-${i}`, seq, { ok: true, value: { type: 'put', key: `key/${i}`, version: seq, revision: i * 4 + seq } });
    }
  }
  const steps: Row['steps'] = [];
  const step = stepper(steps);
  const exported = await step('copy (old capture)', () => table.exportState());
  const captured = await step('capture', () => table.captured());
  const state = { lastTimestamp: 1, dedup: captured };
  await step('encode at once', () => encodeRuntimeState({ lastTimestamp: 1, dedup: exported }, kvResultCodec));
  const pieces = await step('encode in steps', () => encodeRuntimeStateInSteps(state, kvResultCodec, immediate));
  const bytes = await encodeSnapshot(pieces, new Uint8Array(0));
  const decoded = await step('decode at once', () => decodeSnapshot(bytes, kvResultCodec));
  await step('decode in steps', () => decodeSnapshotInSteps(bytes, kvResultCodec, immediate));
  await step('import at once', () => new DedupTable<KvResult>(defaultDedupLimits).importState(decoded.state.dedup));
  await step('import in steps', () => new DedupTable<KvResult>(defaultDedupLimits).importStateInSteps(decoded.state.dedup, immediate));
  return { store: `${clients.toLocaleString('en-US')} clients × 4 results (${(bytes.byteLength / 1e6).toFixed(1)} MB)`, steps };
}

/** A table that forgot enough clients to hold `count` tombstones (at most 4 per remembered client). */
async function measureTombstones(count: number): Promise<Row> {
  // Clients idle for a millisecond are forgotten: the table remembers one client, so its capture is the tombstones'.
  const limits = { ...defaultDedupLimits, clientsMax: Math.ceil(count / 4), clientIdleMs: 1 };
  const table = new DedupTable<KvResult>(limits);
  // Each client makes one request, a second apart (a sweep a second at most), and is forgotten at the next.
  for (let i = 0; i <= count; i++) table.check(`client-${i}`, 1, 0, 1_000 * (i + 1), 1_000 * (i + 1));
  const state = { lastTimestamp: 1, dedup: table.captured() };
  const held = [...state.dedup.tombstones];
  // The old capture's copy, of a map holding the same tombstones in the same order.
  const map = new Map(held);
  const steps: Row['steps'] = [];
  const step = stepper(steps);
  await step('copy a map (old capture)', () => [Array.from(map.keys()), Array.from(map.values())]);
  const captured = await step('capture', () => table.captured());
  const pieces = await step('encode in steps', () => encodeRuntimeStateInSteps({ lastTimestamp: 1, dedup: captured }, kvResultCodec, immediate));
  const bytes = await encodeSnapshot(pieces, new Uint8Array(0));
  const decoded = await decodeSnapshotInSteps(bytes, kvResultCodec, immediate);
  await step('import in steps', () => new DedupTable<KvResult>(limits).importStateInSteps(decoded.state.dedup, immediate));
  return { store: `${held.length.toLocaleString('en-US')} tombstones`, steps };
}

const idle = await blocked(() => new Promise((resolve) => setTimeout(resolve, 200)));
const rows: Row[] = [];
for (const keys of keyCounts) rows.push(await measure(`${keys.toLocaleString('en-US')} keys of 100 B`, keys, 100));
if (largeMb > 0)
  rows.push(await measure(`${Math.round((largeMb * 1e6) / 65536).toLocaleString('en-US')} values of 64 KiB`, Math.round((largeMb * 1e6) / 65536), 65536));

/** A markdown table of `rows`, a column per step: its longest block, and its own time in brackets to `digits` decimals. */
function printTable(first: string, rows: readonly Row[], digits: number): void {
  const columns = rows[0]!.steps.map((s) => s.name);
  console.log(`| ${first} | ${columns.join(' | ')} |`);
  console.log(`|---|${columns.map(() => '---:').join('|')}|`);
  for (const row of rows) console.log(`| ${row.store} | ${row.steps.map((s) => `${s.blockMs.toFixed(1)} (${s.ms.toFixed(digits)})`).join(' | ')} |`);
}

console.log(
  `KV snapshot, longest event-loop block per step (ms; the step's own time in brackets): ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`,
);
console.log(`idle floor (a 1 ms timer's longest lateness over 200 ms, same run): ${idle.blockMs.toFixed(1)} ms`);
printTable('store', rows, 0);

if (clientCounts.length > 0) {
  const tables: Row[] = [];
  for (const clients of clientCounts) tables.push(await measureTable(clients));
  console.log('\nThe runtime part, the exactly-once table ("at once": the same code without pauses, as a node ran it until 2026-12-06)');
  printTable('table', tables, 0);
}

if (tombstoneCounts.length > 0) {
  const tables: Row[] = [];
  for (const count of tombstoneCounts) tables.push(await measureTombstones(count));
  console.log('\nThe exactly-once table\'s tombstones ("copy a map": what a capture did until 2026-12-07, the baseline)');
  printTable('tombstones', tables, 1);
}
