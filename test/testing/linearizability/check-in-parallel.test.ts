/**
 * The checker on worker threads: the same verdicts as in one thread, the first failing
 * key stopping the rest, workers that die reported as `unknown` with the reason, and
 * models sent by name or by origin.
 */
import fs, { mkdtempSync, readFileSync } from 'node:fs';
import os, { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import workerThreads from 'node:worker_threads';
import { describe, expect, it, vi } from 'vitest';
import {
  checkLinearizability,
  checkLinearizabilityInParallel,
  HistoryError,
  linearizabilityLimits,
  type Model,
  type Operation,
  versionedKvModel,
} from '../../../src/testing/index.js';
import { ConfigError } from '../../../src/index.js';
import { absent, get, info, type KvOperation, ok, put, value, written } from './fixtures.js';
import {
  type CounterInput,
  counterModel,
  counterNamed,
  leakingModel,
  spinningModel,
  stringThrowingModel,
  throwingModel,
  throwingWhenSignalled,
  unclonableFailingAwayFrom,
  unclonableModel,
} from './worker-models.js';

/** 2^writers orders of unknown writes, none of which a read explains: far more work than any test waits for. */
function hardHistory(writers: number, key: string): KvOperation[] {
  const history: KvOperation[] = [];
  for (let i = 0; i < writers; i++) history.push(info(`c${i}`, put(`v${i}`), i, key));
  history.push(ok('r', get, 0, 2000, value('never', 1), key));
  return history;
}

const lostWrite = (key: string): KvOperation[] => [ok('a', put('1'), 0, 1, written(1), key), ok('b', get, 2, 3, absent, key)];
const fine = (key: string): KvOperation[] => [ok('a', put('1'), 0, 1, written(1), key), ok('b', get, 2, 3, value('1', 1), key)];

type CounterOperation = Operation<CounterInput, number | null>;
const add = (key: string, at: number, by: number): CounterOperation => ({
  client: 'a',
  key,
  input: { op: 'add', by },
  invokedAt: at,
  completedAt: at + 1,
  outcome: 'ok',
  output: null,
});
const read = (key: string, at: number, seen: number): CounterOperation => ({
  client: 'b',
  key,
  input: { op: 'read' },
  invokedAt: at,
  completedAt: at + 1,
  outcome: 'ok',
  output: seen,
});

/** Runs `body` with node:worker_threads' `Worker` replaced by what `replace` makes of it, then puts it back. */
async function withWorkerClass<T>(replace: (real: typeof workerThreads.Worker) => unknown, body: () => Promise<T>): Promise<T> {
  const real = workerThreads.Worker;
  Reflect.set(workerThreads, 'Worker', replace(real));
  try {
    return await body();
  } finally {
    Reflect.set(workerThreads, 'Worker', real);
  }
}

type WorkerArgs = ConstructorParameters<typeof workerThreads.Worker>;

/**
 * A `Worker` class that calls `made` for every worker it makes, with the options the
 * checker gave it; its first workers run `scripts` instead of the checker's (one each).
 */
function watched(
  made: (worker: workerThreads.Worker, options: WorkerArgs[1]) => void,
  scripts: readonly string[] = [],
): (real: typeof workerThreads.Worker) => unknown {
  let index = 0;
  return (Real) =>
    class extends Real {
      constructor(...args: WorkerArgs) {
        const script = scripts[index++];
        const [filename, options]: WorkerArgs = script === undefined ? args : [script, { eval: true }];
        super(filename, options);
        made(this, args[1]);
      }
    };
}

/**
 * Checks `history` under the default and under `'auto'`, with a head start whose clock
 * jumps 600 ms a reading (so a hard key outlasts it): each must find `key` failing in
 * this thread, saying why in `note`.
 */
async function failsHereUnderAuto<S, I, O>(history: Operation<I, O>[], model: Model<S, I, O>, key: string, note: RegExp): Promise<void> {
  for (const workers of [undefined, 'auto'] as const) {
    let readings = 0;
    const verdict = await checkLinearizabilityInParallel(history, model, {
      ...(workers === undefined ? {} : { workers }),
      now: () => readings++ * 600,
      timeBudgetMs: 1e9,
    });
    expect(verdict, String(workers)).toMatchObject({ result: 'not-linearizable', key, execution: { workers: 0 } });
    expect(verdict.execution.note, String(workers)).toMatch(note);
  }
}

/** The verdict without how it ran, to compare with checkLinearizability's. */
function withoutExecution<T extends { readonly execution: unknown }>(verdict: T): Omit<T, 'execution'> {
  const { execution: _, ...rest } = verdict;
  return rest;
}

describe('where the check runs', () => {
  it("checks in this thread first under 'auto', and starts no worker for a history that ends by then", async () => {
    const verdict = await checkLinearizabilityInParallel([...lostWrite('x'), ...fine('y')], versionedKvModel);
    expect(verdict).toMatchObject({ result: 'not-linearizable', key: 'x', execution: { workers: 0 } });
    expect(verdict.execution.note).toMatch(/finished in this thread within linearizabilityLimits.parallelAfterMs \(1000 ms\)/);
    expect((await checkLinearizabilityInParallel(fine('y'), versionedKvModel)).execution.note).toMatch(/one key/);
    expect((await checkLinearizabilityInParallel(fine('y'), versionedKvModel, { workers: 0 })).execution).toStrictEqual({ workers: 0 });
  });

  it("answers from this thread under 'auto' when every key ends in the head start, and draws that verdict's picture", async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'synod-parallel-')), 'check.html');
    const verdict = await checkLinearizabilityInParallel([...fine('x'), ...fine('y')], versionedKvModel, { visualize: file });
    expect(verdict).toMatchObject({ result: 'linearizable', execution: { workers: 0, note: expect.stringMatching(/finished in this thread/) } });
    expect(readFileSync(file, 'utf8')).toContain('linearizable');
  });

  it("starts no worker under 'auto' when the time budget is no longer than the head start: it was the whole check's", async () => {
    const verdict = await checkLinearizabilityInParallel([...hardHistory(40, 'x'), ...fine('y')], versionedKvModel, { timeBudgetMs: 300 });
    expect(verdict).toMatchObject({ result: 'unknown', reason: 'time budget', keys: ['x'], execution: { workers: 0 } });
  });

  it("checks in this thread under 'auto' on one core, and where node:worker_threads is missing (a browser)", async () => {
    const history = [...fine('x'), ...fine('y')];
    const oneCore = vi.spyOn(os, 'availableParallelism').mockReturnValue(1);
    try {
      expect((await checkLinearizabilityInParallel(history, versionedKvModel)).execution).toStrictEqual({
        workers: 0,
        note: 'one core: checked in this thread',
      });
    } finally {
      oneCore.mockRestore();
    }
    // No `process` at all: the plan is made before the first await, so it is taken away
    // for that long only (the test runner needs it).
    const processProperty = Object.getOwnPropertyDescriptor(globalThis, 'process')!;
    Reflect.deleteProperty(globalThis, 'process');
    let noProcess: ReturnType<typeof checkLinearizabilityInParallel<unknown, unknown, unknown>>;
    let noProcessAsked: ReturnType<typeof checkLinearizabilityInParallel<unknown, unknown, unknown>>;
    try {
      noProcess = checkLinearizabilityInParallel(history, versionedKvModel);
      noProcessAsked = checkLinearizabilityInParallel(history, versionedKvModel, { workers: 2 });
    } finally {
      Object.defineProperty(globalThis, 'process', processProperty);
    }
    expect((await noProcess).execution.note).toBe('workers needs node:worker_threads (Node 20.16 or later): checked in this thread');
    await expect(noProcessAsked).rejects.toMatchObject({ field: 'workers' });
    const builtins = Reflect.get(process, 'getBuiltinModule');
    Reflect.set(process, 'getBuiltinModule', undefined);
    try {
      expect((await checkLinearizabilityInParallel(history, versionedKvModel)).execution).toStrictEqual({
        workers: 0,
        note: 'workers needs node:worker_threads (Node 20.16 or later): checked in this thread',
      });
      await expect(checkLinearizabilityInParallel(history, versionedKvModel, { workers: 2 })).rejects.toMatchObject({ field: 'workers' });
    } finally {
      Reflect.set(process, 'getBuiltinModule', builtins);
    }
  });

  it("checks a history a worker cannot be sent in this thread under 'auto', and rejects it when workers were asked for", async () => {
    // A function in an operation: structured clone cannot copy it.
    const history = [...hardHistory(12, 'x'), ...fine('b')];
    Object.assign(history[0]!, { note: () => 'not copied' });
    const refused = checkLinearizabilityInParallel(history, versionedKvModel, { workers: 2 });
    await expect(refused).rejects.toThrow(ConfigError);
    await expect(refused).rejects.toMatchObject({ field: 'history', message: expect.stringMatching(/of key x cannot be copied to a worker thread/) });
    await failsHereUnderAuto(history, versionedKvModel, 'x', /^history of key x cannot be copied to a worker thread \(.+\): checked in this thread$/);
  }, 20_000);

  it('shrinks a failure only if asked to, in the head start and on workers alike', async () => {
    // The first put is not needed to show the failure: shrinking drops it.
    const history = [ok('z', put('0'), 0, 1, written(1), 'x'), ok('a', put('1'), 2, 3, written(2), 'x'), ok('b', get, 4, 5, absent, 'x'), ...fine('y')];
    const unshrunk = checkLinearizability(history, versionedKvModel, { shrink: false });
    expect(unshrunk).toMatchObject({ result: 'not-linearizable', shrinkComplete: false });
    expect(checkLinearizability(history, versionedKvModel)).not.toEqual(unshrunk);
    for (const workers of ['auto', 2] as const)
      expect(withoutExecution(await checkLinearizabilityInParallel(history, versionedKvModel, { workers, shrink: false })), String(workers)).toEqual(unshrunk);
  });

  it.skipIf(availableParallelism() < 2)("hands a key cut short by the head start to a worker, which finds it failing: the report is the caller's", async () => {
    // A clock that jumps 600 ms at each reading ends the head start at its second reading
    // (2,048 steps): 'a' ends in it, 'x' (4,096 orders of 12 unknown writes) is cut, and
    // 'b' is not reached; both go to workers, where 'x' is the first key of two and
    // 'b' the second (their indexes there are not their indexes here).
    // The clock starts far from 0, and the budget left to the workers is the check's less the head start's 1.2 s.
    let readings = 0;
    const now = (): number => 1e9 + readings++ * 600;
    const history = [...fine('a'), ...hardHistory(12, 'x'), ...fine('b')];
    const verdict = await checkLinearizabilityInParallel(history, versionedKvModel, { now, timeBudgetMs: 120_000 });
    expect(verdict.execution).toEqual({ workers: 2 });
    const alone = checkLinearizability(hardHistory(12, 'x'), versionedKvModel);
    expect(withoutExecution(verdict)).toEqual(alone);
    if (verdict.result === 'not-linearizable') for (const operation of [...verdict.minimal, verdict.explanation.stuck]) expect(history).toContain(operation);
  });

  it("hands the keys not finished in this thread to workers under 'auto'", async () => {
    // The hard key outlasts the head start; the fine key ends in it.
    const timeBudgetMs = linearizabilityLimits.parallelAfterMs + 500;
    const verdict = await checkLinearizabilityInParallel([...hardHistory(40, 'x'), ...fine('y')], versionedKvModel, { timeBudgetMs });
    expect(verdict).toMatchObject({ result: 'unknown', reason: 'time budget', keys: ['x'] });
    if (availableParallelism() < 2) expect(verdict.execution.note).toMatch(/one core/);
    else expect(verdict.execution).toEqual({ workers: 1 });
  });

  it("gives each worker its share of the memory bound, a heap for it and its copy of the keys, and the time the head start left under 'auto'", async () => {
    const given: WorkerArgs[1][] = [];
    // Two keys that outlast a head start whose clock jumps 600 ms a reading; one holds a
    // value of 200 kB, so the heap a worker gets for its copy of the keys is over 1 MiB.
    const history = [...hardHistory(12, 'x'), info('big', put('v'.repeat(200_000)), 0, 'x'), ...hardHistory(12, 'y')];
    const memoryBytesMax = 64 * 1024 * 1024;
    const timeBudgetMs = 1e9;
    let readings = 0;
    const twoCores = vi.spyOn(os, 'availableParallelism').mockReturnValue(2);
    try {
      await withWorkerClass(
        watched((_, options) => given.push(options)),
        () => checkLinearizabilityInParallel(history, versionedKvModel, { memoryBytesMax, timeBudgetMs, now: () => readings++ * 600 }),
      );
    } finally {
      twoCores.mockRestore();
    }
    expect(given).toHaveLength(2);
    for (const options of given) {
      const input = options?.workerData as { memoryBytesMax: number; timeBudgetMs: number; partitions: SharedArrayBuffer };
      expect(input.memoryBytesMax).toBe(memoryBytesMax / 2);
      const historyHeap = input.partitions.byteLength * linearizabilityLimits.workerHeapBytesPerHistoryByte;
      expect(historyHeap).toBeGreaterThan(1024 * 1024);
      const heap = memoryBytesMax / 2 + linearizabilityLimits.workerHeapBytesBase + historyHeap;
      expect(options?.resourceLimits?.maxOldGenerationSizeMb).toBe(Math.ceil(heap / (1024 * 1024)));
      // The head start took at least one jump of its clock, and far less than a minute.
      expect(input.timeBudgetMs).toBeLessThanOrEqual(timeBudgetMs - 600);
      expect(input.timeBudgetMs).toBeGreaterThan(timeBudgetMs - 60_000);
    }
  }, 20_000);

  it('answers a history with no key to check (every operation failed) without starting a worker', async () => {
    // Found by the property test: with no key, no worker was started and the promise never settled.
    const history: KvOperation[] = [{ client: 'c', key: 'k', input: get, invokedAt: 0, completedAt: 1, outcome: 'fail' }];
    expect(await checkLinearizabilityInParallel(history, versionedKvModel, { workers: 2 })).toEqual({ result: 'linearizable', execution: { workers: 0 } });
  });

  it('rejects a malformed history with HistoryError, and draws the picture of a check run on workers', async () => {
    const malformed = [{ ...fine('x')[0]!, completedAt: -1 }];
    await expect(checkLinearizabilityInParallel(malformed, versionedKvModel, { workers: 2 })).rejects.toThrow(HistoryError);
    const file = join(mkdtempSync(join(tmpdir(), 'synod-parallel-')), 'check.html');
    const verdict = await checkLinearizabilityInParallel([...lostWrite('x'), ...fine('y')], versionedKvModel, { workers: 2, visualize: file });
    expect(verdict).toMatchObject({ result: 'not-linearizable', key: 'x', execution: { workers: 2 } });
    expect(readFileSync(file, 'utf8')).toContain('not linearizable: key x');
  });

  it('refuses a workers value that is not a count', async () => {
    for (const workers of [-1, 1.5, Number.NaN]) {
      await expect(checkLinearizabilityInParallel(fine('y'), versionedKvModel, { workers })).rejects.toThrow(ConfigError);
    }
    await expect(checkLinearizabilityInParallel(fine('y'), versionedKvModel, { workers: -1 })).rejects.toThrow(/`workers` must be 'auto' or an integer/);
  });

  it("falls back to this thread under 'auto' for a model a worker cannot load, and rejects when workers were asked for", async () => {
    // A copy of a built-in model is not the built-in model: a worker would check another one.
    const { readOnly: _, ...copy } = versionedKvModel;
    const verdict = await checkLinearizabilityInParallel([...fine('x'), ...fine('y')], copy);
    expect(verdict).toMatchObject({ result: 'linearizable', execution: { workers: 0 } });
    expect(verdict.execution.note).toMatch(/model 'versioned-kv' is neither a built-in model nor has an `origin`/);
    const refused = checkLinearizabilityInParallel(fine('y'), copy, { workers: 2 });
    await expect(refused).rejects.toThrow(ConfigError);
    await expect(refused).rejects.toMatchObject({ field: 'model' });
  });

  it('rejects an origin a worker cannot load, naming what is wrong', async () => {
    const history = [add('c', 0, 1), read('c', 2, 1), add('d', 0, 1)];
    const renamed: Model<number, CounterInput, number | null> = { ...counterModel, name: 'other' };
    await expect(checkLinearizabilityInParallel(history, renamed, { workers: 1 })).rejects.toThrow(/is model 'counter', not 'other'/);
    const missing: Model<number, CounterInput, number | null> = { ...counterModel, origin: { module: counterModel.origin!.module, export: 'nothing' } };
    await expect(checkLinearizabilityInParallel(history, missing, { workers: 1 })).rejects.toThrow(/has no export 'nothing'/);
    const relative: Model<number, CounterInput, number | null> = { ...counterModel, origin: { module: './worker-models.js', export: 'counterModel' } };
    await expect(checkLinearizabilityInParallel(history, relative, { workers: 1 })).rejects.toThrow(/absolute file path or a file: URL/);
  });

  it("falls back to this thread under 'auto' when the workers cannot load the model's origin", async () => {
    // 2^12 sets of unknown adds, none of which makes -1: 'x' outlasts a head start whose clock jumps 600 ms a reading.
    const adds = Array.from(
      { length: 12 },
      (_, i): CounterOperation => ({ client: `c${i}`, key: 'x', input: { op: 'add', by: 2 ** i }, invokedAt: 0, outcome: 'info' }),
    );
    const history = [...adds, { ...read('x', 5, -1), client: 'r' }, add('y', 0, 1)];
    const missing: Model<number, CounterInput, number | null> = { ...counterModel, origin: { module: counterModel.origin!.module, export: 'nothing' } };
    await failsHereUnderAuto(history, missing, 'x', /^a worker thread could not load the model \(.*has no export 'nothing'.*\): checked in this thread$/);
  }, 20_000);
});

describe("a user's model, loaded by workers from its origin", () => {
  it('gives the verdicts of one thread, naming the caller’s operations', async () => {
    const good = [add('c', 0, 1), add('c', 0, 2), read('c', 4, 3), add('d', 0, 5), read('d', 2, 5)];
    const bad = [add('c', 0, 1), read('c', 2, 1), add('d', 0, 5), read('d', 2, 4)];
    expect(withoutExecution(await checkLinearizabilityInParallel(good, counterModel, { workers: 2 }))).toEqual(checkLinearizability(good, counterModel));
    const verdict = await checkLinearizabilityInParallel(bad, counterModel, { workers: 2 });
    expect(verdict.execution).toEqual({ workers: 2 });
    expect(withoutExecution(verdict)).toEqual(checkLinearizability(bad, counterModel));
    if (verdict.result === 'not-linearizable') expect(verdict.explanation.stuck).toBe(bad[3]);
  });

  it('builds the model by a factory export called with origin.args', async () => {
    const model = counterNamed('counter-7');
    const bad = [add('c', 0, 1), read('c', 2, 2), add('d', 0, 1)];
    expect(await checkLinearizabilityInParallel(bad, model, { workers: 2 })).toMatchObject({ result: 'not-linearizable', key: 'c', execution: { workers: 2 } });
  });

  it('sends back a failure whose model states cannot be copied by finding it again in this thread', async () => {
    const bad = [add('c', 0, 1), read('c', 2, 2), add('d', 0, 1)];
    const verdict = await checkLinearizabilityInParallel(bad, unclonableModel, { workers: 2 });
    expect(verdict.execution.workers).toBe(2);
    expect(verdict.result).toBe('not-linearizable');
    if (verdict.result === 'not-linearizable') expect(verdict.explanation.states[0]?.show()).toBe('1');
    // Found again with the caller's options: not shrunk when asked not to.
    const longer = [add('c', 0, 1), add('c', 0, 2), read('c', 4, 2), add('d', 0, 1)];
    const unshrunk = await checkLinearizabilityInParallel(longer, unclonableModel, { workers: 2, shrink: false });
    expect(unshrunk).toMatchObject({ result: 'not-linearizable', key: 'c', shrinkComplete: false, minimal: longer.slice(0, 3) });
  });

  it("keeps a worker's failure, without its states, when this thread's search does not find it again", async () => {
    // Standing in for a search here that ends on its memory bound: this model fails only on other threads than this one.
    const bad = [add('c', 0, 1), read('c', 2, 1), add('d', 0, 1)];
    const model = unclonableFailingAwayFrom(workerThreads.threadId);
    expect(checkLinearizability(bad, model).result).toBe('linearizable');
    const verdict = await checkLinearizabilityInParallel(bad, model, { workers: 2 });
    expect(verdict).toMatchObject({ result: 'not-linearizable', key: 'c', explanation: { states: [] } });
    if (verdict.result === 'not-linearizable') expect(verdict.minimal).toContain(bad[1]);
  });
});

describe('the first failing key stops the others', () => {
  it('answers while a hard key is still searched, and stops that search', async () => {
    // Alone, the hard key outlasts a budget: it is hard indeed.
    expect(await checkLinearizabilityInParallel(hardHistory(40, 'x'), versionedKvModel, { workers: 1, timeBudgetMs: 300 })).toMatchObject({
      result: 'unknown',
      reason: 'time budget',
      keys: ['x'],
    });
    // With a failing key beside it and two minutes of budget, the answer comes at once:
    // the promise resolves only once every worker has exited, so the search of the hard
    // key was stopped (by terminating its worker, or, when one worker took both keys, by
    // the failure ending that worker). The next test pins the termination down.
    const verdict = await checkLinearizabilityInParallel([...hardHistory(40, 'x'), ...lostWrite('y')], versionedKvModel, { workers: 2, timeBudgetMs: 120_000 });
    expect(verdict).toMatchObject({ result: 'not-linearizable', key: 'y', execution: { workers: 2 } });
  }, 20_000);

  it('terminates a worker stuck in a key: the failing key is found by the other, and the promise waits for both to exit', async () => {
    // The first worker takes 'stuck' first and never returns from its step, so 'bad' is
    // found by the second; only terminating the first lets the promise resolve before the
    // two minutes of the time budget (and this test's timeout).
    const history = [add('stuck', 0, 13), add('bad', 0, 1), read('bad', 2, 5)];
    const verdict = await checkLinearizabilityInParallel(history, spinningModel, { workers: 2, timeBudgetMs: 120_000 });
    expect(verdict).toMatchObject({ result: 'not-linearizable', key: 'bad', execution: { workers: 2 } });
  }, 20_000);

  it('takes a time budget past what a timer holds (2^31 - 1 ms) as that long, not as at once', async () => {
    // Node fires a setTimeout of more than 2^31 - 1 ms after 1 ms: the watchdog stopped every worker at once.
    for (const timeBudgetMs of [2 ** 31, Number.POSITIVE_INFINITY]) {
      const history = [...hardHistory(10, 'x'), ...fine('y'), ...fine('z')];
      expect(await checkLinearizabilityInParallel(history, versionedKvModel, { workers: 2, timeBudgetMs })).toMatchObject({
        result: 'not-linearizable',
        key: 'x',
      });
    }
  });

  it('stops a worker stuck in a key once the time budget and a grace period are over', async () => {
    const history = [add('stuck', 0, 13), add('fine', 0, 1), read('fine', 2, 1)];
    const verdict = await checkLinearizabilityInParallel(history, spinningModel, { workers: 2, timeBudgetMs: 100 });
    expect(verdict).toMatchObject({ result: 'unknown', reason: 'time budget' });
    // 'fine' ends within the 100 ms on a quiet machine; on a loaded one its worker may not
    // have started by then, and it is unknown too. 'stuck' never ends: the watchdog stopped it.
    if (verdict.result === 'unknown') expect(verdict.keys).toContain('stuck');
  });

  it("leaves the workers the step budget the head start did not take, under 'auto'", async () => {
    // The head start's clock jumps 600 ms a reading: it ends at its second, after 2,048 steps, with both keys cut short.
    let readings = 0;
    const stepsMax = 6_000;
    const history = [...hardHistory(30, 'x'), ...hardHistory(30, 'y')];
    const verdict = await checkLinearizabilityInParallel(history, versionedKvModel, { now: () => readings++ * 600, timeBudgetMs: 1e9, stepsMax });
    expect(verdict).toMatchObject({ result: 'unknown', reason: 'step budget', keys: ['x', 'y'] });
    if (verdict.result !== 'unknown') return;
    if (availableParallelism() >= 2) expect(verdict.execution.workers).toBe(2);
    const steps = Number(/after (\d+) steps/.exec(verdict.detail)?.[1]);
    expect(steps).toBeGreaterThan(stepsMax / 2);
    expect(steps).toBeLessThanOrEqual(stepsMax + 2 * linearizabilityLimits.stepsPerClockRead);
  });

  it('names the step budget for the keys no worker took before it was spent', async () => {
    // One worker, a budget smaller than one turn: the first key spends it, and the others are never taken.
    const verdict = await checkLinearizabilityInParallel([...hardHistory(30, 'x'), ...fine('y'), ...fine('z')], versionedKvModel, {
      workers: 1,
      stepsMax: 100,
    });
    expect(verdict).toMatchObject({ result: 'unknown', reason: 'step budget', keys: ['x', 'y', 'z'], execution: { workers: 1 } });
    // No worker failed: the budget alone is named.
    if (verdict.result === 'unknown')
      expect(verdict.detail).toMatch(
        /^the step budget of the check \(stepsMax 100\) ran out before 3 of 3 keys were finished \(x, y, z\) after \d+ steps; no key failed$/,
      );
  });

  it('starts as many workers as it reports, never more than there are keys', async () => {
    let started = 0;
    await withWorkerClass(
      watched(() => started++),
      async () => {
        const history = [...fine('x'), ...fine('y'), ...fine('z')];
        for (const [workers, expected] of [
          [2, 2],
          [5, 3],
        ] as const) {
          started = 0;
          expect((await checkLinearizabilityInParallel(history, versionedKvModel, { workers })).execution).toStrictEqual({ workers: expected });
          expect(started).toBe(expected);
        }
      },
    );
  });

  it('starts no other worker once a key failed, though keys are left', async () => {
    let started = 0;
    // One worker takes 'a' first and finds it failing; 'b' to 'e' are never taken.
    const history = [...lostWrite('a'), ...fine('b'), ...fine('c'), ...fine('d'), ...fine('e')];
    const verdict = await withWorkerClass(
      watched(() => started++),
      () => checkLinearizabilityInParallel(history, versionedKvModel, { workers: 1 }),
    );
    expect(verdict).toMatchObject({ result: 'not-linearizable', key: 'a' });
    expect(started).toBe(1);
  });

  it("checks in this thread under 'auto' when the worker's entry is missing (synod/testing bundled elsewhere), and rejects when workers were asked for", async () => {
    const exists = vi.spyOn(fs, 'existsSync').mockReturnValue(false);
    try {
      const history = [...fine('x'), ...fine('y')];
      const verdict = await checkLinearizabilityInParallel(history, versionedKvModel);
      expect(verdict.execution.note).toMatch(
        /^workers needs the worker entry file:.*linearizability-worker\.ts, which is missing \(is synod\/testing bundled into another file\?\): checked in this thread$/,
      );
      await expect(checkLinearizabilityInParallel(history, versionedKvModel, { workers: 2 })).rejects.toMatchObject({ field: 'workers' });
    } finally {
      exists.mockRestore();
    }
  });

  it("checks in this thread under 'auto' when a worker cannot start, and rejects when workers were asked for", async () => {
    const cannotStart = () =>
      class {
        constructor() {
          throw new Error('no threads left');
        }
      };
    await withWorkerClass(cannotStart, async () => {
      const history = [...hardHistory(12, 'x'), ...fine('y')];
      await expect(checkLinearizabilityInParallel(history, versionedKvModel, { workers: 2 })).rejects.toMatchObject({
        field: 'model',
        message: expect.stringMatching(/a worker thread could not start \(no threads left\)/),
      });
      await failsHereUnderAuto(
        history,
        versionedKvModel,
        'x',
        /^a worker thread could not load the model \(a worker thread could not start \(no threads left\)\)/,
      );
    });
  }, 20_000);

  it('names the time budget for a stuck key and for the keys no worker took before the watchdog', async () => {
    // One worker, stuck in its first key: the watchdog stops it, and 'b' and 'c' were never taken.
    const history = [add('stuck', 0, 13), add('b', 0, 1), read('b', 2, 1), add('c', 0, 1), read('c', 2, 1)];
    const started = performance.now();
    const verdict = await checkLinearizabilityInParallel(history, spinningModel, { workers: 1, timeBudgetMs: 100 });
    expect(verdict).toMatchObject({ result: 'unknown', reason: 'time budget', keys: ['stuck', 'b', 'c'] });
    if (verdict.result === 'unknown') expect(verdict.detail).not.toMatch(/worker/);
    // Not before the budget and the grace a worker has to notice it are over.
    expect(performance.now() - started).toBeGreaterThanOrEqual(100 + linearizabilityLimits.workerGraceMs - 5);
  });

  it("names the memory bound of the check and each worker's share when the keys run out of theirs", async () => {
    const verdict = await checkLinearizabilityInParallel([...hardHistory(30, 'x'), ...hardHistory(30, 'y')], versionedKvModel, {
      workers: 2,
      memoryBytesMax: 64 * 1024,
    });
    expect(verdict).toMatchObject({ result: 'unknown', reason: 'memory bound', keys: ['x', 'y'] });
    if (verdict.result === 'unknown')
      expect(verdict.detail).toMatch(/^the memory bound \(memoryBytesMax 65536 bytes, 32768 per worker\) ran out before 2 of 2 keys/);
  });

  it("names a key's own step budget, not the check's, for a key that spent it on a worker", async () => {
    const verdict = await checkLinearizabilityInParallel([...hardHistory(30, 'x'), ...fine('y')], versionedKvModel, { workers: 2, partitionStepsMax: 500 });
    expect(verdict).toMatchObject({ result: 'unknown', reason: 'step budget', keys: ['x'] });
    if (verdict.result === 'unknown') expect(verdict.detail).toMatch(/^the step budget of a key \(partitionStepsMax 500\) ran out before 1 of 2 keys/);
  });

  it('shares the step budget of the check between the workers', async () => {
    const stepsMax = 200_000;
    const verdict = await checkLinearizabilityInParallel([...hardHistory(30, 'x'), ...hardHistory(30, 'y')], versionedKvModel, { workers: 2, stepsMax });
    expect(verdict).toMatchObject({ result: 'unknown', reason: 'step budget', keys: ['x', 'y'] });
    if (verdict.result !== 'unknown') return;
    expect(verdict.detail).toContain(`the step budget of the check (stepsMax ${stepsMax})`);
    const steps = Number(/after (\d+) steps/.exec(verdict.detail)?.[1]);
    // Counted in blocks across the workers: at most a block over per worker.
    expect(steps).toBeGreaterThan(stepsMax / 2);
    expect(steps).toBeLessThanOrEqual(stepsMax + 2 * linearizabilityLimits.stepsPerClockRead);
  });
});

describe('a worker that dies', () => {
  it("leaves its keys unknown ('worker failed') with the model's error, and the others are finished", async () => {
    const history = [add('c', 0, 1), read('c', 2, 1), add('boom', 0, 13), add('d', 0, 2), read('d', 2, 2)];
    const verdict = await checkLinearizabilityInParallel(history, throwingModel, { workers: 2 });
    expect(verdict).toMatchObject({ result: 'unknown', reason: 'worker failed', keys: ['boom'], execution: { workers: 2 } });
    // The error on one line: its name, its message, and the first frame of its stack.
    if (verdict.result === 'unknown')
      expect(verdict.detail).toMatch(
        /a worker thread failed \(Error: the model cannot add 13 \(at Object\.step \([^()\n]*worker-models\.ts:\d+:\d+\)\)\) before/,
      );
    // Something else than an Error reaches the thread as Node's own error (an unhandled rejection), naming it.
    const thrown = await checkLinearizabilityInParallel([add('boom', 0, 13), add('d', 0, 2)], stringThrowingModel, { workers: 2 });
    if (thrown.result === 'unknown') expect(thrown.detail).toMatch(/^a worker thread failed \(UnhandledPromiseRejection: .*the reason "thirteen"/);
    else expect.unreachable(thrown.result);
    // A failing key still wins.
    const failing = [...history, add('e', 0, 1), read('e', 2, 5)];
    expect(await checkLinearizabilityInParallel(failing, throwingModel, { workers: 1 })).toMatchObject({ result: 'not-linearizable', key: 'e' });
  });

  it('replaces no worker that died before taking a key, and names the first that failed for the keys nobody took', async () => {
    // The workers die at once (they run these scripts instead of the checker's): the
    // first exits with code 0, as a finished worker does, but before it said so.
    const history = [...fine('x'), ...fine('y')];
    for (const [scripts, failure] of [
      [['process.exit(0)', 'process.exit(7)'], 'a worker exited with code 7 before its keys were finished'],
      [['process.exit(0)', "throw new Error('no model today')"], 'Error: no model today'],
    ] as const) {
      let started = 0;
      const verdict = await withWorkerClass(
        watched(() => started++, scripts),
        () => checkLinearizabilityInParallel(history, versionedKvModel, { workers: 2 }),
      );
      expect(started).toBe(2);
      expect(verdict).toMatchObject({ result: 'unknown', reason: 'worker failed', keys: ['x', 'y'], execution: { workers: 2 } });
      if (verdict.result === 'unknown') expect(verdict.detail).toContain(`a worker thread failed (${failure}`);
    }
  });

  it('replaces no worker that died on a key once the step budget is spent', async () => {
    // One worker blocks in 'late'; the other spends the step budget on 'x' and finishes
    // ('y' and 'z' are never taken). Only then, told by the test, does 'late' throw.
    const signal = new SharedArrayBuffer(4);
    const flag = new Int32Array(signal);
    const adds = Array.from(
      { length: 16 },
      (_, i): CounterOperation => ({ client: `c${i}`, key: 'x', input: { op: 'add', by: 2 ** i }, invokedAt: 0, outcome: 'info' }),
    );
    const history = [add('late', 0, 13), ...adds, { ...read('x', 5, -1), client: 'r' }, add('y', 0, 1), add('z', 0, 1)];
    let started = 0;
    const onSpent = (worker: workerThreads.Worker): void => {
      worker.on('message', (message: { type: string; spentOn?: string }) => {
        if (message.type !== 'finished' || message.spentOn === undefined) return;
        Atomics.store(flag, 0, 1);
        Atomics.notify(flag, 0);
      });
    };
    const verdict = await withWorkerClass(
      watched((worker) => {
        started++;
        onSpent(worker);
      }),
      () => checkLinearizabilityInParallel(history, throwingWhenSignalled(signal), { workers: 2, stepsMax: 100 }),
    );
    expect(started).toBe(2);
    expect(verdict).toMatchObject({ result: 'unknown', reason: 'step budget', keys: ['late', 'x', 'y', 'z'] });
    if (verdict.result === 'unknown') expect(verdict.detail).toMatch(/a worker thread failed too \(Error: the model cannot add 13/);
  }, 30_000);

  it("leaves its keys unknown ('memory bound') when it runs out of its heap", async () => {
    const history = [add('c', 0, 1), read('c', 2, 1), add('leak', 0, 13)];
    const verdict = await checkLinearizabilityInParallel(history, leakingModel, { workers: 1, memoryBytesMax: 1024 * 1024 });
    expect(verdict).toMatchObject({ result: 'unknown', reason: 'memory bound', keys: ['leak'] });
    if (verdict.result === 'unknown') expect(verdict.detail).toMatch(/ran out of its heap/);
  });
});
