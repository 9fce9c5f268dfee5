/**
 * Real-process crash test of FileStorage: a child process (`crash-child.ts`) persists
 * the workload of `crash-workload.ts` with several writers, with snapshots and
 * compactions, and reports every persist that resolved; the test SIGKILLs it at a
 * random moment, reopens the directory in this process and checks:
 *
 * - the directory opens (a torn tail is repaired, nothing else is damaged);
 * - its state is exactly batches 1..k merged in order (with the compactions issued
 *   among them), for some k at or after the last batch reported resolved that needed a
 *   sync (a learner-only batch may resolve before it is durable): a prefix of the
 *   issued batches, every value byte for byte;
 * - the snapshot is the newest one that must be there (or the one being saved when it
 *   was killed), byte for byte; a compaction reported done is done;
 * - it still accepts a write, which loads back.
 *
 * Cycles run back to back in one directory, so later kills also hit the recovery of
 * earlier torn tails, and some land while the child is still opening (recovering).
 * Half the cycles also end with a torn tail the test appends itself (see
 * {@link CrashRun.tear}). The child runs as plain JavaScript (transpiled once, in
 * `beforeAll`), and the next child is spawned while the current one runs, so its
 * start-up is hidden.
 *
 * A SIGKILL leaves what `write(2)` handed the kernel in the page cache: this test finds
 * what a process crash can break (acknowledging too early, ordering, torn records,
 * replay, repair); power loss is the fault-injecting file system's job.
 *
 * A failure names the seed: replay with `SYNOD_CRASH_SEED=<seed>`. `SYNOD_CRASH_KILLS`
 * sets the number of kills (default 80). The kill times depend on the machine, so a
 * replay runs the same workload and the same kill delays, not the same interleaving.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { appendFile, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Ballot,
  type DurableState,
  DurableStateBuilder,
  type Value,
  ballotEquals,
  formatBallot,
  persistNeedsSync,
  valueEquals,
} from '../../../src/core/index.js';
import { FileStorage } from '../../../src/storage/file/index.js';
import { RecordType, encodeBatch, encodeRecord } from '../../../src/storage/file/record.js';
import { parseSegmentName, segmentHeaderBytes } from '../../../src/storage/file/wal.js';
import { Prng } from '../../../src/testing/prng.js';
import { type Compaction, type CrashPlan, batchFor, compactionAfter, snapshotDataFor } from './crash-workload.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const childSource = fileURLToPath(new URL('./crash-child.ts', import.meta.url));

const killsDefault = 80;
/** Writers per cycle, one picked per cycle: from one at a time to large groups. */
const writerChoices = [1, 4, 16, 64, 256] as const;
/** Segment sizes per cycle, in bytes: small ones roll (and tear) segments often. */
const segmentBytesChoices = [16 * 1024, 64 * 1024, 1024 * 1024] as const;
/** Kill delays after the plan is sent, in ms: short ones hit the recovery itself. */
const killEarlyMsMax = 15;
const killMsMax = 400;
const killEarlyChance = 0.15;
/** How often the test tears the log's tail itself after a cycle (see {@link CrashRun.tear}). */
const tearChance = 0.5;
/** How long a child may take to load or to die, in ms. */
const childWaitMsMax = 20_000;

function seedFromEnv(): number {
  const raw = process.env.SYNOD_CRASH_SEED;
  if (raw === undefined || raw === '') return randomInt(2 ** 31);
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`SYNOD_CRASH_SEED must be a non-negative integer, got ${raw}`);
  return seed;
}

function killsFromEnv(): number {
  const raw = process.env.SYNOD_CRASH_KILLS;
  if (raw === undefined || raw === '') return killsDefault;
  const kills = Number(raw);
  if (!Number.isSafeInteger(kills) || kills < 1) throw new Error(`SYNOD_CRASH_KILLS must be a positive integer, got ${raw}`);
  return kills;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ------------------------------------------------------------------ children

const live = new Set<ChildProcessWithoutNullStreams>();
const dirs: string[] = [];
/** The child as plain JavaScript, run by `node` alone. */
let childScript = '';

beforeAll(async () => {
  const out = await mkdtemp(join(tmpdir(), 'synod-crash-child-'));
  dirs.push(out);
  childScript = transpileTree(childSource, out);
});

afterAll(async () => {
  for (const proc of live) proc.kill('SIGKILL');
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/**
 * Transpiles `entry` and every module it reaches by relative imports into `outDir`
 * (same layout, `.js`), and returns the entry's output path. Node then starts the child
 * in a tenth of a second instead of the half second that loading tsx takes; the sources
 * import `./x.js` already, so the output runs as it is.
 */
function transpileTree(entry: string, outDir: string): string {
  writeFileSync(join(outDir, 'package.json'), '{ "type": "module" }\n');
  const seen = new Set<string>();
  const queue = [entry];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    const { outputText } = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, verbatimModuleSyntax: true },
    });
    const out = join(outDir, relative(repoRoot, file).replace(/\.ts$/, '.js'));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, outputText);
    for (const { fileName } of ts.preProcessFile(source, true, true).importedFiles) {
      if (fileName.startsWith('node:')) continue;
      if (!fileName.startsWith('.')) throw new Error(`${file} imports ${fileName}: the crash child may import only relative and node: modules`);
      queue.push(resolve(dirname(file), fileName.replace(/\.js$/, '.ts')));
    }
  }
  return join(outDir, relative(repoRoot, entry).replace(/\.ts$/, '.js'));
}

/** A spawned crash child and what it reported. */
class Child {
  private readonly proc: ChildProcessWithoutNullStreams;
  private partial = '';
  private stderr = '';
  /** Reports in the order written, `loaded` and `ready` included. */
  readonly reports: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters: { line: string; resolve: () => void }[] = [];

  constructor() {
    this.proc = spawn(process.execPath, [childScript], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    live.add(this.proc);
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (chunk: string) => this.onData(chunk));
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    // Writing the plan to a child that died already must not throw out of the test.
    this.proc.stdin.on('error', () => {});
    // 'close': the process is gone and its stdout has been read to the end.
    this.exited = new Promise((resolve) => {
      this.proc.on('close', (code, signal) => {
        live.delete(this.proc);
        resolve({ code, signal });
      });
    });
  }

  /** Resolves once the child reported `line`, rejects if it exits first or takes too long. */
  async waitFor(line: string): Promise<void> {
    if (this.reports.includes(line)) return;
    const reported = new Promise<void>((resolve) => this.waiters.push({ line, resolve }));
    const exited = this.exited.then(({ code, signal }) => {
      throw new Error(`the child exited (code ${code}, signal ${signal}) before reporting ${line}: ${this.stderr}`);
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the child did not report ${line} within ${childWaitMsMax} ms`)), childWaitMsMax);
    });
    try {
      await Promise.race([reported, exited, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  start(plan: CrashPlan): void {
    this.proc.stdin.write(`${JSON.stringify(plan)}\n`);
  }

  /** SIGKILLs the child and waits until it is gone and its reports are all read. */
  async kill(): Promise<void> {
    this.proc.kill('SIGKILL');
    const { code, signal } = await this.exited;
    if (signal !== 'SIGKILL') throw new Error(`the child exited on its own (code ${code}, signal ${signal}): ${this.stderr}`);
  }

  /** Kills it without waiting (a standby child not needed any more). */
  discard(): void {
    this.proc.kill('SIGKILL');
  }

  private onData(chunk: string): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop()!;
    for (const line of lines) {
      this.reports.push(line);
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        const waiter = this.waiters[i]!;
        if (waiter.line !== line) continue;
        this.waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }
}

// ------------------------------------------------------------------ the model

/** What a cycle's child reported resolved. */
interface Resolved {
  /** The highest batch whose persist resolved, 0 if none. */
  readonly persist: number;
  /** Batches after which a snapshot save / a compaction resolved. */
  readonly snapshots: readonly number[];
  readonly compactions: readonly number[];
}

function parseReports(reports: readonly string[]): Resolved & { ready: boolean; repairs: number } {
  let persist = 0;
  let ready = false;
  let repairs = 0;
  const snapshots: number[] = [];
  const compactions: number[] = [];
  for (const line of reports) {
    if (line === 'loaded') continue;
    if (line === 'ready') {
      ready = true;
      continue;
    }
    if (line === 'w') {
      repairs++;
      continue;
    }
    const match = /^([psk]) (\d+)$/.exec(line);
    if (match === null) throw new Error(`the child reported ${JSON.stringify(line)}`);
    const n = Number(match[2]);
    if (match[1] === 'p') persist = Math.max(persist, n);
    else if (match[1] === 's') snapshots.push(n);
    else compactions.push(n);
  }
  return { persist, snapshots, compactions, ready, repairs };
}

function forget(state: DurableStateBuilder, below: number): void {
  for (const slot of state.accepted.keys()) if (slot < below) state.accepted.delete(slot);
  for (const slot of state.chosen.keys()) if (slot < below) state.chosen.delete(slot);
}

function copyOf(state: DurableStateBuilder): DurableStateBuilder {
  return DurableStateBuilder.from(state.build());
}

function describeValue(v: Value): string {
  return v.kind !== 'batch' ? v.kind : `batch of ${v.commands.length} (${v.commands.map((c) => c.byteLength).join(', ')} bytes)`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

function sameValue(a: Value, b: Value): boolean {
  if (a.kind !== 'batch' || b.kind !== 'batch') return valueEquals(a, b);
  return a.commands.length === b.commands.length && a.commands.every((c, i) => sameBytes(c, b.commands[i]!));
}

/** The first difference between two lists of entries in slot order, or undefined. */
function entriesDifference(
  list: string,
  actual: readonly { readonly slot: number; readonly value: Value; readonly ballot?: Ballot }[],
  expected: readonly { readonly slot: number; readonly value: Value; readonly ballot?: Ballot }[],
): string | undefined {
  for (let i = 0; i < Math.max(actual.length, expected.length); i++) {
    const a = actual[i];
    const e = expected[i];
    if (a === undefined || e === undefined || a.slot !== e.slot) {
      return `${list}[${i}] is slot ${a?.slot ?? 'none'}, expected ${e?.slot ?? 'none'} (${actual.length} vs ${expected.length} entries)`;
    }
    if (a.ballot !== undefined && e.ballot !== undefined && !ballotEquals(a.ballot, e.ballot)) {
      return `${list} slot ${a.slot}: ballot ${formatBallot(a.ballot)}, expected ${formatBallot(e.ballot)}`;
    }
    if (!sameValue(a.value, e.value)) return `${list} slot ${a.slot}: ${describeValue(a.value)}, expected ${describeValue(e.value)}`;
  }
  return undefined;
}

/** The first difference between two states, or undefined if they are equal (values byte for byte). */
function difference(actual: DurableState, expected: DurableState): string | undefined {
  if (!ballotEquals(actual.promised, expected.promised)) return `promised ${formatBallot(actual.promised)}, expected ${formatBallot(expected.promised)}`;
  if (actual.commitIndex !== expected.commitIndex) return `commit index ${actual.commitIndex}, expected ${expected.commitIndex}`;
  return entriesDifference('accepted', actual.accepted, expected.accepted) ?? entriesDifference('chosen', actual.chosen, expected.chosen);
}

// ------------------------------------------------------------------ the run

interface CrashRunOptions {
  readonly seed: number;
  readonly reportEarly?: boolean;
}

/** Counts of a run, printed at the end. */
interface Tally {
  kills: number;
  /** Kills that landed before the child finished opening (recovering) the directory. */
  killsDuringOpen: number;
  /** Repairs reopening reported (torn tails truncated), by this test or by a child that was killed while opening. */
  repairs: number;
  /** Torn tails this test made itself. */
  tears: number;
  /** Compactions found done after a kill. */
  compactions: number;
  /** The highest batch number reached. */
  batches: number;
}

/** Cycles of spawn, persist, kill, reopen and check, all in one directory. */
class CrashRun {
  private readonly prng: Prng;
  /** The state the directory held at the end of the last cycle: batches 1..batches, with compactions. */
  private readonly model = new DurableStateBuilder();
  private batches = 0;
  private snapshotSlot: number | undefined;
  private standby: Child | undefined;
  readonly tally: Tally = { kills: 0, killsDuringOpen: 0, repairs: 0, tears: 0, compactions: 0, batches: 0 };

  constructor(
    private readonly dir: string,
    private readonly options: CrashRunOptions,
  ) {
    this.prng = new Prng(options.seed);
  }

  /** One cycle; `last` skips tearing a tail no cycle would repair. */
  async cycle(index: number, last: boolean): Promise<void> {
    const writers = writerChoices[this.prng.int(writerChoices.length)]!;
    const segmentBytesMax = segmentBytesChoices[this.prng.int(segmentBytesChoices.length)]!;
    const delayMs = this.prng.chance(killEarlyChance) ? this.prng.int(killEarlyMsMax) : killEarlyMsMax + this.prng.int(killMsMax - killEarlyMsMax);
    const child = this.standby ?? new Child();
    this.standby = undefined;
    await child.waitFor('loaded');
    const plan: CrashPlan = {
      dir: this.dir,
      seed: this.options.seed,
      firstBatch: this.batches + 1,
      writers,
      segmentBytesMax,
      ...(this.options.reportEarly === true ? { reportEarly: true } : {}),
    };
    child.start(plan);
    this.standby = new Child();
    await sleep(delayMs);
    await child.kill();
    this.tally.kills++;
    const resolved = parseReports(child.reports);
    if (!resolved.ready) this.tally.killsDuringOpen++;
    this.tally.repairs += resolved.repairs;
    try {
      await this.check(resolved, segmentBytesMax);
      if (this.prng.chance(tearChance) && !last) await this.tear();
    } catch (error) {
      const where = `cycle ${index} (${writers} writers, segments of ${segmentBytesMax} bytes, killed after ${delayMs} ms, batches from ${plan.firstBatch})`;
      throw new Error(`${where}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }

  /** Kills the spare child. */
  close(): void {
    this.standby?.discard();
    this.standby = undefined;
  }

  /**
   * Appends to the last segment what a write cut by a crash leaves: a prefix of a
   * record's frame, a whole frame whose last byte is wrong, or zeros (a size extended
   * before its data). A SIGKILL seldom lands inside a `write(2)`, so this is how most
   * cycles' children (and the test, when a child dies while opening) get to repair a
   * torn tail. Called after a clean close, so the tail ends in a whole record.
   */
  private async tear(): Promise<void> {
    const frame = encodeRecord(RecordType.batch, encodeBatch(batchFor(this.options.seed, this.batches + 1)));
    const kind = this.prng.int(3);
    let torn: Uint8Array;
    if (kind === 0) torn = frame.subarray(0, 1 + this.prng.int(frame.byteLength - 1));
    else if (kind === 1) {
      torn = frame.slice();
      const end = torn.byteLength - 1;
      torn[end] = torn[end]! ^ (1 + this.prng.int(255));
    } else torn = new Uint8Array(1 + this.prng.int(4096));
    const segments = (await readdir(this.dir)).filter((name) => parseSegmentName(name) !== undefined).sort();
    const last = join(this.dir, segments[segments.length - 1]!);
    // A segment torn inside its header was never written to: nothing to tear after it.
    if ((await stat(last)).size < segmentHeaderBytes) return;
    await appendFile(last, torn);
    this.tally.tears++;
  }

  /** Reopens the directory, checks it against the model and the reports, then writes the next batch. */
  private async check(resolved: Resolved, segmentBytesMax: number): Promise<void> {
    const { seed } = this.options;
    const warnings: string[] = [];
    const storage = await FileStorage.open(this.dir, { segmentBytesMax, onWarning: (w) => warnings.push(w) });
    try {
      this.tally.repairs += warnings.length;
      const state = await storage.load();
      const k = state.commitIndex;
      if (k < this.batches) throw new Error(`it holds batches up to ${k}, but batch ${this.batches} was durable before the cycle`);
      // A batch of learner state only may resolve before it is durable (persistNeedsSync):
      // what must be there is every batch up to the last resolved one that needed a sync.
      let synced = resolved.persist;
      while (synced > this.batches && !persistNeedsSync(batchFor(seed, synced))) synced--;
      if (k < synced) throw new Error(`it holds batches up to ${k}, but the persist of batch ${synced} resolved`);

      // The model: batches up to k, with the compactions issued after each of them but
      // the last; the last one's compaction may or may not have happened.
      let pending: Compaction | undefined;
      for (let n = this.batches + 1; n <= k; n++) {
        this.model.merge(batchFor(seed, n));
        const compaction = compactionAfter(n);
        if (compaction === undefined) continue;
        if (n < k) {
          forget(this.model, compaction.compactSlot);
          this.snapshotSlot = compaction.snapshotSlot;
          this.tally.compactions++;
        } else {
          pending = compaction;
        }
      }
      const without = this.model.build();
      const compacted = pending === undefined ? undefined : copyOf(this.model);
      if (compacted !== undefined) forget(compacted, pending!.compactSlot);
      const withCompaction = compacted?.build();
      const missed = difference(state, without);
      const compactedMissed = withCompaction === undefined ? missed : difference(state, withCompaction);
      if (missed !== undefined && compactedMissed !== undefined) {
        throw new Error(
          `the state is not batches 1..${k} in order: ${missed}${withCompaction === undefined ? '' : `; nor with the compaction after batch ${k}: ${compactedMissed}`}`,
        );
      }
      const compactionDone = missed !== undefined;
      for (const n of resolved.compactions) {
        if (n > k) throw new Error(`the compaction after batch ${n} resolved, but the directory holds batches up to ${k} only`);
        if (n === k && withCompaction !== undefined && missed === undefined && difference(without, withCompaction) !== undefined) {
          throw new Error(`the compaction after batch ${n} resolved, but its slots below ${pending!.compactSlot} are back`);
        }
      }

      // The snapshot: the newest one issued before batch k's successor, or batch k's own.
      const snapshot = await storage.loadSnapshot();
      const allowed = [this.snapshotSlot, ...(pending === undefined ? [] : [pending.snapshotSlot])];
      if (!allowed.includes(snapshot?.slot)) {
        throw new Error(`the snapshot is of slot ${snapshot?.slot ?? 'none'}, expected ${allowed.map((slot) => slot ?? 'none').join(' or ')}`);
      }
      if (compactionDone && snapshot?.slot !== pending?.snapshotSlot) throw new Error(`compacted after batch ${k} without its snapshot`);
      if (snapshot !== undefined && !sameBytes(snapshot.data, snapshotDataFor(seed, snapshot.slot))) {
        throw new Error(`the snapshot of slot ${snapshot.slot} holds other bytes`);
      }
      for (const n of resolved.snapshots) {
        const slot = compactionAfter(n)?.snapshotSlot ?? Number.NaN;
        if (snapshot === undefined || snapshot.slot < slot)
          throw new Error(`the snapshot of slot ${slot} was saved, but the directory has ${snapshot?.slot ?? 'none'}`);
      }

      // What it holds is now the model, whichever way the last compaction went.
      if (compactionDone) {
        forget(this.model, pending!.compactSlot);
        this.tally.compactions++;
      }
      this.snapshotSlot = snapshot?.slot;
      this.batches = k;

      // It still takes writes.
      const next = batchFor(seed, k + 1);
      await storage.persist(next);
      this.model.merge(next);
      this.batches = k + 1;
      const after = difference(await storage.load(), this.model.build());
      if (after !== undefined) throw new Error(`after persisting batch ${k + 1}: ${after}`);
      this.tally.batches = this.batches;
    } finally {
      await storage.close();
    }
  }
}

async function crashRun(options: CrashRunOptions, kills: number): Promise<Tally> {
  const dir = await mkdtemp(join(tmpdir(), 'synod-crash-'));
  dirs.push(dir);
  const run = new CrashRun(dir, options);
  try {
    for (let i = 0; i < kills; i++) await run.cycle(i, i === kills - 1);
  } catch (error) {
    throw new Error(`seed ${options.seed}: ${error instanceof Error ? error.message : String(error)}\nreplay with SYNOD_CRASH_SEED=${options.seed}`, {
      cause: error,
    });
  } finally {
    run.close();
  }
  return run.tally;
}

describe('FileStorage: real-process crashes (SIGKILL)', () => {
  it('after every kill, the directory reopens holding a prefix of the issued batches that includes every resolved one that needed a sync', async () => {
    const seed = seedFromEnv();
    const kills = killsFromEnv();
    const started = performance.now();
    const tally = await crashRun({ seed }, kills);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(
      `crash test, seed ${seed}: ${tally.kills} kills (${tally.killsDuringOpen} while opening) in ${seconds} s, ` +
        `${tally.batches} batches, ${tally.compactions} compactions, ${tally.tears} tails torn by the test, ${tally.repairs} torn tails repaired`,
    );
    expect(tally.kills).toBe(kills);
  }, 180_000);

  it('notices a child that reports persists before they resolve (the check can fail)', async () => {
    const seed = seedFromEnv();
    await expect(crashRun({ seed, reportEarly: true }, 10)).rejects.toThrow(/but the persist of batch \d+ resolved/);
  }, 60_000);
});
