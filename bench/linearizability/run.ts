/**
 * Linearizability checker benchmark: the time `checkLinearizability` takes on a long,
 * linearizable versioned-KV history, and on register histories of the shapes that
 * make checkers work, against Porcupine on the same histories in the same run.
 *
 * - History: `simulateKvHistory` runs one correct store under 10 clients. Each client
 *   issues operations one after another: think 0-2 time units, then an operation lasting
 *   1-20 units, which the store applies at a uniform instant inside it, so intervals
 *   of different clients overlap heavily. Keys are uniform over 20; operations are 40%
 *   get, 25% put, 15% compare-and-set (expected version 0-3, so many conflict), 10%
 *   delete, 10% delete with an expected version. 98% end `ok`, 1% `fail` (no effect),
 *   1% `info` (half of them take effect, inside the interval or later). Seeded `Prng`,
 *   10,000 operations.
 * - A second row puts all the operations on one key, where partitioning cannot help.
 * - Timing: one cold check, then the median of several checks of the same history
 *   (each a fresh call, with the default budget). The target is under 1 s.
 * - Baseline: in the same run, a single pass over the history after sorting a copy by
 *   invocation time (the least any checker must do); the ratio is the check's median
 *   time over the baseline's.
 *
 * - Shapes (bench/linearizability/shapes.ts): many clients and many keys, the same
 *   with one bad read, compare-and-set with many timeouts, one long key, 50 clients
 *   with one bad read, `k` timed-out writes followed by reads (possible and
 *   impossible). Each is checked with `registerModel` and by Porcupine (built by
 *   porcupine.ts from `PORCUPINE_SRC`; skipped, saying why, without Go or a source),
 *   both with a 10 s budget: the cold check, then the median of `--rounds` checks.
 *   Porcupine checks keys in parallel goroutines on every core; synod on one thread;
 *   a last column gives Porcupine's median on one core (GOMAXPROCS=1).
 *   Target: at most Porcupine's median time on every shape, and an answer on every
 *   shape Porcupine answers.
 * - Workers: each shape of many keys (100, or 5 of 50 clients) is checked again with
 *   `checkLinearizabilityInParallel`, twice: `workers: 'auto'` (what a caller gets by
 *   default: 100 ms in this thread first, then workers for the keys left) and
 *   `workers: <cores>` (workers from the start). Each check starts its workers anew, as
 *   a caller's does; from dist/ when it is built (run `npm run build` first), else from
 *   src/ through tsx, which compiles the worker's TypeScript on every start. The ratio
 *   is against Porcupine's median in the shape's first row.
 *
 * A benchmark, not a test: it reports and never fails. Run with
 * `npx tsx bench/linearizability/run.ts`. Options: `--operations N`, `--keys N`,
 * `--clients N`, `--rounds N`, `--seed N`.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import {
  type KvInput,
  type KvOutput,
  type KvPlannedOperation,
  type Operation,
  Prng,
  checkLinearizability,
  checkLinearizabilityInParallel,
  registerModel,
  simulateKvHistory,
  versionedKvModel,
} from '../../src/testing/index.js';
import { buildPorcupine, runPorcupine } from './porcupine.js';
import { shapes, type Shape } from './shapes.js';

interface Settings {
  readonly operations: number;
  readonly keys: number;
  readonly clients: number;
  readonly rounds: number;
  readonly seed: number;
}

function parseArgs(args: readonly string[]): Settings {
  const settings = { operations: 10_000, keys: 20, clients: 10, rounds: 5, seed: 1 };
  for (let i = 0; i < args.length; i += 2) {
    const name = args[i]?.replace(/^--/, '');
    const value = Number(args[i + 1]);
    if (name === undefined || !(name in settings) || !Number.isInteger(value) || value <= 0)
      throw new Error(`usage: run.ts [--operations N] [--keys N] [--clients N] [--rounds N] [--seed N]; got ${args.join(' ')}`);
    settings[name as keyof typeof settings] = value;
  }
  return settings;
}

function plannedInput(prng: Prng, values: readonly string[]): KvInput {
  const roll = prng.next();
  const value = values[prng.int(values.length)]!;
  if (roll < 0.4) return { op: 'get' };
  if (roll < 0.65) return { op: 'put', value };
  if (roll < 0.8) return { op: 'put', value, expectedVersion: prng.int(4) };
  if (roll < 0.9) return { op: 'delete' };
  return { op: 'delete', expectedVersion: 1 + prng.int(3) };
}

/** A plan of `operations` operations by `clients` sequential clients over `keys` keys. */
function plan(settings: Settings): KvPlannedOperation[] {
  const prng = new Prng(settings.seed);
  const values = ['a', 'b', 'c', 'd', 'e'];
  const clock = new Array<number>(settings.clients).fill(0);
  const planned: KvPlannedOperation[] = [];
  for (let i = 0; i < settings.operations; i++) {
    const client = prng.int(settings.clients);
    const invokedAt = clock[client]! + prng.next() * 2;
    const completedAt = invokedAt + 1 + prng.next() * 19;
    clock[client] = completedAt;
    const roll = prng.next();
    const outcome = roll < 0.98 ? 'ok' : roll < 0.99 ? 'fail' : 'info';
    const late = outcome === 'info' && prng.chance(0.5);
    planned.push({
      client: `c${client}`,
      key: `k${prng.int(settings.keys)}`,
      input: plannedInput(prng, values),
      invokedAt,
      completedAt,
      effectAt: late ? completedAt + prng.next() * 100 : invokedAt + prng.next() * (completedAt - invokedAt),
      outcome,
      takesEffect: outcome === 'ok' || (outcome === 'info' && prng.chance(0.5)),
    });
  }
  return planned;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** The baseline: sort a copy by invocation time and pass over it once; milliseconds taken. */
function baselineOnce(history: readonly Operation<KvInput, KvOutput>[]): number {
  const start = performance.now();
  const sorted = [...history].sort((a, b) => a.invokedAt - b.invokedAt);
  let ok = 0;
  for (const operation of sorted) if (operation.outcome === 'ok') ok++;
  const ms = performance.now() - start;
  if (ok > history.length) throw new Error('baseline miscounted');
  return ms;
}

function checkOnce(history: readonly Operation<KvInput, KvOutput>[]): { ms: number; result: string } {
  const start = performance.now();
  const verdict = checkLinearizability(history, versionedKvModel);
  return { ms: performance.now() - start, result: verdict.result };
}

/** One row: the check of a history of `settings` against its same-run baseline. */
function row(settings: Settings): { line: string; met: boolean } {
  const history = simulateKvHistory(plan(settings));
  const cold = checkOnce(history);
  const warm = Array.from({ length: settings.rounds }, () => checkOnce(history));
  for (let i = 0; i < 50; i++) baselineOnce(history); // warm-up, so the sort is optimized before it is timed
  const baseline = median(Array.from({ length: Math.max(settings.rounds, 21) }, () => baselineOnce(history)));
  const checkMs = median(warm.map((w) => w.ms));
  const results = new Set([cold.result, ...warm.map((w) => w.result)]);
  const keysUsed = new Set(history.map((o) => o.key)).size;
  const count = (outcome: string) => history.filter((o) => o.outcome === outcome).length;
  const outcomes = `${count('ok')} / ${count('fail')} / ${count('info')}`;
  return {
    line: `| ${history.length} | ${keysUsed} | ${settings.clients} | ${outcomes} | ${[...results].join(', ')} | ${cold.ms.toFixed(1)} | ${checkMs.toFixed(1)} | ${baseline.toFixed(3)} | ${(checkMs / baseline).toFixed(0)}x |`,
    met: cold.ms < 1000 && checkMs < 1000,
  };
}

async function main(): Promise<void> {
  const settings = parseArgs(process.argv.slice(2));
  const cpus = os.cpus();
  console.log(`# synod linearizability checker (versioned KV, one correct store, ${settings.clients} clients)\n`);
  console.log(`machine: ${cpus[0]?.model ?? 'unknown cpu'}, ${cpus.length} cores, node ${process.version}, ${os.platform()} ${os.arch()}`);
  console.log(
    `seed ${settings.seed}; median of ${settings.rounds} checks after one cold check; the second row puts every operation on one key (no partitioning to help)\n`,
  );
  console.log('| ops | keys | clients | ok / fail / info | verdict | cold ms | median ms | baseline (sort + pass) ms | ratio |');
  console.log('|---:|---:|---:|---:|---|---:|---:|---:|---:|');
  const rows = [row(settings), ...(settings.keys === 1 ? [] : [row({ ...settings, keys: 1 })])];
  for (const r of rows) console.log(r.line);
  console.log('');
  console.log(`target: a check of ${settings.operations} operations by ${settings.clients} clients under 1 s: ${rows.every((r) => r.met) ? 'met' : 'NOT met'}`);
  await compareWithPorcupine(settings);
}

const shapeTimeBudgetMs = 10_000;

/** synod's verdict and the milliseconds of a cold check and `rounds` more. */
function synodOnShape(shape: Shape, rounds: number): { result: string; cold: number; ms: number[] } {
  const once = () => {
    const start = performance.now();
    const verdict = checkLinearizability(shape.history, registerModel, { timeBudgetMs: shapeTimeBudgetMs });
    return { result: verdict.result, ms: performance.now() - start };
  };
  const cold = once();
  const warm = Array.from({ length: rounds }, once);
  return { result: [...new Set([cold.result, ...warm.map((w) => w.result)])].join(', '), cold: cold.ms, ms: warm.map((w) => w.ms) };
}

/** The parallel checker and its register model: from dist/ when built (its workers load plain JavaScript), else from src/. */
async function parallelChecker(): Promise<{
  readonly check: typeof checkLinearizabilityInParallel;
  readonly model: typeof registerModel;
  readonly from: string;
}> {
  const dist = new URL('../../dist/testing/index.js', import.meta.url);
  if (!existsSync(dist)) return { check: checkLinearizabilityInParallel, model: registerModel, from: 'src/ through tsx (no dist/ built)' };
  const built = (await import(dist.href)) as { checkLinearizabilityInParallel: typeof checkLinearizabilityInParallel; registerModel: typeof registerModel };
  return { check: built.checkLinearizabilityInParallel, model: built.registerModel, from: 'dist/ (npm run build)' };
}

/** The same as synodOnShape with checkLinearizabilityInParallel; also how many workers were started. */
async function synodOnShapeInParallel(
  parallel: Awaited<ReturnType<typeof parallelChecker>>,
  shape: Shape,
  rounds: number,
  workersOption: number | 'auto',
): Promise<{ result: string; cold: number; ms: number[]; workers: string }> {
  const results: string[] = [];
  const workers = new Set<string>();
  const once = async (): Promise<number> => {
    const start = performance.now();
    const verdict = await parallel.check(shape.history, parallel.model, { timeBudgetMs: shapeTimeBudgetMs, workers: workersOption });
    const ms = performance.now() - start;
    results.push(verdict.result);
    workers.add(String(verdict.execution.workers));
    return ms;
  };
  const cold = await once();
  const ms: number[] = [];
  for (let i = 0; i < rounds; i++) ms.push(await once());
  return { result: [...new Set(results)].join(', '), cold, ms, workers: [...workers].join(', ') };
}

async function compareWithPorcupine(settings: Settings): Promise<void> {
  const parallel = await parallelChecker();
  const porcupine = buildPorcupine();
  console.log(`\n# register shapes: synod against Porcupine, same histories, same run\n`);
  console.log('binary' in porcupine ? `Porcupine: ${porcupine.version}; GOMAXPROCS default (every core)` : `Porcupine side skipped: ${porcupine.skipped}`);
  console.log(`seed ${settings.seed}; budget ${shapeTimeBudgetMs} ms each; cold check, then the median of ${settings.rounds}`);
  console.log(
    `rows "workers: ...": checkLinearizabilityInParallel from ${parallel.from}, ${os.availableParallelism()} cores; Porcupine's figures repeated from the row above\n`,
  );
  console.log(
    '| shape | ops | synod verdict | synod cold ms | synod median ms | Porcupine verdict | Porcupine cold ms | Porcupine median ms | synod / Porcupine | Porcupine 1 core median ms |',
  );
  console.log('|---|---:|---|---:|---:|---|---:|---:|---:|---:|');
  let met = true;
  for (const shape of shapes(settings.seed)) {
    const ours = synodOnShape(shape, settings.rounds);
    const oursMedian = median(ours.ms);
    let theirs = '| skipped | | |';
    let ratio = '';
    let oneCore = '';
    let pMedian: number | undefined;
    if ('binary' in porcupine) {
      const p = runPorcupine(porcupine, shape.history, shapeTimeBudgetMs, settings.rounds + 1);
      pMedian = median(p.ms.slice(1));
      theirs = `| ${p.result} | ${p.ms[0]!.toFixed(1)} | ${pMedian.toFixed(1)} |`;
      ratio = `${(oursMedian / pMedian).toFixed(2)}x`;
      const single = runPorcupine(porcupine, shape.history, shapeTimeBudgetMs, settings.rounds + 1, true);
      oneCore = `${median(single.ms.slice(1)).toFixed(1)} (${single.result})`;
      if (oursMedian > pMedian || (p.result !== 'unknown' && ours.result !== p.result)) met = false;
    }
    console.log(
      `| ${shape.name} | ${shape.history.length} | ${ours.result} | ${ours.cold.toFixed(1)} | ${oursMedian.toFixed(1)} ${theirs} ${ratio} | ${oneCore} |`,
    );
    if (new Set(shape.history.map((operation) => operation.key)).size < 5) continue;
    for (const workersOption of ['auto', os.availableParallelism()] as const) {
      const onWorkers = await synodOnShapeInParallel(parallel, shape, settings.rounds, workersOption);
      const workersMedian = median(onWorkers.ms);
      const workersRatio = pMedian === undefined ? '' : `${(workersMedian / pMedian).toFixed(2)}x`;
      const label = `workers: ${workersOption === 'auto' ? "'auto'" : workersOption}, ${onWorkers.workers} started`;
      console.log(
        `| ${shape.name}, ${label} | ${shape.history.length} | ${onWorkers.result} | ${onWorkers.cold.toFixed(1)} | ${workersMedian.toFixed(1)} ${theirs} ${workersRatio} | ${oneCore} |`,
      );
    }
  }
  console.log('');
  for (const shape of shapes(settings.seed)) console.log(`- ${shape.name}: ${shape.description}`);
  if ('binary' in porcupine)
    console.log(`\ntarget: at most Porcupine's median time, and the same answer wherever Porcupine answers, on every shape: ${met ? 'met' : 'NOT met'}`);
}

await main();
