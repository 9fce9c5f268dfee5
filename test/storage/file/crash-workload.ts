/**
 * The workload of the real-process crash test (`file-storage.crash.test.ts`), shared by
 * the test and the child process it kills (`crash-child.ts`), so that both derive the
 * same bytes from a seed: batch `n` of a seed, and the snapshot of a slot.
 *
 * Batches are numbered from 1 across the whole run, and batch `n` carries `commitIndex`
 * `n`, so the commit index a reopened directory loads names the prefix of batches it
 * holds. Batch `n` accepts slots in `[n, n + slotWindow)` and learns chosen values for
 * slots in `[n - slotWindow, n)`, so the batches issued after a compaction never touch
 * the slots it forgot (see {@link compactionAfter}).
 */
import { type AcceptedEntry, type ChosenEntry, type PersistBatch, type Value, batch, noop } from '../../../src/core/index.js';
import { Prng } from '../../../src/testing/prng.js';

/** How far around its own number a batch's slots reach. */
const slotWindow = 8;
/** A compaction follows every this-many batches (a prime, so it drifts across cycles). */
const compactEveryBatches = 97;
/** The most commands in one value. */
const commandsPerValueMax = 4;

/** What the test sends the child, as one JSON line on its stdin, to start a cycle. */
export interface CrashPlan {
  readonly dir: string;
  readonly seed: number;
  /** The number of the first batch the child issues; it issues the next ones in order. */
  readonly firstBatch: number;
  /** Writers, each awaiting its persist before issuing the next batch. */
  readonly writers: number;
  readonly segmentBytesMax: number;
  /**
   * Report each persist when it is issued instead of when it resolves: a child that
   * breaks the rule, to show that the test notices. Default false.
   */
  readonly reportEarly?: boolean;
}

/**
 * What the child writes on its stdout, one per line, each written synchronously before
 * the child does anything else:
 * - `loaded`: modules loaded, waiting for its {@link CrashPlan};
 * - `w`: opening repaired something (a torn tail);
 * - `ready`: the storage opened (recovery done);
 * - `p <n>`: the persist of batch n resolved;
 * - `s <n>`, `k <n>`: the snapshot, the compaction issued after batch n resolved.
 */
export type ChildReport = 'loaded' | 'w' | 'ready' | `${'p' | 's' | 'k'} ${number}`;

/** A generator for one item of a seed's workload. */
function prngFor(seed: number, stream: number, n: number): Prng {
  let h = Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 15), 0xc2b2ae35) ^ Math.imul(n, 0x27d4eb2f);
  return new Prng((h ^ (h >>> 13)) >>> 0);
}

/** Mostly small, sometimes a few KiB, rarely large enough to span many pages (a torn write). */
function commandBytes(prng: Prng): number {
  const roll = prng.next();
  if (roll < 0.75) return prng.int(65);
  if (roll < 0.995) return 64 + prng.int(1984);
  return 16_384 + prng.int(114_688);
}

/** `length` bytes from `prng`, a 32-bit word at a time (in the platform's byte order: parent and child share a machine). */
function randomBytes(prng: Prng, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const words = new Uint32Array(out.buffer, 0, length >>> 2);
  for (let i = 0; i < words.length; i++) words[i] = prng.nextUint32();
  for (let i = words.length * 4; i < length; i++) out[i] = prng.nextUint32();
  return out;
}

function valueFor(prng: Prng): Value {
  if (prng.chance(0.1)) return noop;
  const commands: Uint8Array[] = [];
  const count = 1 + prng.int(commandsPerValueMax);
  for (let i = 0; i < count; i++) commands.push(randomBytes(prng, commandBytes(prng)));
  return batch(commands);
}

/** Batch `n` (from 1) of `seed`'s workload: the same bytes every time it is asked for. */
export function batchFor(seed: number, n: number): PersistBatch {
  const prng = prngFor(seed, 0, n);
  const accepted: AcceptedEntry[] = [];
  const round = n;
  for (let slot = n; slot < n + slotWindow; slot++) {
    if (prng.chance(0.35)) accepted.push({ slot, ballot: { round, node: `n${prng.int(5)}` }, value: valueFor(prng) });
  }
  const chosen: ChosenEntry[] = [];
  for (let slot = Math.max(1, n - slotWindow); slot < n; slot++) {
    if (prng.chance(0.2)) chosen.push({ slot, value: valueFor(prng) });
  }
  const promised = prng.chance(0.15) ? { promised: { round, node: `n${prng.int(5)}` } } : {};
  return { ...promised, accepted, chosen, commitIndex: n };
}

/** A snapshot and a compaction the child issues right after batch n: the snapshot covers up to `compactSlot - 1`. */
export interface Compaction {
  readonly snapshotSlot: number;
  readonly compactSlot: number;
}

/**
 * The compaction the child issues right after issuing batch `n`, if any. Every batch
 * issued later has slots at or above `n + 1 - slotWindow`, which is where it compacts.
 */
export function compactionAfter(n: number): Compaction | undefined {
  if (n % compactEveryBatches !== 0 || n <= slotWindow) return undefined;
  const compactSlot = n + 1 - slotWindow;
  return { snapshotSlot: compactSlot - 1, compactSlot };
}

/** The snapshot data of `slot` in `seed`'s workload. */
export function snapshotDataFor(seed: number, slot: number): Uint8Array {
  const prng = prngFor(seed, 1, slot);
  return randomBytes(prng, prng.int(8192));
}
