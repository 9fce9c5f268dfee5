/**
 * A worker's loop, run in the test's thread: it takes keys from the shared queue,
 * reports each as it takes and ends it, stops at the first failure, and says why it
 * stopped. On a worker thread neither coverage nor mutation testing would see it.
 */
import { fileURLToPath } from 'node:url';
import { serialize } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { linearizabilityLimits, versionedKvModel } from '../../../src/testing/index.js';
import { describeModel, type ModelDescriptor } from '../../../src/testing/linearizability/model-origin.js';
import { runWorker } from '../../../src/testing/linearizability/worker-loop.js';
import type { WorkerInput, WorkerMessage } from '../../../src/testing/linearizability/worker-protocol.js';
import { get, info, type KvOperation, ok, put, value, written } from './fixtures.js';
import { throwingModel, unclonableModel } from './worker-models.js';

/** The worker's orders for `keys`, as the checker lays them out. */
function inputFor(model: ModelDescriptor, keys: readonly (readonly [string, readonly unknown[]])[], options: Partial<WorkerInput> = {}): WorkerInput {
  const parts = keys.map((key) => serialize(key));
  const offsets = [0];
  for (const part of parts) offsets.push(offsets[offsets.length - 1]! + part.length);
  const partitions = new SharedArrayBuffer(offsets[offsets.length - 1]!);
  parts.forEach((part, i) => new Uint8Array(partitions).set(part, offsets[i]!));
  return {
    model,
    partitions,
    offsets,
    control: new SharedArrayBuffer(8),
    timeBudgetMs: Number.POSITIVE_INFINITY,
    stepsMax: Number.MAX_SAFE_INTEGER,
    partitionStepsMax: Number.MAX_SAFE_INTEGER,
    memoryBytesMax: 64 * 1024 * 1024,
    shrink: true,
    ...options,
  };
}

async function run(input: WorkerInput, post?: (message: WorkerMessage) => void): Promise<WorkerMessage[]> {
  const messages: WorkerMessage[] = [];
  await runWorker(input, (message) => {
    post?.(message);
    messages.push(message);
  });
  return messages;
}

const kv = describeModel(versionedKvModel) as ModelDescriptor;
const good = (key: string): KvOperation[] => [ok('a', put('1'), 0, 1, written(1), key), ok('b', get, 2, 3, value('1', 1), key)];
const bad = (key: string): KvOperation[] => [ok('a', put('1'), 0, 1, written(1), key), ok('b', get, 2, 3, value('2', 1), key)];
/** Unknown writes and an impossible read: a key of many search steps, which fails. */
const hard: KvOperation[] = [...Array.from({ length: 12 }, (_, i) => info(`w${i}`, put(`v${i}`), i, 'h')), ok('r', get, 0, 2_000, value('never', 1), 'h')];
/** A counter's key `c`: an add of `by`, then a read that saw `read`. */
const addThenRead = (by: number, read: number) => [
  { client: 'a', key: 'c', input: { op: 'add', by }, invokedAt: 0, completedAt: 1, outcome: 'ok', output: null },
  { client: 'b', key: 'c', input: { op: 'read' }, invokedAt: 2, completedAt: 3, outcome: 'ok', output: read },
];

describe('a worker', () => {
  it('takes every key of the queue, ends each, and says it finished with the steps it took', async () => {
    const messages = await run(
      inputFor(kv, [
        ['x', good('x')],
        ['y', good('y')],
      ]),
    );
    // One key taken at a time, the next only after a turn: the others may take the rest meanwhile.
    expect(messages.map((m) => m.type)).toEqual(['took', 'ended', 'took', 'ended', 'finished']);
    expect(messages.filter((m) => m.type === 'took').map((m) => m.type === 'took' && m.index)).toEqual([0, 1]);
    // A key finished and a check not cut short say nothing of why they stopped.
    for (const m of messages) expect(Object.keys(m)).not.toContain(m.type === 'ended' ? 'unknown' : 'spentOn');
    const ended = messages.filter((m) => m.type === 'ended');
    expect(ended.map((m) => m.type === 'ended' && [m.index, m.unknown])).toEqual([
      [0, undefined],
      [1, undefined],
    ]);
    const last = messages[messages.length - 1]!;
    expect(last.type).toBe('finished');
    expect(last.type === 'finished' && last.steps).toBeGreaterThan(0);
    expect(last.type === 'finished' && last.spentOn).toBeUndefined();
    expect(last.type === 'finished' && last.steps).toBe(ended[1]!.type === 'ended' && ended[1]!.steps);
  });

  it('takes only the keys the other workers left: the queue is shared', async () => {
    const input = inputFor(kv, [
      ['x', good('x')],
      ['y', good('y')],
      ['z', good('z')],
    ]);
    new Int32Array(input.control)[0] = 2; // two keys taken elsewhere
    const messages = await run(input);
    expect(messages.map((m) => m.type)).toEqual(['took', 'ended', 'finished']);
    expect(messages[0]).toEqual({ type: 'took', index: 2 });
    expect(new Int32Array(input.control)[0]).toBe(4);
  });

  it('stops at the first key that fails, sending the failure by operation indexes', async () => {
    const messages = await run(
      inputFor(kv, [
        ['x', bad('x')],
        ['y', good('y')],
      ]),
    );
    const failed = messages.find((m) => m.type === 'failed');
    expect(failed?.type === 'failed' && failed.index).toBe(0);
    expect(failed?.type === 'failed' && failed.failure.stuck).toBe(1);
    expect(failed?.type === 'failed' && failed.failure.minimal).toEqual([1]); // the read of a value never written fails alone
    expect(failed?.type === 'failed' && failed.statesLost).toBeUndefined();
    expect(messages.some((m) => m.type === 'finished')).toBe(false);
    expect(messages[messages.length - 1]).toBe(failed);
  });

  it('sends a failure without states and candidates when they cannot be copied, and says so', async () => {
    // The post of a worker thread throws DataCloneError on what structured clone cannot copy.
    const post = (message: WorkerMessage): void => {
      if (message.type === 'failed' && message.statesLost !== true) throw new Error('DataCloneError: () => {} could not be cloned');
    };
    const counter = describeModel(unclonableModel) as ModelDescriptor;
    const messages = await run(inputFor(counter, [['c', addThenRead(1, 5)]]), post);
    const failed = messages.find((m) => m.type === 'failed');
    expect(failed?.type === 'failed' && failed.statesLost).toBe(true);
    expect(failed?.type === 'failed' && [failed.failure.states, failed.failure.candidates]).toEqual([[], []]);
    expect(failed?.type === 'failed' && failed.failure.stuck).toBe(1);
  });

  it('says which budget it spent, leaving the keys it could not finish unknown', async () => {
    const messages = await run(inputFor(kv, [['h', hard]], { stepsMax: 1_000 }));
    expect(messages.find((m) => m.type === 'ended')).toMatchObject({ type: 'ended', index: 0, unknown: 'step budget' });
    expect(messages[messages.length - 1]).toMatchObject({ type: 'finished', spentOn: 'step budget' });
  });

  it("counts its steps with the other workers: the step budget is the whole check's", async () => {
    const stepsMax = 1_000 * linearizabilityLimits.stepsPerClockRead;
    // Alone, the budget is enough to find the key fails.
    const alone = await run(inputFor(kv, [['h', hard]], { stepsMax }));
    expect(alone[alone.length - 1]!.type).toBe('failed');
    // With the other workers' steps (the shared count, in blocks) at the budget, it is spent at once.
    const input = inputFor(kv, [['h', hard]], { stepsMax });
    new Int32Array(input.control)[1] = 1_000;
    const shared = await run(input);
    expect(shared[shared.length - 1]).toMatchObject({ type: 'finished', spentOn: 'step budget' });
  });

  it('spends its time budget by the clock, leaving the key it could not finish unknown', async () => {
    const messages = await run(inputFor(kv, [['h', hard]], { timeBudgetMs: 0 }));
    expect(messages.find((m) => m.type === 'ended')).toMatchObject({ type: 'ended', index: 0, unknown: 'time budget' });
    expect(messages[messages.length - 1]).toMatchObject({ type: 'finished', spentOn: 'time budget' });
  });

  it("loads a user's model from a module given by its path, as from a file URL", async () => {
    const module = fileURLToPath(new URL('./worker-models.ts', import.meta.url));
    const counter = { origin: { module, export: 'counterModel' }, name: 'counter' };
    const messages = await run(inputFor(counter, [['c', addThenRead(2, 2)]]));
    expect(messages.map((m) => m.type)).toEqual(['took', 'ended', 'finished']);
  });

  it('tells the checker the model cannot be loaded, and checks nothing', async () => {
    const messages = await run(inputFor({ builtin: 'no-such-model' }, [['x', good('x')]]));
    expect(messages).toHaveLength(1);
    expect(messages[0]!.type).toBe('unloadable');
    expect(messages[0]!.type === 'unloadable' && messages[0]!.message).toMatch(/no-such-model/);
  });

  it("rejects when the model throws while searching: on a worker thread, the thread's error", async () => {
    const adder = describeModel(throwingModel) as ModelDescriptor;
    await expect(runWorker(inputFor(adder, [['c', addThenRead(13, 13)]]), () => {})).rejects.toThrow('the model cannot add 13');
  });
});
