/**
 * Swarm testing in the simulator, for as long as you let it run: every run draws its
 * own mix (cluster size, quorum kind, which kinds of fault are on at all, how many,
 * snapshots and compaction, membership changes, load, limits), then one schedule from
 * that mix, and checks every invariant as the core simulator does. Turning whole kinds
 * of fault off per run finds what a fixed mix hides: a bug that needs many partitions
 * and no crashes is rare when crashes always take their share.
 *
 *   npm run soak -- --minutes 120            run for two hours, a summary at the end
 *   npm run soak -- --runs 1000 --seed 7      a fixed number of runs
 *   npm run soak -- --replay 7:4182          one run again, with its trace on failure
 *
 * Each failure prints a replay line (`--replay SEED:RUN`). Options: --workers N (worker
 * threads, default 1), --progress-s N (a progress line every N s, default 30).
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import type { Fault } from '../src/testing/faults.js';
import { faultArbitrary, simulationArbitrary, type SimulationArbitraryOptions, transferFaultArbitrary } from '../src/testing/arbitraries.js';
import { Prng } from '../src/testing/prng.js';
import { type SimulationConfig, runSimulation } from '../src/testing/run-simulation.js';

/** The kinds of fault a mix may turn off. */
const faultKinds: readonly Fault['kind'][] = [
  'crash',
  'restart',
  'partition',
  'cut',
  'bridge',
  'crashLeader',
  'isolateLeader',
  'transferLeader',
  'slowClock',
  'heal',
  'network',
];

/** What one run draws before its schedule: the swarm's dimension. */
interface Mix {
  readonly options: SimulationArbitraryOptions;
  /** The fault kinds on in this run ('changeMembers' when membership is). */
  readonly kinds: readonly string[];
  readonly label: string;
}

/** The mix of run `run` of a soak seeded `seed`: a pure function of both, so a run replays. */
export function mixOf(seed: number, run: number): Mix {
  const random = new Prng(((seed * 0x9e3779b1) ^ (run * 0x85ebca77)) >>> 0);
  const pick = <T>(xs: readonly T[]): T => xs[random.int(xs.length)]!;
  const transfer = random.next() < 0.15;
  // Each kind on with probability one half; at least one.
  let kinds = faultKinds.filter(() => random.next() < 0.5);
  if (kinds.length === 0) kinds = [pick(faultKinds)];
  const on = new Set<string>(kinds);
  const membership = random.next() < 0.3;
  const snapshots = random.next() < 0.4;
  const voters = membership ? pick([3, 5]) : pick([1, 3, 3, 5, 5, 7]);
  const quorums = pick([['majority'], ['flexible'], ['majority', 'flexible']] as const);
  const faultsMax = pick([2, 6, 14, 30]);
  const proposals = pick([20, 100, 200, 400]);
  const base = transfer ? transferFaultArbitrary : faultArbitrary;
  const options: SimulationArbitraryOptions = {
    voters: [voters],
    observersMax: pick([0, 1, 2]),
    quorums,
    proposals,
    faultsMax,
    snapshots,
    membership,
    safetyTicks: pick([
      [200, 400],
      [300, 700],
      [600, 1_200],
    ] as const),
    fault: (nodes) => base(nodes).filter((f) => on.has(f.kind) || (transfer && f.kind === 'heal')),
  };
  const label = `${voters}v ${quorums.join('/')} ${faultsMax}f ${proposals}p${snapshots ? ' snap' : ''}${membership ? ' members' : ''}${transfer ? ' transfer' : ''} [${kinds.join(',')}]`;
  return { options, kinds: [...kinds, ...(membership ? ['changeMembers'] : [])], label };
}

/** The schedule of run `run`: one draw from its mix, seeded by the run. */
export function configOf(seed: number, run: number): SimulationConfig {
  const { options } = mixOf(seed, run);
  const [config] = fc.sample(simulationArbitrary(options), { seed: (seed + run * 7919) | 0, numRuns: 1 });
  return config!;
}

interface Outcome {
  readonly run: number;
  readonly ok: boolean;
  readonly kinds: readonly string[];
  readonly ticks: number;
  readonly failure?: string;
}

function runOne(seed: number, run: number): Outcome {
  const mix = mixOf(seed, run);
  try {
    const result = runSimulation(configOf(seed, run));
    return { run, ok: true, kinds: mix.kinds, ticks: result.ticks };
  } catch (error) {
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return { run, ok: false, kinds: mix.kinds, ticks: 0, failure: `${mix.label}\n${text}` };
  }
}

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

async function main(): Promise<number> {
  const replay = option('replay');
  if (replay !== undefined) {
    const [seed, run] = replay.split(':').map(Number);
    const outcome = runOne(seed!, run!);
    console.log(outcome.ok ? `run ${replay}: passed (${mixOf(seed!, run!).label})` : `run ${replay} failed: ${outcome.failure}`);
    return outcome.ok ? 0 : 1;
  }
  const seed = Number(option('seed') ?? Date.now() % 1_000_000_000);
  const minutes = Number(option('minutes') ?? (option('runs') === undefined ? 1 : Infinity));
  const runsMax = Number(option('runs') ?? Infinity);
  const workers = Math.max(1, Math.min(Number(option('workers') ?? 1), availableParallelism()));
  const progressMs = Number(option('progress-s') ?? 30) * 1_000;
  const deadline = performance.now() + minutes * 60_000;
  console.log(`soak: seed ${seed}, ${Number.isFinite(minutes) ? `${minutes} min` : `${runsMax} runs`}, ${workers} worker(s)`);

  const started = performance.now();
  let runs = 0;
  let ticks = 0;
  const failures: Outcome[] = [];
  const byKind = new Map<string, number>();
  const record = (o: Outcome): void => {
    runs++;
    ticks += o.ticks;
    for (const k of o.kinds) byKind.set(k, (byKind.get(k) ?? 0) + 1);
    if (!o.ok) {
      failures.push(o);
      console.log(`\nFAILED run ${o.run}: replay with npm run soak -- --replay ${seed}:${o.run}\n${o.failure!.split('\n').slice(0, 12).join('\n')}\n`);
    }
  };
  let lastProgress = started;
  const progress = (): void => {
    const now = performance.now();
    if (now - lastProgress < progressMs) return;
    lastProgress = now;
    console.log(
      `soak: ${runs} runs in ${((now - started) / 1000).toFixed(0)} s (${(runs / ((now - started) / 1000)).toFixed(1)} runs/s), ${failures.length} failed`,
    );
  };

  // Run r goes to worker r mod N: the runs done are the same whatever the worker count.
  await Promise.all(
    Array.from(
      { length: workers },
      (_, w) =>
        new Promise<void>((done, fail) => {
          // A worker does not inherit the main thread's module hooks: under tsx it registers tsx itself.
          const boot = `(async () => { ${import.meta.url.endsWith('.ts') ? "(await import('tsx/esm/api')).register();" : ''} await import(${JSON.stringify(import.meta.url)}); })();`;
          const worker = new Worker(boot, {
            eval: true,
            workerData: { seed, first: w, step: workers, runsMax, deadline: Date.now() + (deadline - performance.now()) },
          });
          worker.on('message', (o: Outcome) => {
            record(o);
            progress();
          });
          worker.once('error', fail);
          worker.once('exit', () => done());
        }),
    ),
  );

  const seconds = (performance.now() - started) / 1000;
  console.log(
    `\nsoak: seed ${seed}: ${runs} runs in ${seconds.toFixed(0)} s (${(runs / seconds).toFixed(1)} runs/s), ${ticks} simulated ticks, ${failures.length} failed`,
  );
  console.log(
    `runs with each kind of fault on: ${[...byKind]
      .sort()
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}`,
  );
  for (const f of failures) console.log(`  failed: npm run soak -- --replay ${seed}:${f.run}`);
  return failures.length === 0 ? 0 : 1;
}

if (isMainThread && process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(2);
    },
  );
} else if (!isMainThread) {
  const { seed, first, step, runsMax, deadline } = workerData as { seed: number; first: number; step: number; runsMax: number; deadline: number };
  for (let run = first; run < runsMax && Date.now() < deadline; run += step) parentPort!.postMessage(runOne(seed, run));
}
