/**
 * The linearizability checker on worker threads: keys are checked in parallel, each
 * worker taking keys from a shared queue and searching them in turns, and the first key
 * found not linearizable stops every worker.
 */
import { ConfigError } from '../../core/index.js';
import { Budget, type BudgetReason, type UnknownReason } from './budget.js';
import {
  checkLinearizability,
  type LinearizabilityOptions,
  type LinearizabilityVerdict,
  unknownVerdict,
  verdictOfPartitions,
} from './check-linearizability.js';
import { type History, validateHistory } from './history.js';
import { linearizabilityLimits } from './limits.js';
import type { Model } from './model.js';
import { describeModel, type ModelDescriptor } from './model-origin.js';
import { failure, type Partition, type PartitionFailure, partitionByKey, searchInTurns } from './partition-turns.js';
import { writeVisualization } from './visualization.js';
import { decodeFailure, type WorkerInput, type WorkerMessage } from './worker-protocol.js';

const api = 'checkLinearizabilityInParallel';

/** The longest delay `setTimeout` keeps, in milliseconds; a longer one fires at once. */
const timerMsMax = 0x7fff_ffff;

/** Options of {@link checkLinearizabilityInParallel}: those of `checkLinearizability`, and how many workers. */
export interface ParallelLinearizabilityOptions extends LinearizabilityOptions {
  /**
   * How many worker threads (`node:worker_threads`) check keys, never more than there
   * are keys:
   *
   * - `'auto'` (the default): checks in this thread first, as `checkLinearizability`
   *   does, for `linearizabilityLimits.parallelAfterMs` (1 s); a check that ends by
   *   then never starts a worker. The keys not finished then are searched again from
   *   the start on one worker per core (`os.availableParallelism()`). A history of one
   *   key, a machine of one core, or a model or history that cannot be sent to a worker
   *   keeps the whole check in this thread, and `execution.note` says why.
   * - `0`: in this thread, as `checkLinearizability` does.
   * - `n` (an integer from 1): `n` workers; the promise rejects with {@link ConfigError}
   *   if the model or the history cannot be sent to a worker or workers cannot start.
   *
   * With workers, each key has its own `partitionStepsMax` as in one thread;
   * `timeBudgetMs` and `stepsMax` bound the whole check (steps are counted across
   * workers in blocks of `linearizabilityLimits.stepsPerClockRead`); `memoryBytesMax`
   * bounds the whole check too, split evenly between the workers, and each worker's heap
   * is limited (`resourceLimits`, see `linearizabilityLimits.workerHeapBytesBase`).
   * `now` is read by this thread only: workers read their own `performance.now`.
   */
  readonly workers?: number | 'auto';
}

/** How a check ran. */
export interface LinearizabilityExecution {
  /** Worker threads started: 0 when the check ran in the calling thread. */
  readonly workers: number;
  /** Why the check ran in this thread though workers were allowed (`workers: 'auto'`). */
  readonly note?: string;
}

/** The verdict of {@link checkLinearizabilityInParallel}: `checkLinearizability`'s, and how the check ran. */
export type ParallelLinearizabilityVerdict<I, O, S = unknown> = LinearizabilityVerdict<I, O, S> & {
  /** How the check ran. */
  readonly execution: LinearizabilityExecution;
};

/**
 * `checkLinearizability` on worker threads: the keys of `history` are checked in
 * parallel, each with its own step budget, and the first key found not linearizable
 * stops every worker (they are terminated, and the promise resolves once all have
 * exited). The verdict is the one `checkLinearizability` gives: the same failure report
 * (naming the caller's own operation objects), the same `unknown` reasons; a worker
 * that dies (its model threw, it ran out of heap) leaves its keys `unknown` with the
 * reason ('worker failed', or 'memory bound' for its heap) instead of rejecting. When
 * two keys fail, either may be reported.
 *
 * The model must be sendable: a built-in model, or one with an `origin` (the module and
 * export a worker loads it from). Node only (20.16 or later). Rejects with
 * {@link HistoryError} on a malformed history and {@link ConfigError} on bad options.
 *
 * @example
 * ```ts
 * const verdict = await checkLinearizabilityInParallel(history, versionedKvModel, { workers: 'auto', timeBudgetMs: 30_000 });
 * if (verdict.result === 'not-linearizable') console.log(verdict.explanation.text);
 * console.log(`${verdict.execution.workers} workers`, verdict.execution.note ?? '');
 * ```
 */
export async function checkLinearizabilityInParallel<S, I, O>(
  history: History<I, O>,
  model: Model<S, I, O>,
  options: ParallelLinearizabilityOptions = {},
): Promise<ParallelLinearizabilityVerdict<I, O, S>> {
  validateHistory(history);
  const plan = planWorkers(history, model, options);
  if (plan.kind === 'here') return inThisThread(history, model, options, plan.note);
  const head = options.workers === undefined || options.workers === 'auto' ? headStart(plan.partitions, model, options) : { steps: 0, elapsedMs: 0 };
  if ('verdict' in head) {
    if (options.visualize !== undefined) writeVisualization(options.visualize, history, head.verdict);
    const note = `finished in this thread within linearizabilityLimits.parallelAfterMs (${linearizabilityLimits.parallelAfterMs} ms), before workers would have started`;
    return { ...head.verdict, execution: { workers: 0, note } };
  }
  const pending = plan.partitions.filter((partition) => !partition.done);
  const serialized = serialize(plan.node, pending);
  if (typeof serialized === 'string') {
    if (options.workers !== 'auto' && options.workers !== undefined) throw new ConfigError(api, 'history', serialized);
    return inThisThread(history, model, options, `history ${serialized}: checked in this thread`);
  }
  const workers = Math.min(plan.workers, pending.length);
  const outcome = await runWorkers({ ...plan, workers }, pending, serialized, head, model, options);
  if (typeof outcome === 'string') {
    if (options.workers !== 'auto' && options.workers !== undefined) throw new ConfigError(api, 'model', `cannot be loaded by a worker thread: ${outcome}`);
    return inThisThread(history, model, options, `a worker thread could not load the model (${outcome}): checked in this thread`);
  }
  if (options.visualize !== undefined) writeVisualization(options.visualize, history, outcome);
  return { ...outcome, execution: { workers } };
}

/** What the head start in this thread left to the workers: the steps and time it took. */
interface HeadStart {
  readonly steps: number;
  readonly elapsedMs: number;
}

/**
 * Checks in this thread for `linearizabilityLimits.parallelAfterMs`, as
 * `checkLinearizability` does: the verdict if that settles it (a key failed, every key
 * ended, or the check's own budget ran out); otherwise the keys cut short are reset for
 * the workers, which search them again from the start.
 */
function headStart<S, I, O>(
  partitions: readonly Partition<S, I, O>[],
  model: Model<S, I, O>,
  options: ParallelLinearizabilityOptions,
): { readonly verdict: LinearizabilityVerdict<I, O, S> } | HeadStart {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const timeBudgetMs = options.timeBudgetMs ?? linearizabilityLimits.timeBudgetMsDefault;
  const slice = Math.min(linearizabilityLimits.parallelAfterMs, timeBudgetMs);
  const budget = new Budget(
    slice,
    options.stepsMax ?? linearizabilityLimits.stepsMaxDefault,
    now,
    options.memoryBytesMax ?? linearizabilityLimits.memoryBytesMaxDefault,
  );
  let next = 0;
  const partitionStepsMax = options.partitionStepsMax ?? linearizabilityLimits.stepsMaxDefault;
  const failed = searchInTurns(
    () => partitions[next++],
    true,
    model,
    budget,
    partitionStepsMax,
    () => {},
  );
  if (failed !== undefined) {
    // Explaining and shrinking get the check's whole time, as in checkLinearizability.
    budget.extendDeadline(started + timeBudgetMs);
    return { verdict: { result: 'not-linearizable', ...failure(failed, model, budget, options.shrink !== false) } };
  }
  if (budget.spentOn !== 'time budget' || slice >= timeBudgetMs) return { verdict: verdictOfPartitions(partitions, budget, options) };
  // Only the head start's own deadline ends keys 'time budget' here; keys ended by their
  // step or memory bound stay as they are.
  for (const partition of partitions) {
    if (partition.unknown !== 'time budget') continue;
    delete partition.unknown;
    partition.done = false;
  }
  return { steps: budget.taken, elapsedMs: now() - started };
}

function inThisThread<S, I, O>(
  history: History<I, O>,
  model: Model<S, I, O>,
  options: ParallelLinearizabilityOptions,
  note: string | undefined,
): ParallelLinearizabilityVerdict<I, O, S> {
  const verdict = checkLinearizability(history, model, options);
  return { ...verdict, execution: note === undefined ? { workers: 0 } : { workers: 0, note } };
}

/** The Node modules the checker needs to start workers, loaded only when it does (so `synod/testing` still loads in a browser). */
interface NodeModules {
  readonly workerThreads: typeof import('node:worker_threads');
  readonly v8: typeof import('node:v8');
  readonly os: typeof import('node:os');
  readonly fs: typeof import('node:fs');
  readonly url: typeof import('node:url');
  readonly module: typeof import('node:module');
}

function nodeModules(): NodeModules | undefined {
  const get = (globalThis as { process?: { getBuiltinModule?: (name: string) => unknown } }).process?.getBuiltinModule;
  if (get === undefined) return undefined;
  return {
    workerThreads: get('node:worker_threads') as NodeModules['workerThreads'],
    v8: get('node:v8') as NodeModules['v8'],
    os: get('node:os') as NodeModules['os'],
    fs: get('node:fs') as NodeModules['fs'],
    url: get('node:url') as NodeModules['url'],
    module: get('node:module') as NodeModules['module'],
  };
}

/** Workers to start, and all they need; or none, and why. */
type WorkerPlan<S, I, O> =
  | { readonly kind: 'here'; readonly note?: string }
  | {
      readonly kind: 'workers';
      readonly workers: number;
      readonly node: NodeModules;
      readonly partitions: Partition<S, I, O>[];
      readonly descriptor: ModelDescriptor;
      readonly entry: URL;
    };

function planWorkers<S, I, O>(history: History<I, O>, model: Model<S, I, O>, options: ParallelLinearizabilityOptions): WorkerPlan<S, I, O> {
  const asked = options.workers ?? 'auto';
  if (asked !== 'auto' && !(Number.isSafeInteger(asked) && asked >= 0)) {
    throw new ConfigError(api, 'workers', `must be 'auto' or an integer from 0, got ${String(asked)}`);
  }
  if (asked === 0) return { kind: 'here' };
  // With 'auto', what rules workers out is noted and the check runs here; asked for
  // workers by number, the caller hears of it.
  const without = (field: string, why: string): WorkerPlan<S, I, O> => {
    if (asked !== 'auto') throw new ConfigError(api, field, why);
    return { kind: 'here', note: `${field} ${why}: checked in this thread` };
  };
  const node = nodeModules();
  if (node === undefined) return without('workers', 'needs node:worker_threads (Node 20.16 or later)');
  const partitions = partitionByKey<S, I, O>(history);
  // Nothing to check (every operation failed, or none): no worker would ever report.
  if (partitions.length === 0) return { kind: 'here' };
  if (asked === 'auto') {
    if (partitions.length < linearizabilityLimits.parallelKeysMin) return { kind: 'here', note: 'one key, which one thread checks: checked in this thread' };
    if (node.os.availableParallelism() < 2) return { kind: 'here', note: 'one core: checked in this thread' };
  }
  const descriptor = describeModel(model);
  if (typeof descriptor === 'string') return without('model', descriptor);
  const entry = workerEntry();
  if (!node.fs.existsSync(node.url.fileURLToPath(entry))) {
    return without('workers', `needs the worker entry ${entry.href}, which is missing (is synod/testing bundled into another file?)`);
  }
  const workers = asked === 'auto' ? node.os.availableParallelism() : asked;
  return { kind: 'workers', workers, node, partitions, descriptor, entry };
}

/** The worker's entry point, beside this file: dist/testing/*.js, *.cjs, or src/ under tsx and vitest. */
function workerEntry(): URL {
  const here = import.meta.url;
  const extension = /\.[cm]?[jt]s$/.exec(new URL(here).pathname)?.[0] ?? '.js';
  return new URL(`./linearizability-worker${extension}`, here);
}

/** Keys serialized for the workers: the bytes, and where each key starts. */
interface Serialized {
  readonly buffer: SharedArrayBuffer;
  readonly offsets: number[];
}

/** Every key serialized on its own into one shared buffer, or why the history cannot be. */
function serialize<S, I, O>(node: NodeModules, partitions: readonly Partition<S, I, O>[]): Serialized | string {
  const parts: Uint8Array[] = [];
  const offsets = [0];
  for (const partition of partitions) {
    try {
      parts.push(node.v8.serialize([partition.key, partition.operations]));
    } catch (error) {
      return `of key ${partition.key} cannot be copied to a worker thread (${error instanceof Error ? error.message : String(error)})`;
    }
    offsets.push(offsets[offsets.length - 1]! + parts[parts.length - 1]!.length);
  }
  const buffer = new SharedArrayBuffer(offsets[offsets.length - 1]!);
  const bytes = new Uint8Array(buffer);
  parts.forEach((part, index) => bytes.set(part, offsets[index]!));
  return { buffer, offsets };
}

/** One worker and what it said. */
interface WorkerState {
  steps: number;
  /** Keys it took from the queue. */
  took: number;
  /** Whether it said it had no key left to take. */
  finished: boolean;
  error: unknown;
  exitCode: number | undefined;
}

/** Runs the check on the plan's workers; the verdict, or why a worker could not load the model. */
function runWorkers<S, I, O>(
  plan: Extract<WorkerPlan<S, I, O>, { readonly kind: 'workers' }>,
  pending: readonly Partition<S, I, O>[],
  serialized: Serialized,
  head: HeadStart,
  model: Model<S, I, O>,
  options: ParallelLinearizabilityOptions,
): Promise<LinearizabilityVerdict<I, O, S> | string> {
  const { node, partitions } = plan;
  const memoryBytesMax = options.memoryBytesMax ?? linearizabilityLimits.memoryBytesMaxDefault;
  const share = Math.floor(memoryBytesMax / plan.workers);
  const historyBytes = serialized.buffer.byteLength;
  const heapBytes = share + linearizabilityLimits.workerHeapBytesBase + historyBytes * linearizabilityLimits.workerHeapBytesPerHistoryByte;
  // What the head start used is gone from the check's budgets.
  const timeBudgetMs = Math.max(0, (options.timeBudgetMs ?? linearizabilityLimits.timeBudgetMsDefault) - head.elapsedMs);
  const stepsMax = Math.max(0, (options.stepsMax ?? linearizabilityLimits.stepsMaxDefault) - head.steps);
  const input: WorkerInput = {
    model: plan.descriptor,
    partitions: serialized.buffer,
    offsets: serialized.offsets,
    control: new SharedArrayBuffer(8),
    timeBudgetMs,
    stepsMax,
    partitionStepsMax: options.partitionStepsMax ?? linearizabilityLimits.stepsMaxDefault,
    memoryBytesMax: share,
    shrink: options.shrink !== false,
  };
  const control = new Int32Array(input.control);
  const owner = partitions.map(() => -1);
  const states: WorkerState[] = [];
  const workers: import('node:worker_threads').Worker[] = [];
  let failed: { readonly partition: Partition<S, I, O>; readonly failure: PartitionFailure<S, I, O>; readonly statesLost: boolean } | undefined;
  let unloadable: string | undefined;
  let spentOn: BudgetReason | undefined;
  let timedOut = false;
  let stopping = false;
  let running = 0;
  return new Promise((resolve) => {
    const stopAll = (): void => {
      stopping = true;
      for (const worker of workers) void worker.terminate();
    };
    // A model step that never returns never reads the clock: stop its worker. A timer
    // fires at once past 2^31 - 1 ms (about 24.8 days), so a longer budget has none.
    const watchdogMs = timeBudgetMs + linearizabilityLimits.workerGraceMs;
    const watchdog =
      watchdogMs <= timerMsMax
        ? setTimeout(() => {
            timedOut = true;
            stopAll();
          }, watchdogMs)
        : undefined;
    const finish = (): void => {
      clearTimeout(watchdog);
      if (unloadable !== undefined) resolve(unloadable);
      else if (failed !== undefined) {
        const failure = failed.statesLost ? (refail(failed.partition, model, options) ?? failed.failure) : failed.failure;
        resolve({ result: 'not-linearizable', ...failure });
      } else resolve(verdictOf(partitions, owner, states, head.steps, spentOn, timedOut, options, `${memoryBytesMax} bytes, ${share} per worker`));
    };
    const start = (): void => {
      const id = states.length;
      const state: WorkerState = { steps: 0, took: 0, finished: false, error: undefined, exitCode: undefined };
      let worker: import('node:worker_threads').Worker;
      try {
        worker = startWorker(node, plan.entry, input, heapBytes);
      } catch (error) {
        // Reported as a model no worker could load: the caller falls back or hears of it.
        unloadable ??= `a worker thread could not start (${error instanceof Error ? error.message : String(error)})`;
        stopAll();
        if (running === 0) finish();
        return;
      }
      states.push(state);
      workers.push(worker);
      running++;
      worker.on('message', (message: WorkerMessage) => {
        switch (message.type) {
          case 'took':
            owner[pending[message.index]!.index] = id;
            state.took++;
            break;
          case 'ended': {
            const partition = pending[message.index]!;
            partition.done = true;
            if (message.unknown !== undefined) partition.unknown = message.unknown;
            state.steps = message.steps;
            break;
          }
          case 'failed':
            if (failed === undefined && unloadable === undefined) {
              const partition = pending[message.index]!;
              failed = {
                partition,
                failure: decodeFailure<S, I, O>(partition.key, message.failure, partition.operations),
                statesLost: message.statesLost === true,
              };
              stopAll();
            }
            break;
          case 'finished':
            state.steps = message.steps;
            state.finished = true;
            spentOn ??= message.spentOn;
            break;
          case 'unloadable':
            unloadable ??= message.message;
            stopAll();
            break;
        }
      });
      worker.on('error', (error) => {
        state.error ??= error;
      });
      worker.on('exit', (code) => {
        state.exitCode = code;
        running--;
        // A worker that died on a key leaves the keys not taken yet to a new worker, so
        // that one bad key hides no failure; one that died before taking any would die again.
        const keysLeft = Atomics.load(control, 0) < pending.length;
        if (!stopping && !state.finished && state.took > 0 && keysLeft && spentOn === undefined) start();
        if (running === 0) finish();
      });
    };
    for (let i = 0; i < plan.workers; i++) start();
  });
}

/**
 * The Node options a worker inherits (heap flags; loaders such as tsx's, which a user's
 * model may need), without `--input-type`: a worker refuses it
 * (ERR_INPUT_TYPE_NOT_ALLOWED), and a caller run by `node --input-type=module -e` passes
 * it on. `loaders` false drops the loaders too: a built-in model needs none, and tsx's
 * costs a worker about 150 ms to start.
 */
function workerExecArgv(loaders: boolean): string[] {
  const execArgv = (globalThis as { process?: { execArgv?: readonly string[] } }).process?.execArgv ?? [];
  const dropped = loaders ? ['--input-type'] : ['--input-type', '--import', '--require', '-r', '--loader', '--experimental-loader'];
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const option = execArgv[i]!;
    if (dropped.includes(option)) i++;
    else if (!dropped.some((name) => option.startsWith(`${name}=`))) kept.push(option);
  }
  return kept;
}

/** A worker for `input`: the package's entry point, or the sources' through tsx. */
function startWorker(node: NodeModules, entry: URL, input: WorkerInput, heapBytes: number): import('node:worker_threads').Worker {
  const execArgv = workerExecArgv(!('builtin' in input.model));
  const options = { workerData: input, resourceLimits: { maxOldGenerationSizeMb: Math.ceil(heapBytes / (1024 * 1024)) }, execArgv };
  if (!entry.pathname.endsWith('.ts')) return new node.workerThreads.Worker(entry, options);
  // From the sources (under vitest or tsx): the worker loads TypeScript through tsx,
  // a development dependency the package itself never needs.
  const tsx = node.url.pathToFileURL(node.module.createRequire(entry).resolve('tsx/esm/api')).href;
  const code = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new node.workerThreads.Worker(code, { ...options, eval: true });
}

/**
 * The failure of a key a worker found not linearizable but could not send whole (its
 * model states do not survive structured clone), found again in this thread with no
 * time limit: the worker has shown it fails. Undefined if this search ends otherwise
 * (its memory bound): the worker's failure stands, without states.
 */
function refail<S, I, O>(partition: Partition<S, I, O>, model: Model<S, I, O>, options: ParallelLinearizabilityOptions): PartitionFailure<S, I, O> | undefined {
  const { visualize: _drawnByTheCaller, now: _, stepsMax: __, timeBudgetMs: ___, ...rest } = options;
  const verdict = checkLinearizability(partition.operations, model, { ...rest, timeBudgetMs: Number.POSITIVE_INFINITY });
  if (verdict.result !== 'not-linearizable') return undefined;
  const { key, minimal, shrinkComplete, explanation } = verdict;
  return { key, minimal, shrinkComplete, explanation };
}

/** An error on one line: its name, its message, and where it was thrown (the first frame of its stack). */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const frame = /^\s*at (.*)$/m.exec(error.stack ?? '')?.[1];
  return `${error.name}: ${error.message}${frame === undefined ? '' : ` (at ${frame})`}`;
}

/** Why a worker stopped before its keys ended, as the verdict says it. */
function workerFailure(state: WorkerState, timedOut: boolean): { readonly reason: UnknownReason; readonly text?: string } {
  const error = state.error as (Error & { code?: string }) | undefined;
  if (error?.code === 'ERR_WORKER_OUT_OF_MEMORY') return { reason: 'memory bound', text: `a worker ran out of its heap: ${error.message}` };
  if (error !== undefined) return { reason: 'worker failed', text: describeError(error) };
  if (timedOut) return { reason: 'time budget' };
  return { reason: 'worker failed', text: `a worker exited with code ${state.exitCode ?? 'unknown'} before its keys were finished` };
}

/** The verdict when no key failed: linearizable, or which keys are unknown and why. */
function verdictOf<S, I, O>(
  partitions: readonly Partition<S, I, O>[],
  owner: readonly number[],
  states: readonly WorkerState[],
  headSteps: number,
  spentOn: BudgetReason | undefined,
  timedOut: boolean,
  options: ParallelLinearizabilityOptions,
  memoryBytesMax: string,
): LinearizabilityVerdict<I, O, S> {
  let failureText: string | undefined;
  for (const partition of partitions) {
    if (partition.done) continue;
    const id = owner[partition.index]!;
    // Never taken: the budget was spent first, or every worker had stopped.
    const stopped =
      id >= 0
        ? workerFailure(states[id]!, timedOut)
        : spentOn !== undefined
          ? { reason: spentOn }
          : timedOut
            ? { reason: 'time budget' as const }
            : firstFailure(states, timedOut);
    partition.unknown = stopped.reason;
    failureText ??= stopped.text;
  }
  const unknown = partitions.filter((partition) => partition.unknown !== undefined);
  if (unknown.length === 0) return { result: 'linearizable' };
  const steps = states.reduce((sum, state) => sum + state.steps, headSteps);
  const reason = spentOn ?? (timedOut ? 'time budget' : unknown[0]!.unknown!);
  const cause = { checkWide: spentOn !== undefined || timedOut, memoryBytesMax, ...(failureText === undefined ? {} : { workerFailure: failureText }) };
  return unknownVerdict(reason, cause, unknown, partitions.length, steps, options);
}

/** Why keys nobody took ended: the first worker that failed (or, failing none, the first worker). */
function firstFailure(states: readonly WorkerState[], timedOut: boolean): { readonly reason: UnknownReason; readonly text?: string } {
  const stopped = states.find((state) => state.error !== undefined || state.exitCode !== 0) ?? states[0]!;
  return workerFailure(stopped, timedOut);
}
